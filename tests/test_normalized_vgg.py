"""The normalised VGG (nst_numpy.normalize, ``load_vgg19(normalized=True)``).

Most checks use a float64 VGG19 with random weights (:func:`nst_numpy.vgg.random_weights`)
normalised over the four shipped images at 32 px: a few milliseconds per forward pass, and
at that size several channels of blocks 3-5 are dead on those images, so the scale-1 rule
for dead channels is exercised too. The image the network is then *tested* on is uniform
noise of another size, not one of the normalisation images.

Tolerances, float64. The normalised network computes each conv as a sum of up to
9 * 512 products whose factors have been rescaled, so it differs from "original / m" by
round-off only: measured <= 2e-14 of a layer's largest activation through all 16 convs
(and ~1e-15 for the image gradient). The tests allow 1e-12 of the layer's largest value
(a margin of ~50); a wrong factor on any channel whose activations are not negligible
(> 1e-12 of the layer's largest) fails.

The shipped network stores its normalised kernels in float32, as the file's kernels are
(dtype follows the input), so there each weight carries a relative rounding of up to
2^-24 ~ 6e-8: the measured difference from "original / m" is ~6e-8 of a layer's largest
activation and the relu means differ from 1 by <= 3e-6; the tests allow 1e-6 and 1e-5.
A random-weight VGG16 file, also float32, cancels more in its sums: measured ~1e-6,
allowed 1e-5.
"""

import functools

import numpy as np
import pytest

from nst_numpy import load_vgg, load_vgg16, load_vgg19
from nst_numpy import models
from nst_numpy import normalize as N
from nst_numpy.fast import FastVGG
from nst_numpy.gradcheck import check_gradient
from nst_numpy.vgg import VGG, layer_names, random_weights

SMALL_SIZE = 32            # normalisation images of the random network: longest side, px
TOL_FLOAT64 = 1e-12        # of a layer's largest activation (module docstring)
TOL_SHIPPED = 1e-6         # the same, with the shipped float32-stored normalised kernels
TOL_FLOAT32_WEIGHTS = 1e-5  # the same, float32 kernels from random weights (more cancellation)


def noise_image(shape=(3, 37, 45), seed=1, dtype=np.float64):
    """Uniform noise over the preprocessed pixel range: not a normalisation image."""
    return np.random.default_rng(seed).uniform(-124, 152, shape).astype(dtype)


def rel_err(got, expected):
    return np.abs(got - expected).max() / np.abs(expected).max()


@pytest.fixture(scope="module")
def random_net():
    """(original weights, normalised weights, means): random VGG19 over 32 px images."""
    weights = random_weights("vgg19", seed=0)
    normalized, means = N.normalize_on_images(weights, "vgg19", N.normalization_images(SMALL_SIZE))
    return weights, normalized, means


def test_random_net_has_dead_and_widely_spread_channels(random_net):
    """The fixture exercises what the other tests claim to check."""
    _, _, means = random_net
    dead = N.dead_channels(means)
    assert sum(dead.values()) > 0
    live = np.concatenate([m[m > 0] for m in means.values()])
    assert live.max() / live.min() > 100
    for name, m in N.scales_from_means(means).items():
        np.testing.assert_array_equal(m[means[name] == 0], 1.0)   # dead: scale 1


# (1) homogeneity -------------------------------------------------------------------------

@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_every_layer_is_the_original_divided_by_its_means(random_net, pooling):
    """conv, relu and pool: normalised = original / m_l per channel, on an image that is
    not a normalisation image, with the factors measured under max pooling applied to
    either pooling."""
    weights, normalized, means = random_net
    original, scaled = VGG(weights, pooling=pooling), VGG(normalized, pooling=pooling)
    names = original.layer_names
    x = noise_image()
    a, b = original.features(x, names), scaled.features(x, names)
    scales = N.layer_scales(means)
    for name in names:
        expected = a[name] / scales[name][:, None, None]
        assert np.abs(expected).max() > 0, name
        np.testing.assert_allclose(b[name], expected, rtol=0,
                                   atol=TOL_FLOAT64 * np.abs(expected).max(), err_msg=name)


# (2) the relu means are 1 ----------------------------------------------------------------

def test_live_channels_have_mean_one_over_the_normalisation_images(random_net):
    """Up to the conditioning of a nearly dead channel's mean (a few positions barely above
    0: relative round-off ~ eps * |pre-activation| / mean); measured <= 3e-12."""
    _, normalized, means = random_net
    again = N.channel_means(VGG(normalized), N.normalization_images(SMALL_SIZE))
    for name, m in means.items():
        live = m > 0
        np.testing.assert_allclose(again[name][live], 1.0, rtol=1e-9, err_msg=name)
        np.testing.assert_array_equal(again[name][~live], 0.0, err_msg=name)


def test_channel_means_weigh_each_image_once():
    model = VGG(random_weights("vgg19", seed=2))
    small, large = noise_image((3, 16, 16), seed=3), noise_image((3, 32, 24), seed=4)
    both = N.channel_means(model, [small, large])
    one = [N.channel_means(model, [x]) for x in (small, large)]
    for name in both:
        np.testing.assert_allclose(both[name], (one[0][name] + one[1][name]) / 2, rtol=1e-14)
        expected = model.features(small, name)[name].mean(axis=(1, 2))
        np.testing.assert_allclose(one[0][name], expected, rtol=1e-14)


# (3) backward ----------------------------------------------------------------------------

LOSS_LAYERS = ["relu1_2", "relu3_1", "pool4", "relu5_1"]


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_backward_is_the_original_backward_by_the_chain_rule(random_net, pooling):
    """L = sum_l ||F'_l||^2 / 2 with F'_l = F_l / m_l: dL/dF'_l = F'_l, and by the chain rule
    dL/dF_l = F'_l / m_l; so the normalised network's dL/dx injected with F'_l equals the
    original network's dL/dx injected with F'_l / m_l."""
    weights, normalized, means = random_net
    original, scaled = VGG(weights, pooling=pooling), VGG(normalized, pooling=pooling)
    scales = N.layer_scales(means)
    x = noise_image((3, 40, 34), seed=5)
    _, original_tape = original.forward(x, LOSS_LAYERS)
    F, tape = scaled.forward(x, LOSS_LAYERS)
    dx = scaled.backward(F, tape)
    expected = original.backward({n: F[n] / scales[n][:, None, None] for n in LOSS_LAYERS},
                                 original_tape)
    # a forward and a backward pass through up to 16 layers: measured ~1e-15
    assert rel_err(dx, expected) < TOL_FLOAT64


def test_normalised_gradient_matches_finite_differences(random_net):
    weights, normalized, _ = random_net
    model = VGG(normalized, pooling="avg")
    layers = ["relu2_1", "relu4_1"]

    def loss(x):
        F, tape = model.forward(x, layers)
        return sum(0.5 * np.sum(f * f) for f in F.values()), F, tape

    x = noise_image((3, 16, 16), seed=6)
    _, F, tape = loss(x)
    dx = model.backward(F, tape)
    result = check_gradient(lambda v: loss(v)[0], x, dx, num_samples=40, seed=7)
    assert result, str(result)


# (4) determinism -------------------------------------------------------------------------

def test_normalising_twice_gives_identical_weights(random_net):
    weights, normalized, means = random_net
    again, means_again = N.normalize_on_images(weights, "vgg19", N.normalization_images(SMALL_SIZE))
    for name in means:
        np.testing.assert_array_equal(means_again[name], means[name])
    for name, (k, b) in normalized.items():
        np.testing.assert_array_equal(again[name][0], k)
        np.testing.assert_array_equal(again[name][1], b)
        assert k.dtype == b.dtype == np.float64   # the dtype of the given weights


def test_normalize_weights_formula_on_a_hand_example():
    """W'[o, i] = W[o, i] m_{l-1}[i] / m_l[o], b'[o] = b[o] / m_l[o], m_0 = 1, dead -> 1."""
    weights = random_weights("vgg16", seed=8, dtype=np.float32)
    rng = np.random.default_rng(9)
    means = {n: rng.uniform(0.5, 2.0, size=w[1].shape) for n, w in
             zip(N.relu_layers("vgg16"), weights.values())}
    means["relu1_2"][3] = 0.0
    out = N.normalize_weights(weights, means, "vgg16")
    k, b = weights["conv1_1"]
    np.testing.assert_allclose(out["conv1_1"][0], k / means["relu1_1"][:, None, None, None], rtol=1e-6)
    m_in, m_out = N.scales_from_means({"a": means["relu1_2"], "b": means["relu2_1"]}).values()
    assert m_in[3] == 1.0
    k, b = weights["conv2_1"]
    np.testing.assert_allclose(out["conv2_1"][0],
                               k * m_in[None, :, None, None] / m_out[:, None, None, None], rtol=1e-6)
    np.testing.assert_allclose(out["conv2_1"][1], b / m_out, rtol=1e-6)
    assert out["conv2_1"][0].dtype == np.float32   # dtype follows the given weights


def test_bad_means_are_refused():
    weights = random_weights("vgg16", seed=0)
    means = {n: np.ones(w[1].shape) for n, w in zip(N.relu_layers("vgg16"), weights.values())}
    with pytest.raises(ValueError, match="relu2_1"):
        N.normalize_weights(weights, {k: v for k, v in means.items() if k != "relu2_1"}, "vgg16")
    with pytest.raises(ValueError, match="finite and >= 0"):
        N.normalize_weights(weights, dict(means, relu1_1=-means["relu1_1"]), "vgg16")
    with pytest.raises(ValueError, match="at least one image"):
        N.channel_means(VGG(weights, arch="vgg16"), [])


# The shipped network, once ---------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    """(normalised plain VGG19, original plain VGG19, means): the means are the shipped ones
    (nst_numpy/data/vgg19_q_relu_means.npz), checked against a recomputation below."""
    return load_vgg19(normalized=True), load_vgg19(), N.reference_means()


def test_the_shipped_means_are_the_recomputed_ones(shipped):
    """data/make_relu_means.py's file against channel_means run now on the embedded VGG19
    and the four images: float64 both, so they differ by the summation order of this
    machine's BLAS at most (0 where the file was made); 1e-10 relative allows that, while
    another weight file, image or size changes every mean at the percent level."""
    _, original, means = shipped
    again = N.channel_means(original, N.normalization_images())
    assert list(means) == list(again) == N.relu_layers("vgg19")
    for name in means:
        assert means[name].dtype == np.float64
        np.testing.assert_allclose(means[name], again[name], rtol=1e-10, atol=0, err_msg=name)


def test_the_shipped_means_serve_only_the_file_and_images_they_were_made_from(monkeypatch,
                                                                             tmp_path):
    from nst_numpy.weights import DEFAULT_SHA256, default_weights_path

    assert N.shipped_means(DEFAULT_SHA256) is not None
    assert N.shipped_means("0" * 64) is None                       # another weight file
    assert N.shipped_means(DEFAULT_SHA256, size=128) is None         # another size
    monkeypatch.setattr(N, "NORMALIZATION_IMAGES", N.NORMALIZATION_IMAGES[:3])
    assert N.shipped_means(DEFAULT_SHA256) is None                   # other images
    monkeypatch.undo()
    # A copy of the embedded file elsewhere is recognised by its content: nothing recomputed.
    copy = tmp_path / "copy_of_vgg19_q.h5"
    copy.write_bytes(default_weights_path().read_bytes())
    monkeypatch.setattr(N, "channel_means", lambda *a: pytest.fail("means recomputed"))
    means = N.reference_means(copy)
    np.testing.assert_array_equal(means["relu3_1"], N.shipped_means(DEFAULT_SHA256)["relu3_1"])


def test_shipped_normalised_network(shipped):
    model, original, means = shipped
    assert model.normalized and not original.normalized and not VGG.normalized
    # Dead channels on the four images at 256 px: docs/weights.md reports these counts.
    assert {n: c for n, c in N.dead_channels(means).items() if c} == {"relu5_4": 4}
    # (2) every live channel's mean is 1 over the normalisation images, in the new network.
    again = N.channel_means(model, N.normalization_images())
    for name, m in means.items():
        live = m > 0
        np.testing.assert_allclose(again[name][live], 1.0, rtol=1e-5, err_msg=name)
        assert np.all(again[name][~live] == 0), name
    # (1) on a noise image, every layer is the original one / m_l.
    x = noise_image((3, 40, 36), seed=10)
    names = original.layer_names
    a, b = original.features(x, names), model.features(x, names)
    scales = N.layer_scales(means)
    for name in names:
        expected = a[name] / scales[name][:, None, None]
        assert rel_err(b[name], expected) < TOL_SHIPPED, name
    # The kernels keep the file's dtype.
    assert model.params["conv3_1"][0].dtype == np.float32


def test_loading_twice_reads_the_means_and_is_identical(shipped, monkeypatch):
    model = shipped[0]
    monkeypatch.setattr(N, "channel_means", lambda *a: pytest.fail("means recomputed"))
    again = load_vgg(normalized=True)   # the file's architecture: VGG19
    assert again.normalized and again.arch == "vgg19"
    for name, (k, b) in model.params.items():
        np.testing.assert_array_equal(again.params[name][0], k)
        np.testing.assert_array_equal(again.params[name][1], b)
    cached = N.reference_means()
    with pytest.raises(ValueError, match="read-only"):
        cached["relu1_1"][0] = 1.0


# (5) fast and plain ----------------------------------------------------------------------

@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_fast_and_plain_normalised_networks_agree(shipped, pooling):
    """To round-off, relative to each layer's largest value: float64 measured ~3e-15,
    float32 ~1e-6 (Winograd and im2col sum in different orders, through up to 13 convs).

    The image gradients are compared in float64 only. In float32 a pre-activation within
    round-off of 0 can be positive in one path and negative in the other, and that ReLU
    then passes its gradient in one path only: with avg pooling this noise image has one
    such position at conv2_1 (2e-7 in float64), which moves a few entries of dL/dx by
    ~4e-3 of the largest. That is a kink of the function, not an error of either path
    (tests/test_fast.py compares float32 gradients where no kink lies that close)."""
    plain = load_vgg19(normalized=True, pooling=pooling)
    fast = load_vgg19(normalized=True, pooling=pooling, fast=True)
    assert isinstance(fast, FastVGG) and fast.normalized and plain.normalized
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
    for dtype, tol in [(np.float64, 1e-10), (np.float32, 1e-5)]:
        x = noise_image((3, 40, 36), seed=11, dtype=dtype)
        (a, plain_tape), (b, fast_tape) = plain.forward(x, layers), fast.forward(x, layers)
        for name in layers:
            assert b[name].dtype == dtype
            assert rel_err(b[name], a[name]) < tol, (dtype, name)
        if dtype == np.float64:
            assert rel_err(fast.backward(a, fast_tape), plain.backward(a, plain_tape)) < tol


def test_bad_pooling_is_refused_before_the_means_are_computed(monkeypatch):
    monkeypatch.setattr(models, "reference_means", lambda *a: pytest.fail("means sought"))
    with pytest.raises(ValueError, match="unknown pooling 'mean'"):
        load_vgg19(normalized=True, pooling="mean")


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="no such weights file"):
        N.reference_means(tmp_path / "absent.h5")
    with pytest.raises(ValueError, match="no such weights file"):
        load_vgg19(tmp_path / "absent.h5", normalized=True)


def test_normalised_vgg16_from_a_keras_file(tmp_path, monkeypatch):
    """The loader's path for VGG16; the means over 32 px images (time), so the kernels,
    float32 like the file's, carry a rounding of ~u relative: up to TOL_FLOAT32_WEIGHTS
    of a layer's largest activation where random weights make the sums cancel."""
    from test_weights import write_keras_file   # the Keras notop layout, random weights

    monkeypatch.setattr(models, "reference_means",
                        functools.partial(N.reference_means, size=SMALL_SIZE))
    path = tmp_path / "vgg16_notop.h5"
    write_keras_file(path, "vgg16", seed=12)
    model, original = load_vgg16(path, normalized=True), load_vgg16(path)
    assert model.arch == "vgg16" and model.normalized and not original.normalized
    means = N.reference_means(path, "vgg16", size=SMALL_SIZE)
    assert list(means) == N.relu_layers("vgg16")
    names = layer_names("vgg16")
    x = noise_image((3, 36, 32), seed=13)
    a, b = original.features(x, names), model.features(x, names)
    scales = N.layer_scales(means, "vgg16")
    for name in names:
        expected = a[name] / scales[name][:, None, None]
        assert rel_err(b[name], expected) < TOL_FLOAT32_WEIGHTS, name
