"""The Winograd convolution against the plain im2col one, the definition of the project.

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
from nst_numpy import vgg, winograd
from nst_numpy.gradcheck import check_gradient

from conftest import random_vgg_weights

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


def test_vgg_fuses_the_relus_into_winograd_convs_only_where_it_may(monkeypatch):
    """The ReLU after a Winograd conv runs inside it, forward and backward, except where the
    conv's own output is asked for or receives a gradient; conv1_1 (im2col) keeps its own."""
    calls = []
    monkeypatch.setattr(L, "relu_forward", lambda x, f=L.relu_forward: calls.append("f") or f(x))
    monkeypatch.setattr(L, "relu_backward", lambda d, c, f=L.relu_backward: calls.append("b") or f(d, c))
    model = vgg.VGG(random_vgg_weights(), conv_impl="winograd")
    x = np.random.default_rng(15).normal(size=(3, 12, 12))
    out = model.forward(x, ["relu3_1"])
    model.backward({"relu3_1": np.ones_like(out["relu3_1"])})
    assert calls == ["f", "b"]                 # relu1_1, after the im2col conv1_1
    calls.clear()
    out = model.forward(x, ["conv2_2", "relu3_1"])
    model.backward({"relu3_1": out["relu3_1"], "conv2_2": out["conv2_2"]})
    assert calls == ["f", "f", "b", "b"]       # relu1_1 and relu2_2, both ways


def test_vgg_keeps_only_the_mask_of_a_fused_relu():
    """The backward of a fused ReLU needs only where its output is positive: the VGG keeps
    that bool mask (a quarter of a float32 output's memory), and a ReLU on its own its output."""
    model = vgg.VGG(random_vgg_weights(), conv_impl="winograd")
    model.forward(np.random.default_rng(19).normal(size=(3, 12, 12)), ["relu3_1"])
    relu_caches = {name: cache for name, cache, _ in model._thread.caches if name.startswith("relu")}
    assert relu_caches["relu1_1"].dtype == np.float64                  # after the im2col conv1_1
    assert all(relu_caches[name].dtype == bool for name in ("relu1_2", "relu2_1", "relu2_2", "relu3_1"))


def test_vgg_fuses_max_pools_into_winograd_convs_only_where_it_may(monkeypatch):
    """A max pool runs inside the Winograd conv two layers before it, unless that conv's
    output is wanted; average pooling runs on its own; a too small image still gets the
    clear error of the pool layer."""
    calls = []
    pool_forward, pool_backward = vgg.POOLING["max"]
    monkeypatch.setitem(vgg.POOLING, "max", (lambda x: calls.append(("f", x.shape)) or pool_forward(x),
                                             lambda d, c: calls.append(("b", d.shape)) or pool_backward(d, c)))
    weights = random_vgg_weights()
    model = vgg.VGG(weights, conv_impl="winograd")
    x = np.random.default_rng(17).normal(size=(3, 12, 10))
    out = model.forward(x, ["relu3_1"])
    model.backward({"relu3_1": out["relu3_1"]})
    assert calls == []                         # pool1 and pool2 fused, both ways
    out = model.forward(x, ["conv2_2", "relu3_1"])
    model.backward({"relu3_1": out["relu3_1"]})
    assert calls == [("f", (128, 6, 5))]       # pool2 forward on its own
    calls.clear()
    out = model.forward(x, ["relu1_2", "relu3_1"])
    model.backward({"relu3_1": out["relu3_1"], "relu1_2": out["relu1_2"]})
    assert calls == [("b", (64, 6, 5))]        # pool1 backward on its own: relu1_2 gets a gradient
    calls.clear()
    with pytest.raises(ValueError, match="too small to reach pool4"):
        model.forward(np.ones((3, 8, 8)), ["relu5_1"])
    calls.clear()
    avg_pool = vgg.VGG(weights, pooling="avg", conv_impl="winograd")
    monkeypatch.setitem(vgg.POOLING, "avg", (lambda x: calls.append(x.shape) or L.avg_pool_forward(x),
                                             L.avg_pool_backward))
    avg_pool.forward(x, ["relu3_1"])
    assert calls == [(64, 12, 10), (128, 6, 5)]


@pytest.mark.parametrize("C,K,H", [(16, 8, 13), (64, 32, 12), (256, 16, 6)])
def test_float32_error_is_round_off(C, K, H):
    x, w, b = random_conv((C, K, H, H + 1), seed=6)
    dout = np.random.default_rng(7).normal(size=(K, H, H + 1))
    f32 = [a.astype(np.float32) for a in (x, w, b, dout)]
    exact, _ = L.conv2d_forward(x, w, b)
    exact_dx = L.conv2d_backward_input(dout, (x, w, 1))
    # The scale of each output's round-off: the same sums with every term made positive.
    scale, _ = L.conv2d_forward(np.abs(x), np.abs(w), np.abs(b))
    dx_scale = L.conv2d_backward_input(np.abs(dout), (x, np.abs(w), 1))
    for module in (L, winograd):
        out, cache = module.conv2d_forward(*f32[:3])
        dx = module.conv2d_backward_input(f32[3], cache)
        assert out.dtype == dx.dtype == np.float32, "no silent upcast"
        assert np.max(np.abs(out - exact) / scale) <= ROUND_OFF_UNITS_FLOAT32 * U32, module.__name__
        assert np.max(np.abs(dx - exact_dx) / dx_scale) <= ROUND_OFF_UNITS_FLOAT32 * U32, module.__name__


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
    with pytest.raises(ValueError, match="conv_impl.*'im2col', 'winograd'"):
        vgg.VGG(random_vgg_weights(), conv_impl="fft")


@pytest.mark.parametrize("dtype,tol", [(np.float64, REL_TOL_FLOAT64), (np.float32, 1e-5)])
@pytest.mark.parametrize("arch", ["vgg19", "vgg16"])
def test_whole_vgg_forward_and_backward_match(arch, dtype, tol):
    """Through every block, odd sides, block 5 at 1x1: 19 x 17 -> 9x8 -> 4x4 -> 2x2 -> 1x1.

    float32 through 16 layers: each layer adds a few u of relative round-off, so the
    two paths may drift apart by ~1e-6 relative; 1e-5 leaves room, a bug gives O(1).
    """
    weights = random_vgg_weights(arch)
    plain = vgg.VGG(weights, arch=arch, pooling="max")
    fast = vgg.VGG(weights, arch=arch, pooling="max", conv_impl="winograd")
    x = np.random.default_rng(8).normal(size=(3, 19, 17)).astype(dtype)
    layers = ["relu1_2", "conv3_1", "relu4_2", "relu5_1"]
    ref, out = plain.forward(x, layers), fast.forward(x, layers)
    assert out["relu5_1"].shape[1:] == (1, 1)
    for name in layers:
        assert out[name].dtype == dtype
        assert rel_err(out[name], ref[name]) < tol, name
    grads = {name: np.random.default_rng(9).normal(size=a.shape).astype(dtype) for name, a in ref.items()}
    dx_ref, dx = plain.backward(grads), fast.backward(grads)
    assert dx.dtype == dtype
    assert rel_err(dx, dx_ref) < tol
    assert rel_err(fast.backward(grads, to="conv2_1"), plain.backward(grads, to="conv2_1")) < tol


# With max pooling, the image of seed 10 has a sampled pixel within h of a switch of some
# window's maximum, where the difference quotient itself is off (the plain im2col path
# fails there too, 1.4e-6 > 1e-6); seed 14's pixels are clear of such kinks.
@pytest.mark.parametrize("pooling, image_seed", [("avg", 10), ("max", 14)])
def test_vgg_winograd_image_gradient_matches_finite_differences(pooling, image_seed):
    """The fast path's image gradient against the definition, float64, tolerance as in test_vgg
    (with max pooling, the pools and ReLUs run inside the convs)."""
    model = vgg.VGG(random_vgg_weights(), pooling=pooling, conv_impl="winograd")
    x = np.random.default_rng(image_seed).normal(size=(3, 10, 12))
    g = np.random.default_rng(11).normal(size=model.forward(x, ["relu3_1"])["relu3_1"].shape)

    def loss(v):
        return float(np.sum(model.forward(v, ["relu3_1"])["relu3_1"] * g))

    model.forward(x, ["relu3_1"])
    dx = model.backward({"relu3_1": g})
    result = check_gradient(loss, x, dx, num_samples=30, seed=12)
    assert result, str(result)


@pytest.mark.parametrize("shape,kernel,pad", [((3, 7, 6), 3, 1), ((2, 9, 5), 5, 2), ((4, 6, 5), 3, 0)])
def test_im2col_row_bands_give_the_same_result_as_one_band(monkeypatch, shape, kernel, pad):
    """The plain conv builds its columns in bands of output rows when they would be large;
    force one row per band and compare with a single band (forward and input gradient)."""
    rng = np.random.default_rng(13)
    x = rng.normal(size=shape)
    w = rng.normal(size=(4, shape[0], kernel, kernel))
    b = rng.normal(size=4)
    out, cache = L.conv2d_forward(x, w, b, pad=pad)
    dout = rng.normal(size=out.shape)
    dx = L.conv2d_backward_input(dout, cache)
    monkeypatch.setattr(L, "MAX_COLS_BYTES", 1)
    assert len(L._row_bands(shape[0], kernel, kernel, *out.shape[1:], x.itemsize)) == out.shape[1]
    out_banded, cache_banded = L.conv2d_forward(x, w, b, pad=pad)
    assert rel_err(out_banded, out) < 1e-13
    assert rel_err(L.conv2d_backward_input(dout, cache_banded), dx) < 1e-13
