"""The fast path against the plain one: the Winograd convolution against im2col, and FastVGG
against VGG, features and gradients to round-off.

float64: the two must agree to 1e-10 relative (max |difference| / max |plain|). They compute
the same sums in a different order, so they differ by round-off only, ~1e-15; a wrong
transform entry or tile offset gives O(1).

float32: both are compared with the exact (float64) result, elementwise, in units of
u = 2^-24 (float32's unit round-off) times the convolution of |w| with |x| (plus |b|), the
natural scale of the round-off of a sum of products. The worst-case bound of an n-term
dot product is n*u (n = 9C + 1 here), Winograd's carries an extra constant from its
transforms; random-sign data stays at a few u for both (measured: <= 3 u). The test
asserts <= 16 u for both, well above that and far below a real bug.
"""

import numpy as np
import pytest

from nst_numpy import layers as L
from nst_numpy import vgg
from nst_numpy.fast import FastVGG, winograd
from nst_numpy.gradcheck import check_gradient
from nst_numpy.vgg import random_weights

REL_TOL_FLOAT64 = 1e-10
ROUND_OFF_UNITS_FLOAT32 = 16
U32 = np.finfo(np.float32).eps / 2

# (C, K, H, W): odd and even sides, 1x1 and 1xN maps, more channels than a few.
SHAPES = [(3, 4, 7, 6), (5, 6, 1, 1), (4, 3, 5, 9), (8, 8, 2, 3), (16, 8, 13, 13), (2, 3, 1, 4)]


def rel_err(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def random_conv(shape, seed=0):
    C, K, H, W = shape
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(C, H, W)), rng.normal(size=(K, C, 3, 3)) / np.sqrt(9 * C),
            rng.normal(size=K))


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_im2col_float64(shape):
    x, w, b = random_conv(shape)
    out, _ = winograd.conv2d_forward(x, w, b)
    ref, _ = L.conv2d_forward(x, w, b)
    assert out.shape == ref.shape == (shape[1],) + shape[2:]
    assert rel_err(out, ref) < REL_TOL_FLOAT64


@pytest.mark.parametrize("shape", SHAPES)
def test_backward_input_matches_im2col_float64(shape):
    x, w, b = random_conv(shape, seed=1)
    _, cache = winograd.conv2d_forward(x, w, b)
    _, ref_cache = L.conv2d_forward(x, w, b)
    dout = np.random.default_rng(2).normal(size=(shape[1],) + shape[2:])
    dx = winograd.conv2d_backward_input(dout, cache)
    assert dx.shape == x.shape
    assert rel_err(dx, L.conv2d_backward_input(dout, ref_cache)) < REL_TOL_FLOAT64


def test_backward_input_matches_finite_differences():
    """Independent of im2col: the Winograd backward is the derivative of the Winograd forward.

    float64, check_gradient's own step and tolerance (nst_numpy/gradcheck.py).
    """
    x, w, b = random_conv((3, 4, 5, 6), seed=3)
    dout = np.random.default_rng(4).normal(size=(4, 5, 6))
    _, cache = winograd.conv2d_forward(x, w, b)
    dx = winograd.conv2d_backward_input(dout, cache)
    result = check_gradient(lambda v: float(np.sum(winograd.conv2d_forward(v, w, b)[0] * dout)),
                            x, dx)
    assert result, str(result)


@pytest.mark.parametrize("band_bytes", [1, 40000, 80000])
def test_bands_give_the_same_result_as_one_band(band_bytes, monkeypatch):
    """Bands of tile rows (bounded memory), one after the other or in parallel threads,
    cover the image exactly once, odd sides and a short last band included."""
    monkeypatch.setattr(winograd, "MIN_TILES_PER_THREAD", 1)   # threads even on 13 x 6 tiles
    x, w, _ = random_conv((4, 5, 25, 11), seed=5)
    u = winograd.kernel_transform(w)
    whole = winograd.conv3x3(x, u, band_bytes=2**30, threads=1)
    for threads in (1, 3):
        # bands of 1, 3 or 5 of the 13 tile rows (the last one shorter), 1 or 3 at a time
        banded = winograd.conv3x3(x, u, band_bytes=band_bytes, threads=threads)
        assert rel_err(banded, whole) < 1e-13
    assert rel_err(whole, L.conv2d_forward(x, w, np.zeros(5))[0]) < REL_TOL_FLOAT64


@pytest.mark.parametrize("shape", SHAPES)
def test_fused_relu_equals_the_separate_layer(shape, monkeypatch):
    """relu=True is max(conv, 0); relu_out= applies the ReLU's backward before the input
    gradient. The same operations on the same numbers, so equal to the last bit, in bands
    and threads too."""
    monkeypatch.setattr(winograd, "MIN_TILES_PER_THREAD", 1)
    x, w, b = random_conv(shape, seed=13)
    out, cache = winograd.conv2d_forward(x, w, b)
    fused, _ = winograd.conv2d_forward(x, w, b, relu=True)
    np.testing.assert_array_equal(fused, L.relu_forward(out)[0])
    relu_out = L.relu_forward(out)[0]          # zero on about half the entries
    dout = np.random.default_rng(14).normal(size=out.shape)
    separate = winograd.conv2d_backward_input(L.relu_backward(dout, relu_out), cache)
    np.testing.assert_array_equal(winograd.conv2d_backward_input(dout, cache, relu_out=relu_out), separate)
    # the mask relu_out > 0 (what the VGG keeps) in place of the output
    np.testing.assert_array_equal(winograd.conv2d_backward_input(dout, cache, relu_out=relu_out > 0), separate)
    u_flipped = winograd.kernel_transform(winograd.flip_kernel(w))
    banded = winograd.conv3x3(dout, u_flipped, relu_out=relu_out, band_bytes=1, threads=3)
    np.testing.assert_array_equal(banded, separate)


@pytest.mark.parametrize("shape", SHAPES)
def test_fused_relu_and_pool_equal_the_separate_layers(shape, monkeypatch):
    """conv_relu_pool_forward pools each output tile in its band: the same numbers, the same
    index of each window's maximum, odd sides floored, in bands and threads too; and
    conv_relu_pool_backward is the three backward passes in a row, to the last bit."""
    monkeypatch.setattr(winograd, "MIN_TILES_PER_THREAD", 1)
    x, w, b = random_conv(shape, seed=16)
    b[::2] = -1e3                              # every other channel 0 after the ReLU: ties
    relu_out = L.relu_forward(winograd.conv2d_forward(x, w, b)[0])[0]
    pooled, (first, shape_in) = L.max_pool_forward(relu_out)
    (out, _), (fused_pooled, (fused_first, fused_shape_in)) = winograd.conv_relu_pool_forward(x, w, b)
    np.testing.assert_array_equal(out, relu_out)
    np.testing.assert_array_equal(fused_pooled, pooled)
    np.testing.assert_array_equal(fused_first, first)
    assert fused_shape_in == shape_in and fused_first.dtype == np.uint8
    banded = np.empty_like(pooled), np.empty_like(first)
    winograd.conv3x3(x, winograd.kernel_transform(w), b, relu=True, pool_into=banded, band_bytes=1, threads=3)
    np.testing.assert_array_equal(banded[0], pooled)
    np.testing.assert_array_equal(banded[1], first)
    # backward: the pool's and the ReLU's backward inside the conv's first pass
    (_, cache), (_, pool_cache) = winograd.conv_relu_pool_forward(x, w, b)
    dpooled = np.random.default_rng(18).normal(size=pooled.shape)
    separate = winograd.conv2d_backward_input(
        L.relu_backward(L.max_pool_backward(dpooled, pool_cache), relu_out), cache)
    np.testing.assert_array_equal(winograd.conv_relu_pool_backward(dpooled, cache, relu_out, pool_cache),
                                  separate)
    np.testing.assert_array_equal(winograd.conv_relu_pool_backward(dpooled, cache, relu_out > 0, pool_cache),
                                  separate)
    banded_dx = winograd.conv3x3(dpooled, winograd.kernel_transform(winograd.flip_kernel(w)),
                                 relu_out=relu_out, pool_first=first, band_bytes=1, threads=3)
    np.testing.assert_array_equal(banded_dx, separate)


def conv_float32_errors(C, K, H, forward, backward_input):
    """A float32 conv's largest errors, forward and input gradient, against float64, each
    relative to its round-off scale: the same sums with every term made positive."""
    x, w, b = random_conv((C, K, H, H + 1), seed=6)
    dout = np.random.default_rng(7).normal(size=(K, H, H + 1))
    f32 = [a.astype(np.float32) for a in (x, w, b, dout)]
    exact, _ = L.conv2d_forward(x, w, b)
    exact_dx = L.conv2d_backward_input(dout, (x, w, 1))
    scale, _ = L.conv2d_forward(np.abs(x), np.abs(w), np.abs(b))
    dx_scale = L.conv2d_backward_input(np.abs(dout), (x, np.abs(w), 1))
    out, cache = forward(*f32[:3])
    dx = backward_input(f32[3], cache)
    assert out.dtype == dx.dtype == np.float32, "no silent upcast"
    return np.max(np.abs(out - exact) / scale), np.max(np.abs(dx - exact_dx) / dx_scale)


@pytest.mark.parametrize("C,K,H", [(16, 8, 13), (64, 32, 12), (256, 16, 6)])
def test_float32_error_is_round_off(C, K, H):
    for module in (L, winograd):
        error, dx_error = conv_float32_errors(C, K, H, module.conv2d_forward,
                                              module.conv2d_backward_input)
        assert error <= ROUND_OFF_UNITS_FLOAT32 * U32, module.__name__
        assert dx_error <= ROUND_OFF_UNITS_FLOAT32 * U32, module.__name__


def test_kernel_transform_follows_the_kernel_dtype():
    w = np.ones((2, 3, 3, 3), np.float32)
    assert winograd.kernel_transform(w).dtype == np.float32
    assert winograd.kernel_transform(w).shape == (16, 2, 3)


def test_flip_kernel_is_the_adjoint_kernel():
    w = np.arange(2 * 3 * 9, dtype=np.float64).reshape(2, 3, 3, 3)
    flipped = winograd.flip_kernel(w)
    assert flipped.shape == (3, 2, 3, 3)
    assert flipped[1, 0, 0, 2] == w[0, 1, 2, 0]


def test_bad_input_gives_clear_errors():
    w, b = np.ones((4, 3, 3, 3)), np.zeros(4)
    with pytest.raises(ValueError, match=r"does not match kernel.*C = 3"):
        winograd.conv2d_forward(np.ones((2, 5, 5)), w, b)
    with pytest.raises(ValueError, match="not 3x3"):
        winograd.conv2d_forward(np.ones((3, 5, 5)), np.ones((4, 3, 5, 5)), b)
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        FastVGG(random_weights(), threads=0)
    with pytest.raises(ValueError, match="too small to reach pool4"):
        FastVGG(random_weights()).forward(np.ones((3, 8, 8)), ["relu5_1"])


# --- FastVGG against VGG ----------------------------------------------------------------

# Odd and even sides; 19 x 17 reaches 1 x 1 at block 5 (19x17 -> 9x8 -> 4x4 -> 2x2 -> 1x1).
VGG_SIZES = [(19, 17), (16, 16), (21, 34)]
# Sets of layers that receive a gradient, each exercising one case of the fusion:
INJECTED = [
    ["relu5_1"],                                                   # every fusion active
    ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1", "relu4_2"],   # stylize's layers
    ["conv2_2", "relu3_1"],               # a conv's own output wanted: its ReLU stays apart
    ["relu1_2", "relu3_1"],               # a ReLU before a pool gets a gradient: pool apart
    ["pool2", "relu4_1"],                 # a pool's output
]
# Where backward(to=...) stops: below, at and above fused layers, and the deepest one.
STOPS = ["conv1_2", "relu1_2", "pool1", "conv2_1", "relu3_1"]


@pytest.mark.parametrize("dtype, tol", [(np.float64, REL_TOL_FLOAT64), (np.float32, 1e-5)])
@pytest.mark.parametrize("pooling", ["max", "avg"])
@pytest.mark.parametrize("arch", ["vgg19", "vgg16"])
def test_fast_vgg_equals_vgg(arch, pooling, dtype, tol):
    """Features and gradients agree to round-off for every size, set of injected gradients
    and ``to=`` above.

    float32 through 16 layers: each layer adds a few u of relative round-off, so the two
    paths may drift apart by ~1e-6 relative; 1e-5 leaves room, a bug gives O(1).
    """
    weights = random_weights(arch)
    plain = vgg.VGG(weights, arch=arch, pooling=pooling)
    fast = FastVGG(weights, arch=arch, pooling=pooling)
    rng = np.random.default_rng(8)
    for size in VGG_SIZES:
        x = rng.normal(size=(3, *size)).astype(dtype)
        for layers in INJECTED:
            (ref, plain_tape), (out, tape) = plain.forward(x, layers), fast.forward(x, layers)
            for name in layers:
                assert out[name].dtype == dtype
                assert rel_err(out[name], ref[name]) < tol, (size, layers, name)
            grads = {name: rng.normal(size=a.shape).astype(dtype) for name, a in ref.items()}
            dx_ref, dx = plain.backward(grads, plain_tape), fast.backward(grads, tape)
            assert dx.dtype == dtype and dx.shape == x.shape
            assert rel_err(dx, dx_ref) < tol, (size, layers)
            for stop in STOPS:
                below = fast.layer_names.index(stop) <= max(map(fast.layer_names.index, layers))
                if below:
                    assert rel_err(fast.backward(grads, tape, to=stop),
                                   plain.backward(grads, plain_tape, to=stop)) < tol, \
                        (size, layers, stop)


def test_fast_vgg_is_the_same_function_with_one_band_thread_or_several():
    weights = random_weights()
    x = np.random.default_rng(20).normal(size=(3, 40, 36))
    one, three = FastVGG(weights, threads=1), FastVGG(weights, threads=3)
    (a, tape_a), (b, tape_b) = one.forward(x, ["relu4_1"]), three.forward(x, ["relu4_1"])
    np.testing.assert_allclose(b["relu4_1"], a["relu4_1"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(three.backward(b, tape_b), one.backward(a, tape_a),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_fast_vgg_image_gradient_matches_finite_differences(pooling):
    """The fast path's image gradient against the definition, float64, with check_gradient's
    own step and tolerance (with max pooling, the pools and ReLUs run inside the convs)."""
    model = FastVGG(random_weights(), pooling=pooling)
    x = np.random.default_rng(14).normal(size=(3, 10, 12))
    g = np.random.default_rng(11).normal(size=model.features(x, ["relu3_1"])["relu3_1"].shape)

    def loss(v):
        return float(np.sum(model.features(v, ["relu3_1"])["relu3_1"] * g))

    _, tape = model.forward(x, ["relu3_1"])
    dx = model.backward({"relu3_1": g}, tape)
    result = check_gradient(loss, x, dx, num_samples=30, seed=12)
    assert result, str(result)


# --- F(4x4, 3x3): tile=4 ----------------------------------------------------------------
# (appended to this file with the imports it needs)

import functools  # noqa: E402

from nst_numpy import image, load_vgg19, losses  # noqa: E402

# float64: the same 1e-10 relative as F(2x2, 3x3). F(4x4)'s data transforms hold entries up
# to 8 and its kernel transform 1/6 and 1/24, so round-off grows ~10x, to ~1e-14 (measured
# <= 8e-15 on these shapes); 1e-10 still sits four orders above that and far below the O(1)
# of a wrong transform entry, tile offset or pooling window.

# (C, K, H, W): tiny maps (1x1, 2x3, 5x7), sides that are not multiples of 4 (odd and even),
# one that is, one and many channels.
SHAPES_TILE4 = [(3, 4, 1, 1), (2, 3, 2, 3), (5, 6, 5, 7), (4, 3, 6, 10), (1, 2, 9, 4),
                (16, 8, 13, 13), (8, 12, 16, 12), (32, 24, 11, 18)]


def relu_pool_reference(x, w, b):
    """The plain layers: conv (cache), its ReLU's output, the max pool's output and cache."""
    out, cache = L.conv2d_forward(x, w, b)
    relu_out = L.relu_forward(out)[0]
    pooled, pool_cache = L.max_pool_forward(relu_out)
    return cache, relu_out, pooled, pool_cache


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", SHAPES_TILE4)
def test_tile4_matches_im2col_float64(shape, threads, monkeypatch):
    """tile=4 against nst_numpy.layers: conv forward, input gradient, conv + ReLU + max pool
    forward (the same window maxima) and its backward, for every shape, in one band thread
    or two (even on a 1 x 1 map: MIN_TILES_PER_THREAD lowered)."""
    monkeypatch.setattr(winograd, "MIN_TILES_PER_THREAD", 1)
    x, w, b = random_conv(shape, seed=30)
    b[::2] = -1e3                              # every other channel 0 after the ReLU: ties
    rng = np.random.default_rng(31)
    cache, relu_out, pooled, (first, shape_in) = relu_pool_reference(x, w, b)
    out, wino_cache = winograd.conv2d_forward(x, w, b, threads=threads, tile=4)
    assert out.shape == relu_out.shape
    assert rel_err(out, L.conv2d_forward(x, w, b)[0]) < REL_TOL_FLOAT64
    dout = rng.normal(size=out.shape)
    dx = winograd.conv2d_backward_input(dout, wino_cache)
    assert dx.shape == x.shape
    assert rel_err(dx, L.conv2d_backward_input(dout, cache)) < REL_TOL_FLOAT64
    (fused_out, fused_cache), (fused_pooled, pool_cache) = winograd.conv_relu_pool_forward(
        x, w, b, threads=threads, tile=4)
    assert rel_err(fused_out, relu_out) < REL_TOL_FLOAT64
    assert fused_pooled.shape == pooled.shape and pool_cache[1] == shape_in
    if pooled.size:   # (a 1-row or 1-column map pools to nothing)
        assert rel_err(fused_pooled, pooled) < REL_TOL_FLOAT64
        np.testing.assert_array_equal(pool_cache[0], first)
        dpooled = rng.normal(size=pooled.shape)
        separate = L.conv2d_backward_input(
            L.relu_backward(L.max_pool_backward(dpooled, (first, shape_in)), relu_out), cache)
        dx = winograd.conv_relu_pool_backward(dpooled, fused_cache, relu_out > 0, pool_cache)
        assert rel_err(dx, separate) < REL_TOL_FLOAT64


@pytest.mark.parametrize("shape", SHAPES_TILE4)
def test_tile4_fused_relu_and_pool_equal_the_separate_layers_to_the_bit(shape, monkeypatch):
    """As for tile=2: the fused ReLU and pool of tile=4 (four 2x2 windows in each 4x4 output
    tile) are the separate layers on the same numbers, forward and backward, in bands of any
    height, one after the other or in threads. (Across band heights the GEMMs' widths differ,
    and BLAS may sum in another order: there the results agree to round-off only.)"""
    monkeypatch.setattr(winograd, "MIN_TILES_PER_THREAD", 1)
    x, w, b = random_conv(shape, seed=32)
    b[::2] = -1e3                              # every other channel 0 after the ReLU: ties
    u = winograd.kernel_transform(w, tile=4)
    u_flipped = winograd.kernel_transform(winograd.flip_kernel(w), tile=4)
    whole = winograd.conv3x3(x, u, b, band_bytes=2**30, threads=1)
    for band_bytes, threads in [(2**30, 1), (1, 1), (1, 3), (40000, 2)]:
        def conv(*args, **kwargs):
            return winograd.conv3x3(*args, **kwargs, band_bytes=band_bytes, threads=threads)
        out = conv(x, u, b)
        assert rel_err(out, whole) < 1e-13
        relu_out = L.relu_forward(out)[0]
        pooled, (first, _) = L.max_pool_forward(relu_out)
        fused = np.empty_like(pooled), np.empty_like(first)
        np.testing.assert_array_equal(conv(x, u, b, relu=True, pool_into=fused), relu_out)
        np.testing.assert_array_equal(fused[0], pooled)
        np.testing.assert_array_equal(fused[1], first)
        dpooled = np.random.default_rng(33).normal(size=pooled.shape)
        separate = conv(L.relu_backward(L.max_pool_backward(dpooled, (first, out.shape)), relu_out),
                        u_flipped)
        np.testing.assert_array_equal(conv(dpooled, u_flipped, relu_out=relu_out > 0, pool_first=first),
                                      separate)


def test_tile4_backward_input_matches_finite_differences():
    """Independent of im2col: the tile=4 input gradient is the derivative of the tile=4
    forward (float64, check_gradient's own step and tolerance)."""
    x, w, b = random_conv((3, 4, 7, 10), seed=34)
    dout = np.random.default_rng(35).normal(size=(4, 7, 10))
    _, cache = winograd.conv2d_forward(x, w, b, tile=4)
    dx = winograd.conv2d_backward_input(dout, cache)
    result = check_gradient(
        lambda v: float(np.sum(winograd.conv2d_forward(v, w, b, tile=4)[0] * dout)), x, dx)
    assert result, str(result)


def test_tile_is_carried_by_the_transformed_kernel_and_the_cache():
    x, w, b = random_conv((4, 5, 9, 7), seed=36)
    u4 = winograd.kernel_transform(w, tile=4)
    u2_flipped = winograd.kernel_transform(winograd.flip_kernel(w))
    assert u4.shape == (36, 5, 4) and u2_flipped.shape == (16, 4, 5)
    assert winograd.kernel_transform(w.astype(np.float32), tile=4).dtype == np.float32
    ref, cache = L.conv2d_forward(x, w, b)
    dout = np.random.default_rng(37).normal(size=ref.shape)
    dx_ref = L.conv2d_backward_input(dout, cache)
    # the tile of u, with or without tile=; the backward of tile=4 without u_flipped is tile=4
    for kwargs in ({"u": u4}, {"u": u4, "tile": 4}, {"tile": 4}):
        out, wino_cache = winograd.conv2d_forward(x, w, b, **kwargs)
        assert rel_err(out, ref) < REL_TOL_FLOAT64
        assert wino_cache[-1] == 4
        assert rel_err(winograd.conv2d_backward_input(dout, wino_cache), dx_ref) < REL_TOL_FLOAT64
    # a forward in 4x4 tiles, its backward in 2x2 tiles: each transformed kernel has its own
    _, mixed_cache = winograd.conv2d_forward(x, w, b, u=u4, u_flipped=u2_flipped)
    assert rel_err(winograd.conv2d_backward_input(dout, mixed_cache), dx_ref) < REL_TOL_FLOAT64
    assert winograd.conv2d_forward(x, w, b)[1][-1] == winograd.DEFAULT_TILE == 2
    with pytest.raises(ValueError, match="tile=2 but the transformed kernel u is for tile 4"):
        winograd.conv2d_forward(x, w, b, u=u4, tile=2)
    with pytest.raises(ValueError, match=r"tile must be one of \[2, 4\], got 3"):
        winograd.conv2d_forward(x, w, b, tile=3)
    with pytest.raises(ValueError, match="is none of F"):
        winograd.conv3x3(x, u4[:25])


def test_tile4_transforms_are_winograds_f4x4():
    """Y = A^T [(G g G^T) * (B^T d B)] A is the 4x4 correlation of a 6x6 tile d with g; the
    bias trick needs column 1 of A^T to be all ones."""
    rng = np.random.default_rng(38)
    d, g = rng.normal(size=(6, 6)), rng.normal(size=(3, 3))
    B_T, G, A_T = winograd.F4
    y = A_T @ ((G @ g @ G.T) * (B_T @ d @ B_T.T)) @ A_T.T
    direct = np.array([[np.sum(d[i:i + 3, j:j + 3] * g) for j in range(4)] for i in range(4)])
    np.testing.assert_allclose(y, direct, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(A_T[:, 1], 1)


# float32 on random data, in units of u times the convolution of |w| with |x| as in
# test_float32_error_is_round_off: F(4x4)'s transforms (entries up to 8 in A^T, 5 in B^T)
# carry a larger constant than F(2x2)'s, measured <= 28 u on these shapes (F(2x2): <= 3 u).
ROUND_OFF_UNITS_FLOAT32_TILE4 = 128


@pytest.mark.parametrize("C,K,H", [(16, 8, 13), (64, 32, 12), (256, 16, 6)])
def test_tile4_float32_error_is_round_off(C, K, H):
    error, dx_error = conv_float32_errors(
        C, K, H, functools.partial(winograd.conv2d_forward, tile=4), winograd.conv2d_backward_input)
    assert error <= ROUND_OFF_UNITS_FLOAT32_TILE4 * U32
    assert dx_error <= ROUND_OFF_UNITS_FLOAT32_TILE4 * U32


# --- float32 error per VGG19 layer: real weights, real image, tile=4 against tile=2 and im2col
#
# Each conv of VGG19 through conv5_1 gets its real input (the demo content image through the
# plain float64 network, rounded to float32) and, backward, the real gradient at its output:
# the style loss of that image against the demo style image's Gram matrices at
# relu1_1 .. relu5_1, back-propagated in float64, each layer's injected gradient scaled to
# max |g| = 1 (the raw 1/(N^2 M^2) weights differ by orders of magnitude between layers).
# The reference is the float64 convolution of the same float32 numbers, so the error is the
# implementation's own round-off: max |float32 - reference| / max |reference|, the measure
# of FastVGG's float32 tolerance in test_fast_vgg_equals_vgg.
#
# Measured (this machine, OpenBLAS; `pytest -s` prints the table): im2col and tile=2 stay
# under 1e-6 on every layer, tile=4 between 9e-7 and 5.8e-6, forward and backward, at 256
# and 512 px: every layer meets 1e-5, the worst (conv2_2 and conv4_2 backward at 512 px) by
# a factor of 1.7.
REL_TOL_FLOAT32_FASTVGG = 1e-5     # test_fast_vgg_equals_vgg's float32 tolerance
STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
FLOAT32_CONVS = {"im2col": (L.conv2d_forward, L.conv2d_backward_input),
                 "m2": (functools.partial(winograd.conv2d_forward, tile=2), winograd.conv2d_backward_input),
                 "m4": (functools.partial(winograd.conv2d_forward, tile=4), winograd.conv2d_backward_input)}


def float32_errors(x, w, b, dout):
    """{(pass, implementation): relative error} of one conv run in float32 on x, w, b
    (forward) and dout (input gradient), against float64 on the same float32 numbers."""
    x, w, b, dout = (a.astype(np.float32) for a in (x, w, b, dout))
    exact, cache = L.conv2d_forward(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64))
    exact_dx = L.conv2d_backward_input(dout.astype(np.float64), cache)
    errors = {}
    for name, (forward, backward_input) in FLOAT32_CONVS.items():
        out, cache = forward(x, w, b)
        dx = backward_input(dout, cache)
        assert out.dtype == dx.dtype == np.float32
        errors["forward", name], errors["backward", name] = rel_err(out, exact), rel_err(dx, exact_dx)
    return errors


def plain_float64_activations(net, x, names):
    """{layer: output} of the layers ``names`` (from conv1_1 on), convs left out, in float64:
    nst_numpy.layers one after the other with the network's weights."""
    activations = {}
    for name in names:
        if name.startswith("conv"):
            w, b = net.params[name]
            x = L.conv2d_forward(x, w.astype(np.float64), b.astype(np.float64))[0]
        else:
            x = activations[name] = (L.relu_forward(x) if name.startswith("relu")
                                     else L.max_pool_forward(x))[0]
    return activations


def vgg19_float32_errors(size):
    """{conv name: float32_errors(...)} for VGG19's convs through conv5_1 on the demo content
    image at ``size`` px (longest side)."""
    net = load_vgg19()
    content, style = (image.preprocess(image.load_image(path, size), np.float64)
                      for path in image.demo_images())
    names = net.layer_names[:net.layer_names.index("relu5_1") + 1]
    style_acts = plain_float64_activations(net, style, names)
    grams = {name: losses.gram_matrix(style_acts[name]) for name in STYLE_LAYERS}
    del style_acts
    acts = plain_float64_activations(net, content, names)
    inputs = {name: acts[names[i - 1]] if i else content
              for i, name in enumerate(names) if name.startswith("conv")}
    grads = losses.style_loss({name: acts[name] for name in STYLE_LAYERS}, grams)[1]
    errors, dout = {}, None
    for i in reversed(range(len(names))):   # back-propagation by hand, in float64
        name = names[i]
        if name in grads:
            g = grads[name] / np.abs(grads[name]).max()
            dout = g if dout is None else dout + g
        if name.startswith("conv"):
            w, b = net.params[name]
            errors[name] = float32_errors(inputs[name], w, b, dout)
            dout = L.conv2d_backward_input(dout, (inputs[name], w.astype(np.float64), 1))
        elif name.startswith("relu"):
            dout = L.relu_backward(dout, acts[name])
        else:
            dout = L.max_pool_backward(dout, L.max_pool_forward(acts[names[i - 1]])[1])
    return dict(reversed(errors.items()))


def error_table(size, errors):
    keys = [(p, impl) for p in ("forward", "backward") for impl in FLOAT32_CONVS]
    lines = [f"float32 relative error per VGG19 conv at {size} px (tolerance {REL_TOL_FLOAT32_FASTVGG:g})",
             f"{'layer':8}" + "".join(f" {p[0]}wd {impl:>6}" for p, impl in keys) + "  m4 meets it"]
    for name, e in errors.items():
        meets = ["fwd" if e["forward", "m4"] < REL_TOL_FLOAT32_FASTVGG else "FWD NO",
                 "bwd" if e["backward", "m4"] < REL_TOL_FLOAT32_FASTVGG else "BWD NO"]
        lines.append(f"{name:8}" + "".join(f" {e[key]:10.2e}" for key in keys) + "  " + " ".join(meets))
    return "\n".join(lines)


@pytest.mark.parametrize("size", [256, 512])
def test_float32_error_per_vgg19_layer_tile4_against_tile2_and_im2col(size):
    """Whether tile=4 meets FastVGG's float32 tolerance on every VGG19 layer with the real
    weights, forward and backward, and how far it is from tile=2 and im2col (the table is
    printed: pytest -s)."""
    errors = vgg19_float32_errors(size)
    table = error_table(size, errors)
    print("\n" + table)
    assert len(errors) == 13
    for e in errors.values():
        assert max(e.values()) < REL_TOL_FLOAT32_FASTVGG, table
