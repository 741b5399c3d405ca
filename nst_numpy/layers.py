"""The layers of a VGG network, each a ``forward`` and a hand-derived ``backward``.

Every ``*_forward(x, ...)`` returns ``(out, cache)``; every ``*_backward(dout, cache)``
returns the gradient with respect to the layer's input. One image is a ``(C, H, W)``
array with no batch axis. Nothing here upcasts: the output has the dtype of ``x``.

Convolution is im2col followed by one matrix product. Reshaping a layer's output
``(N_l, H, W)`` to ``(N_l, M_l)`` with ``M_l = H*W`` gives the quiz's ``F^l``; in this
layout the forward pass reads ``F^l = W @ cols + b``, the same shape as the equations.
"""

import numpy as np


# ---------------------------------------------------------------------------
# im2col / col2im
# ---------------------------------------------------------------------------

def im2col(x, kh, kw, pad):
    """Unfold every ``kh x kw`` patch of ``x`` into one column.

    x: (C, H, W). Returns cols: (C*kh*kw, H_out*W_out) with
    ``H_out = H + 2*pad - kh + 1`` (stride 1). Row ``(c, i, j)`` of ``cols`` (in C order)
    holds ``x_padded[c, i + y, j + x]`` for every output position ``(y, x)``.
    """
    C, H, W = x.shape
    H_out, W_out = H + 2 * pad - kh + 1, W + 2 * pad - kw + 1
    x_padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((C, kh, kw, H_out, W_out), dtype=x.dtype)
    # One shifted copy of the image per kernel offset (i, j): kh*kw slices, no Python loop
    # over pixels.
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = x_padded[:, i:i + H_out, j:j + W_out]
    return cols.reshape(C * kh * kw, H_out * W_out)


def col2im(cols, x_shape, kh, kw, pad):
    """Adjoint of :func:`im2col`: add every column back onto the patch it came from.

    cols: (C*kh*kw, H_out*W_out). Returns dx: (C, H, W) = x_shape. A pixel that lies in
    several patches receives the sum of their entries, which is exactly what the chain
    rule asks for, since im2col copied it into each of them.
    """
    C, H, W = x_shape
    H_out, W_out = H + 2 * pad - kh + 1, W + 2 * pad - kw + 1
    cols = cols.reshape(C, kh, kw, H_out, W_out)
    dx_padded = np.zeros((C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dx_padded[:, i:i + H_out, j:j + W_out] += cols[:, i, j]
    return dx_padded[:, pad:pad + H, pad:pad + W]


# ---------------------------------------------------------------------------
# Convolution (stride 1, zero padding)
# ---------------------------------------------------------------------------

def conv2d_forward(x, w, b, pad=None):
    """Convolution (cross-correlation, as in every deep learning library), stride 1.

    x: (C, H, W); w: (K, C, kh, kw) -- out channels, in channels, kernel rows, cols;
    b: (K,); pad: zero padding on each side, default ``kh // 2`` ("same" for odd kernels).
    Returns out: (K, H_out, W_out) and a cache for the backward pass.

        out[k, y, x] = b[k] + sum_{c,i,j} w[k, c, i, j] * x_padded[c, y + i, x + j]

    which, with ``cols = im2col(x)`` and ``w`` flattened to ``(K, C*kh*kw)``, is one GEMM:

        F = W @ cols + b            F: (K, H_out*W_out)

    (The column matrix is kh*kw times larger than x: 600 MB for conv1_2 at 512 x 512 in
    float32. The fast path, :mod:`nst_numpy.fast`, computes the same function without it.)
    """
    K, C, kh, kw = w.shape
    if x.ndim != 3 or x.shape[0] != C:
        raise ValueError(
            f"conv2d: input of shape {x.shape} does not match kernel of shape {w.shape}; "
            f"expected (C, H, W) with C = {C}")
    if pad is None:
        pad = kh // 2
    H_out, W_out = x.shape[1] + 2 * pad - kh + 1, x.shape[2] + 2 * pad - kw + 1
    cols = im2col(x, kh, kw, pad)
    # F = W cols + b
    out = w.reshape(K, -1) @ cols + b[:, None]
    # The cache keeps x, not cols: the input gradient does not need cols, and x is smaller.
    cache = (x, w, pad)
    return out.reshape(K, H_out, W_out), cache


def conv2d_backward_input(dout, cache):
    """Gradient of the loss with respect to the convolution's input.

    dout: (K, H_out, W_out) = dL/d(out). Returns dx: (C, H, W).

        dL/dcols = W^T @ dL/dF,     dx = col2im(dL/dcols)

    This is all that style transfer needs: it optimizes the pixels, never the weights.
    """
    x, w, pad = cache
    K, C, kh, kw = w.shape
    # dL/dcols = W^T dL/dF
    dcols = w.reshape(K, -1).T @ dout.reshape(K, -1)
    # dx = col2im(dL/dcols): each column's entries added back onto the patch they came from
    return col2im(dcols, x.shape, kh, kw, pad)


def conv2d_backward(dout, cache):
    """Gradients with respect to input, kernel and bias.

    dout: (K, H_out, W_out). Returns (dx: (C, H, W), dw: (K, C, kh, kw), db: (K,)).

        dL/dW = dL/dF @ cols^T,     dL/db_k = sum_m dL/dF_km

    ``cols`` is rebuilt from the cached input: the weight gradient is here for
    completeness and for tests, not for the style-transfer hot path.
    """
    x, w, pad = cache
    K, C, kh, kw = w.shape
    dF = dout.reshape(K, -1)
    dw = (dF @ im2col(x, kh, kw, pad).T).reshape(w.shape)
    db = dF.sum(axis=1)
    return conv2d_backward_input(dout, cache), dw, db


# ---------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------

def relu_forward(x):
    """out = max(x, 0), any shape.

    The cache is ``out`` itself: ``out > 0`` exactly where ``x > 0``, and the next layer
    keeps ``out`` anyway, so the pre-activation ``x`` can be freed (memory).
    """
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    """dx = dout * [x > 0]. At exactly x = 0 the gradient is taken as 0.

    The quiz's gradients stop at the post-ReLU activation; this mask is the next step of
    the chain rule (clarification 2 of docs/quiz.md): a unit whose pre-activation is not
    positive passes no gradient back to it.
    """
    out = cache
    return dout * (out > 0)


# ---------------------------------------------------------------------------
# 2x2 pooling, stride 2
# ---------------------------------------------------------------------------

def windows(x):
    """The 2x2 windows of x (C, H, W) as (C, H//2, W//2, 4), each window's four entries in
    row-major order: entry 2i + j is ``x[c, 2y + i, 2x + j]``. An odd last row or column
    lies in no window (floor, as VGG does)."""
    C, H, W = x.shape
    Ho, Wo = H // 2, W // 2
    return (x[:, :2 * Ho, :2 * Wo].reshape(C, Ho, 2, Wo, 2)
            .transpose(0, 1, 3, 2, 4).reshape(C, Ho, Wo, 4))


def unwindows(entries, x_shape):
    """The inverse of :func:`windows`: (C, Ho, Wo, 4) back to an (C, H, W) array, zero in a
    dropped odd row or column."""
    C, Ho, Wo, _ = entries.shape
    x = np.zeros(x_shape, dtype=entries.dtype)
    x[:, :2 * Ho, :2 * Wo] = (entries.reshape(C, Ho, Wo, 2, 2).transpose(0, 1, 3, 2, 4)
                              .reshape(C, 2 * Ho, 2 * Wo))
    return x


def max_pool_forward(x):
    """2x2 max pooling, stride 2. x: (C, H, W) -> out: (C, H//2, W//2).

    out[c, y, x] = max of the window x[c, 2y:2y+2, 2x:2x+2]. The cache holds which entry
    of each window is the maximum (the first one, in row-major order, on a tie).
    """
    entries = windows(x)
    first = entries.argmax(axis=3)
    out = np.take_along_axis(entries, first[..., None], axis=3)[..., 0]
    return out, (first.astype(np.uint8), x.shape)


def max_pool_backward(dout, cache):
    """dx is dout at the position of each window's (first) maximum, zero elsewhere.

    The maximum is not differentiable where two entries tie; giving the whole gradient to
    one of them is one valid choice of subgradient.
    """
    first, x_shape = cache
    entries = np.zeros(first.shape + (4,), dtype=dout.dtype)
    # dL/dx_k = dL/dy where entry k is the window's maximum, else 0
    np.put_along_axis(entries, first[..., None].astype(np.intp), dout[..., None], axis=3)
    return unwindows(entries, x_shape)


def avg_pool_forward(x):
    """2x2 average pooling, stride 2 (Gatys et al. prefer it to max pooling).

    out[c, y, x] = 1/4 * sum of the window x[c, 2y:2y+2, 2x:2x+2].
    """
    return windows(x).mean(axis=3), x.shape


def avg_pool_backward(dout, cache):
    """dx = dout / 4 spread over each window; zero on a dropped odd row or column."""
    x_shape = cache
    return unwindows(np.repeat(dout[..., None] / 4, 4, axis=3), x_shape)
