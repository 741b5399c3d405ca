"""Each layer against an independent reference (forward) and finite differences (backward).

Gradient checks run in float64 with check_gradient's own step and tolerance: the rule that
nst_numpy/gradcheck.py states once for the whole project (a correct backward agrees to 1e-8 or
better, a wrong index, sign or factor gives 1e-3 to 1, the tolerance 1e-6 sits between).
"""

import numpy as np
import pytest
from scipy.signal import correlate

from nst_numpy import layers as L
from nst_numpy.gradcheck import check_gradient

def reference_conv(x, w, b, pad):
    """Direct cross-correlation with scipy, channel by channel: independent of im2col."""
    x_padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    return np.stack([
        b[k] + sum(correlate(x_padded[c], w[k, c], mode="valid") for c in range(x.shape[0]))
        for k in range(w.shape[0])])


def reference_pool(x, reduce):
    C, H, W = x.shape
    out = np.empty((C, H // 2, W // 2))
    for c in range(C):
        for y in range(H // 2):
            for z in range(W // 2):
                out[c, y, z] = reduce(x[c, 2 * y:2 * y + 2, 2 * z:2 * z + 2])
    return out


def conv_problem(shape, kernel, pad, seed):
    """x, w (4 filters), b, the forward's out and cache, and a random dout shaped like out."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    w = rng.normal(size=(4, shape[0], kernel, kernel))
    b = rng.normal(size=4)
    out, cache = L.conv2d_forward(x, w, b, pad=pad)
    return x, w, b, out, cache, rng.normal(size=out.shape)


def scalar_loss(out, weights):
    """A generic scalar of a layer's output whose gradient is ``weights``."""
    return float(np.sum(out * weights))


@pytest.mark.parametrize("shape,kernel,pad", [
    ((3, 7, 6), 3, 1),   # VGG's 3x3 "same", odd and even sides
    ((2, 5, 5), 5, 2),   # a general k x k kernel
    ((4, 6, 5), 3, 0),   # "valid" convolution
    ((2, 4, 4), 1, 0),   # 1x1 convolution
])
def test_conv_forward_matches_direct_correlation(shape, kernel, pad):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    w = rng.normal(size=(5, shape[0], kernel, kernel))
    b = rng.normal(size=5)
    out, _ = L.conv2d_forward(x, w, b, pad=pad)
    np.testing.assert_allclose(out, reference_conv(x, w, b, pad), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape,kernel,pad", [((3, 5, 4), 3, 1), ((2, 6, 5), 5, 2), ((2, 5, 5), 3, 0)])
def test_conv_backward_matches_finite_differences(shape, kernel, pad):
    x, w, b, out, cache, dout = conv_problem(shape, kernel, pad, seed=1)
    dx, dw, db = L.conv2d_backward(dout, cache)

    assert check_gradient(lambda x_: scalar_loss(L.conv2d_forward(x_, w, b, pad)[0], dout), x, dx)
    assert check_gradient(lambda w_: scalar_loss(L.conv2d_forward(x, w_, b, pad)[0], dout), w, dw)
    assert check_gradient(lambda b_: scalar_loss(L.conv2d_forward(x, w, b_, pad)[0], dout), b, db)
    np.testing.assert_array_equal(L.conv2d_backward_input(dout, cache), dx)


def test_col2im_is_the_adjoint_of_im2col():
    # <im2col(x), c> = <x, col2im(c)> for all x, c: the defining property of the backward.
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 5, 6))
    cols = rng.normal(size=(3 * 9, 5 * 6))
    lhs = np.sum(L.im2col(x, 3, 3, 1) * cols)
    rhs = np.sum(x * L.col2im(cols, x.shape, 3, 3, 1))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_conv_keeps_float32():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 6, 6)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)
    out, cache = L.conv2d_forward(x, w, np.zeros(4, np.float32))
    assert out.dtype == np.float32
    assert L.conv2d_backward_input(np.ones_like(out), cache).dtype == np.float32


def test_conv_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match=r"\(2, 5, 5\).*\(4, 3, 3, 3\)"):
        L.conv2d_forward(np.zeros((2, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(4))


def test_relu_forward_backward_and_mask():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 4, 5))
    out, cache = L.relu_forward(x)
    np.testing.assert_array_equal(out, np.where(x > 0, x, 0))
    dout = rng.normal(size=x.shape)
    dx = L.relu_backward(dout, cache)
    assert check_gradient(lambda x_: scalar_loss(L.relu_forward(x_)[0], dout), x, dx)
    # The mask: no gradient where the pre-activation is negative.
    assert np.all(dx[x < 0] == 0)
    np.testing.assert_array_equal(dx[x > 0], dout[x > 0])


@pytest.mark.parametrize("shape", [(2, 4, 6), (3, 5, 7), (1, 3, 2)])
def test_max_pool_forward_matches_loops_and_floors_odd_sizes(shape):
    x = np.random.default_rng(5).normal(size=shape)
    out, _ = L.max_pool_forward(x)
    assert out.shape == (shape[0], shape[1] // 2, shape[2] // 2)
    np.testing.assert_array_equal(out, reference_pool(x, np.max))


@pytest.mark.parametrize("shape", [(2, 4, 6), (3, 5, 7)])
def test_avg_pool_forward_matches_loops_and_floors_odd_sizes(shape):
    x = np.random.default_rng(6).normal(size=shape)
    out, _ = L.avg_pool_forward(x)
    np.testing.assert_allclose(out, reference_pool(x, np.mean), rtol=1e-14)


@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("shape", [(2, 4, 6), (3, 5, 7)])
def test_pool_backward_matches_finite_differences(pool, shape):
    forward, backward = {"max": (L.max_pool_forward, L.max_pool_backward),
                         "avg": (L.avg_pool_forward, L.avg_pool_backward)}[pool]
    rng = np.random.default_rng(7)
    x = rng.normal(size=shape)   # random: no ties within h of each other
    out, cache = forward(x)
    dout = rng.normal(size=out.shape)
    dx = backward(dout, cache)
    assert check_gradient(lambda x_: scalar_loss(forward(x_)[0], dout), x, dx)
    if shape[1] % 2:
        assert np.all(dx[:, -1, :] == 0), "a dropped odd row gets no gradient"


def test_max_pool_tie_sends_gradient_to_first_element_only():
    x = np.ones((1, 2, 2))
    out, cache = L.max_pool_forward(x)
    dx = L.max_pool_backward(np.array([[[5.0]]]), cache)
    np.testing.assert_array_equal(dx, [[[5.0, 0.0], [0.0, 0.0]]])


@pytest.mark.parametrize("shape", [(3, 8, 6), (2, 9, 5), (1, 1, 4), (4, 7, 7)])
def test_fast_max_pool_is_the_plain_one_ties_included(shape):
    """nst_numpy.fast.pooling against layers.py: the same maxima, the same cache (the first
    maximum of a tied window), the same gradient; each backward takes the other's cache."""
    from nst_numpy.fast import pooling
    rng = np.random.default_rng(14)
    x = rng.integers(0, 3, size=shape).astype(np.float64)   # few values: many ties
    (out, cache), (fast_out, fast_cache) = L.max_pool_forward(x), pooling.max_pool_forward(x)
    np.testing.assert_array_equal(fast_out, out)
    np.testing.assert_array_equal(fast_cache[0], cache[0])
    dout = rng.normal(size=out.shape)
    dx = L.max_pool_backward(dout, cache)
    np.testing.assert_array_equal(pooling.max_pool_backward(dout, cache), dx)
    np.testing.assert_array_equal(L.max_pool_backward(dout, fast_cache), dx)
