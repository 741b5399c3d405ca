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

MAX_COLS_BYTES = 16 * 2**20   # largest column matrix built at once (see row_bands)


def row_bands(C, kh, kw, H_out, W_out, itemsize):
    """Ranges [y0, y1) of output rows whose column matrix takes at most MAX_COLS_BYTES.

    At 512 x 512, conv1_2's whole column matrix would be 576 x 262144 floats (600 MB in
    float32); in bands, memory stays bounded at any image size. Each band is still one
    GEMM with thousands of columns, so BLAS runs at full speed.
    """
    rows = max(1, MAX_COLS_BYTES // (C * kh * kw * W_out * itemsize))
    return [(y0, min(y0 + rows, H_out)) for y0 in range(0, H_out, rows)]


def conv2d_forward(x, w, b, pad=None):
    """Convolution (cross-correlation, as in every deep learning library), stride 1.

    x: (C, H, W); w: (K, C, kh, kw) -- out channels, in channels, kernel rows, cols;
    b: (K,); pad: zero padding on each side, default ``kh // 2`` ("same" for odd kernels).
    Returns out: (K, H_out, W_out) and a cache for the backward pass.

        out[k, y, x] = b[k] + sum_{c,i,j} w[k, c, i, j] * x_padded[c, y + i, x + j]

    which, with ``cols = im2col(x)`` and ``w`` flattened to ``(K, C*kh*kw)``, is one GEMM:

        F = W @ cols + b            F: (K, H_out*W_out)

    On large images the columns are built for a band of output rows at a time (output
    rows y0..y1 read padded input rows y0..y1+kh-2 only): one GEMM per band.
    """
    K, C, kh, kw = w.shape
    if x.ndim != 3 or x.shape[0] != C:
        raise ValueError(
            f"conv2d: input of shape {x.shape} does not match kernel of shape {w.shape}; "
            f"expected (C, H, W) with C = {C}")
    if pad is None:
        pad = kh // 2
    H_out, W_out = x.shape[1] + 2 * pad - kh + 1, x.shape[2] + 2 * pad - kw + 1
    x_padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    out = np.empty((K, H_out, W_out), dtype=np.result_type(x, w, b))
    for y0, y1 in row_bands(C, kh, kw, H_out, W_out, x.itemsize):
        cols = im2col(x_padded[:, y0:y1 + kh - 1], kh, kw, 0)
        # F = W cols   (the band's columns of F), written in place
        np.matmul(w.reshape(K, -1), cols, out=out[:, y0:y1].reshape(K, -1))
    # F = W cols + b
    out += b[:, None, None]
    # The cache keeps x, not cols: cols is kh*kw times larger than x and the input
    # gradient does not need it (see conv2d_backward_input).
    cache = (x, w, pad)
    return out, cache


def conv2d_backward_input(dout, cache):
    """Gradient of the loss with respect to the convolution's input.

    dout: (K, H_out, W_out) = dL/d(out). Returns dx: (C, H, W).

        dL/dcols = W^T @ dL/dF,     dx = col2im(dL/dcols)

    in the same bands of output rows as the forward pass; a band's patches overlap the
    next band's by kh - 1 input rows, where their contributions add.
    This is all that style transfer needs: it optimizes the pixels, never the weights.
    """
    x, w, pad = cache
    K, C, kh, kw = w.shape
    H_out, W_out = dout.shape[1:]
    dx_padded = np.zeros((C, H_out + kh - 1, W_out + kw - 1), dtype=np.result_type(w, dout))
    for y0, y1 in row_bands(C, kh, kw, H_out, W_out, dout.itemsize):
        # dL/dcols = W^T dL/dF   (the band's columns)
        dcols = w.reshape(K, -1).T @ dout[:, y0:y1].reshape(K, -1)
        dx_padded[:, y0:y1 + kh - 1] += col2im(dcols, (C, y1 - y0 + kh - 1, W_out + kw - 1), kh, kw, 0)
    H, W = x.shape[1:]
    return dx_padded[:, pad:pad + H, pad:pad + W]


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
    the chain rule (erratum 6): a unit whose pre-activation is not positive passes no
    gradient back to it.
    """
    out = cache
    return dout * (out > 0)


# ---------------------------------------------------------------------------
# 2x2 pooling, stride 2
# ---------------------------------------------------------------------------

# The four entries of a 2x2 window, in row-major order: (row, column) offsets.
WINDOW_OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _window_entries(x):
    """The four entries of every 2x2 window of x (C, H, W): four strided views, no copy.

    Entry k of window (y, x) is ``x[:, 2y + i, 2x + j]`` with ``(i, j) = WINDOW_OFFSETS[k]``;
    each view has shape (C, H//2, W//2). An odd last row or column lies in no window
    (floor, as VGG does).
    """
    Ho, Wo = x.shape[1] // 2, x.shape[2] // 2
    return [x[:, i:2 * Ho:2, j:2 * Wo:2] for i, j in WINDOW_OFFSETS]


def max_pool_forward(x):
    """2x2 max pooling, stride 2. x: (C, H, W) -> out: (C, H//2, W//2).

    out[c, y, x] = max of the window x[c, 2y:2y+2, 2x:2x+2].
    """
    out, first = max_of_window_entries(*_window_entries(x))
    return out, (first, x.shape)


def max_of_window_entries(a, b, c, d):
    """The maximum of each 2x2 window given its four entries (in WINDOW_OFFSETS order,
    equally shaped arrays), and which entry (0..3) holds it.

    Only a strictly larger entry takes over, so on a tie the first in row-major order wins
    and gets the whole gradient. ``first`` is uint8: 8x less memory than int64.
    """
    top, bottom = np.maximum(a, b), np.maximum(c, d)
    out = np.maximum(top, bottom)
    first_top = (b > a).view(np.uint8)                      # 0 or 1
    first_bottom = (d > c).view(np.uint8) + np.uint8(2)     # 2 or 3
    # first_top, or first_bottom where the bottom row holds the maximum (arithmetic, not a
    # masked copy: one fast pass)
    first = first_top + (bottom > top) * (first_bottom - first_top)
    return out, first


def max_pool_backward(dout, cache):
    """dx is dout at the position of each window's (first) maximum, zero elsewhere."""
    first, x_shape = cache
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for k, entry in enumerate(_window_entries(dx)):
        # dL/dx_k = dL/dy where entry k is the window's maximum, else 0
        np.multiply(dout, first == k, out=entry)
    return dx


def avg_pool_forward(x):
    """2x2 average pooling, stride 2 (Gatys et al. prefer it to max pooling).

    out[c, y, x] = 1/4 * sum of the window x[c, 2y:2y+2, 2x:2x+2].
    """
    a, b, c, d = _window_entries(x)
    return (a + b + c + d) / 4, x.shape


def avg_pool_backward(dout, cache):
    """dx = dout / 4 spread over each window; zero on a dropped odd row or column."""
    x_shape = cache
    dx = np.zeros(x_shape, dtype=dout.dtype)
    quarter = dout / 4
    for entry in _window_entries(dx):
        entry[...] = quarter
    return dx
