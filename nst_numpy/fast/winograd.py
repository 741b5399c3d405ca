"""A fast 3x3 "same" convolution: Winograd's minimal filtering F(m x m, 3 x 3).

The plain convolution in :mod:`nst_numpy.layers` (im2col + one GEMM) is the one the docs
explain and the one the gradient checks use. This module computes the same function with
fewer multiplications, for speed; ``tests/test_fast.py`` checks it against the plain one.

The idea, in one dimension. Two outputs of a 3-tap correlation from four inputs ``d``,

    y_0 = d_0 g_0 + d_1 g_1 + d_2 g_2,      y_1 = d_1 g_0 + d_2 g_1 + d_3 g_2,

cost 6 multiplications directly but only 4 as ``y = A^T [(G g) * (B^T d)]`` with the
matrices ``B^T, G, A^T`` below: transform the kernel (once), transform the input, multiply
elementwise, transform back. Nesting it in rows and columns gives 2x2 outputs from a 4x4
input tile with 16 multiplications instead of 36:

    Y = A^T [ (G g G^T) * (B^T d B) ] A                                    (Lavin & Gray 2016)

Across channels the elementwise products are summed, so for each of the 16 positions
``(i, j)`` of the transformed tile the sum over input channels ``c`` is one matrix product:

    M[ij] = U[ij] @ V[ij],    U[ij] = (G g G^T)_ij: (K, C),   V[ij] = (B^T d B)_ij: (C, tiles)

16 GEMMs of (K x C) @ (C x tiles): 4 multiply-adds per output instead of im2col's 9.

The input gradient of a stride-1 "same" 3x3 convolution is the same kind of convolution
with the kernel flipped in space and its in/out channels swapped, so the backward pass
reuses the forward with that kernel:

    dx[c, y, x] = sum_{k,i,j} w[k, c, 2 - i, 2 - j] * dout_padded[k, y + i, x + j]

Images are processed in bands of tile rows whose working memory (transformed tiles:
96 (C + K) bytes per tile in float32) stays under ``BAND_BYTES`` whatever the image size.
Bands are few and wide (a band of thousands of tiles keeps the 16 GEMMs efficient) and run
in parallel threads, one per core (:mod:`nst_numpy.fast.parallel`).

NumPy runs an elementwise operation fast when it sweeps contiguous memory. Tiles overlap
(4 x 4 inputs every 2 pixels), so entry (a, b) of all tiles, taken from the image, is a
stride-2 view. Splitting the padded input into its four row/column parity planes, once,
makes that entry a contiguous slice of a flattened plane (see :func:`_band`): every
transform pass then reads and writes contiguous memory.
"""

import numpy as np

from .. import layers
from .parallel import map_bands, usable_cores

# F(2x2, 3x3): 4x4 input tiles, 2x2 output tiles. The data transforms B^T and A^T hold
# only 0 and +-1 (exact additions, at least two terms per row); G holds +-1/2.
B_T = np.array([[1, 0, -1, 0],
                [0, 1, 1, 0],
                [0, -1, 1, 0],
                [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0],
              [0.5, 0.5, 0.5],
              [0.5, -0.5, 0.5],
              [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0],
                [0, 1, -1, -1]], dtype=np.float64)
M_OUT = A_T.shape[0]     # m = 2 outputs per tile side
ALPHA = B_T.shape[0]     # alpha = m + 3 - 1 = 4 inputs per tile side
BAND_BYTES = 32 * 2**20  # working memory of one band (chosen with benchmarks/bench_layers.py)
# Bands computed at once by default, each in its own thread with single-threaded BLAS
# (:mod:`nst_numpy.fast.parallel`): the elementwise transforms then run on every core too.
THREADS = usable_cores()
# Fewer tiles than this per thread (an 8 x 8 image) are not worth a thread.
MIN_TILES_PER_THREAD = 16


def kernel_transform(w):
    """U = G g G^T for every (out, in) channel pair.

    w: (K, C, 3, 3). Returns U: (alpha*alpha, K, C) in w's dtype, ready for the batched GEMM.
    Computed in float64 and rounded once.
    """
    K, C = w.shape[:2]
    # (G g)[i, k, c, b] = sum_a G[i, a] w[k, c, a, b]: one product (4, 3) @ (3, K*C*3)
    gw = (G @ w.astype(np.float64).transpose(2, 0, 1, 3).reshape(3, -1)).reshape(ALPHA, K, C, 3)
    # U[j, i, k, c] = sum_b G[j, b] (G g)[i, k, c, b]: again (4, 3) @ (3, 4*K*C)
    u = (G @ gw.transpose(3, 0, 1, 2).reshape(3, -1)).reshape(ALPHA, ALPHA, K, C)
    # the products left j in front: swap to U[i, j, k, c]
    u = u.transpose(1, 0, 2, 3)
    return np.ascontiguousarray(u.reshape(ALPHA * ALPHA, K, C), dtype=w.dtype)


def flip_kernel(w):
    """The kernel of the input gradient: w'[c, k, i, j] = w[k, c, 2 - i, 2 - j]. (C, K, 3, 3)."""
    return w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)


def _combine(mat, parts, out):
    """out[i] = sum_a mat[i, a] * parts[a] for a small matrix with entries 0 or +-1.

    parts: equally shaped arrays; out: a sequence of ``len(mat)`` arrays of that shape,
    written in place. One pass per nonzero term beyond the first: no temporaries.
    """
    for i, row in enumerate(mat):
        terms = [(coef, part) for coef, part in zip(row.tolist(), parts) if coef != 0]
        (c0, p0), (c1, p1), rest = terms[0], terms[1], terms[2:]
        # the first two terms in one pass: p0 + p1, p0 - p1 or p1 - p0
        if c0 == 1:
            (np.add if c1 == 1 else np.subtract)(p0, p1, out=out[i])
        else:
            np.subtract(p1, p0, out=out[i])
        for coef, part in rest:
            (np.add if coef == 1 else np.subtract)(out[i], part, out=out[i])


def _parity_planes(x, t0, th, tw, relu_out=None, pool_first=None):
    """The zero-padded input under tile rows t0 .. t0+th-1, split by row and column parity.

    x: (C, H, W). Returns planes: (2, 2, C, th + 2, tw + 1) with

        planes[e, f, c, r, s] = x_padded[c, 2 (t0 + r) + e, 2 s + f]

    where ``x_padded`` is x with one row/column of zeros around it (the convolution's
    padding) and zeros beyond. One spare row at the bottom: see :func:`_band`.
    Fused backward passes of the layers after the conv (see :func:`conv3x3`):
    relu_out: shaped like x, or its mask relu_out > 0; x is taken times [relu_out > 0],
    a ReLU's backward.
    pool_first: with relu_out; x is then the gradient at the output of a 2x2 max pool,
    (C, H//2, W//2), and is first sent to each window's maximum, entry pool_first.
    """
    C, H, W = x.shape if pool_first is None else relu_out.shape
    planes = np.zeros((2, 2, C, th + 2, tw + 1), dtype=x.dtype)
    for e in range(2):
        y0 = 2 * t0 + e - 1                             # x row under plane row 0
        r0 = 1 if y0 < 0 else 0                         # (row -1 is padding)
        rows = slice(y0 + 2 * r0, y0 + 2 * (th + 2), 2)  # x rows under plane rows r0, r0 + 1, ...
        n_rows = len(range(*rows.indices(H)))
        for f in range(2):
            s0 = 1 - f                                  # (column -1 is padding)
            cols = slice(2 * s0 + f - 1, None, 2)       # x columns 2 s + f - 1 for s >= s0
            n_cols = len(range(*cols.indices(W)))
            if pool_first is None:
                source = x[:, rows, cols]
            else:
                # These rows and columns are entry (i, j) of windows from (rows.start // 2, 0)
                # on; a last odd row or column is in no window and keeps gradient 0.
                i, j = rows.start % 2, cols.start % 2
                windows = (slice(rows.start // 2, rows.start // 2 + n_rows), slice(0, n_cols))
                first = pool_first[:, windows[0], windows[1]]
                n_rows, n_cols = first.shape[1:]
                source = x[:, windows[0], windows[1]] * (first == 2 * i + j)
                rows = slice(rows.start, rows.start + 2 * n_rows, 2)
            plane = planes[e, f, :, r0:r0 + n_rows, s0:s0 + n_cols]
            if relu_out is None:
                plane[...] = source
            else:
                np.multiply(source, relu_out[:, rows, cols][:, :, :n_cols] > 0, out=plane)
    return planes


def _band(x, t0, th, tw, u, bias, out, relu, relu_out, pool_into, pool_first):
    """Tile rows t0 .. t0+th-1 of the convolution of x (C, H, W) -> out (K, 2 th, 2 tw).

    u: (alpha^2, K, C); bias: (K,) or None; relu ... pool_first: see :func:`conv3x3`.
    Every elementwise pass runs over contiguous memory: in the flattened parity planes, one
    entry (a, b) of every tile is one slice.
    """
    C = x.shape[0]
    K = u.shape[1]
    w1 = tw + 1                      # length of a plane row
    L = th * w1                      # tiles in the band, counted n = t w1 + s
    flat = _parity_planes(x, t0, th, tw, relu_out, pool_first).reshape(2, 2, C, (th + 2) * w1)
    # Entry (a, b) of tile (t, s), numbered n = t w1 + s, is
    #   x_padded[2 (t0 + t) + a, 2 s + b] = planes[a % 2, b % 2, :, t + a // 2, s + b // 2]
    #                                     = flat[a % 2, b % 2, :, n + (a // 2) w1 + b // 2]:
    # for all tiles at once, the contiguous slice starting at (a // 2) w1 + b // 2.
    # (n also runs over s = tw, a spare tile that reads wrapped-around values; its
    # outputs are dropped below.)
    #
    # B^T d B, the right-hand product first. For each row parity e, over plane rows 0 .. th:
    #   Q[e, j] = sum_b d[., b] B[b, j]         (d B: each tile row's 4 entries combined)
    q = np.empty((2, ALPHA, C, (th + 1) * w1), dtype=x.dtype)
    for e in range(2):
        d_e = [flat[e, b % 2][:, b // 2:b // 2 + (th + 1) * w1] for b in range(ALPHA)]
        _combine(B_T, d_e, q[e])
    #   V[i, j] = sum_a B^T[i, a] Q[a % 2, j] (shifted by (a // 2) w1)      (B^T d B)
    v = np.empty((ALPHA, ALPHA, C, L), dtype=x.dtype)
    for j in range(ALPHA):
        q_j = [q[a % 2, j][:, (a // 2) * w1:(a // 2) * w1 + L] for a in range(ALPHA)]
        _combine(B_T, q_j, v[:, j])
    del q, flat
    # M[ij] = U[ij] @ V[ij]: alpha^2 GEMMs of (K, C) @ (C, L), one np.matmul call
    mm = np.matmul(u, v.reshape(ALPHA * ALPHA, C, L)).reshape(ALPHA, ALPHA, K, L)
    del v
    if bias is not None:
        # Column 1 of A^T is (1, 1), so A^T e_1 e_1^T A is all ones: b added to M[1, 1]
        # reaches the four outputs of every tile (one pass over 1/16 of M).
        mm[1, 1] += bias[:, None]
    # Y = A^T M A:  Y1[p, j] = sum_i A^T[p, i] M[i, j];  Y[p, q] = sum_j Y1[p, j] A[j, q]
    y1 = np.empty((M_OUT, ALPHA, K, L), dtype=x.dtype)
    _combine(A_T, list(mm), y1)
    del mm
    y = np.empty((M_OUT, M_OUT, K, L), dtype=x.dtype)
    for p in range(M_OUT):
        _combine(A_T, list(y1[p]), y[p])
    if relu:
        np.maximum(y, 0, out=y)
    # out[k, 2 t + p, 2 s + q] = Y[p, q, k, t w1 + s]  for s < tw (the spare tile dropped)
    tiles = [y[p, q_].reshape(K, th, w1)[:, :, :tw] for p, q_ in layers.WINDOW_OFFSETS]
    for (p, q_), y_pq in zip(layers.WINDOW_OFFSETS, tiles):
        out[:, p::M_OUT, q_::M_OUT] = y_pq
    if pool_into is not None:
        # A 2x2 output tile is a 2x2 pooling window, and Y[p, q] holds entry (p, q) of every
        # window, contiguous: the pool costs a few fast passes here. A tile row or column
        # that overhangs an odd side is in no window (floor).
        pooled, first = pool_into
        rows, cols = max(0, min(th, pooled.shape[1] - t0)), pooled.shape[2]
        pooled[:, t0:t0 + rows], first[:, t0:t0 + rows] = layers.max_of_window_entries(
            *(y_pq[:, :rows, :cols] for y_pq in tiles))


def conv3x3(x, u, bias=None, relu=False, relu_out=None, pool_into=None, pool_first=None,
            band_bytes=BAND_BYTES, threads=None):
    """Stride-1, pad-1 3x3 correlation of x (C, H, W) with a transformed kernel u.

    u: (alpha^2, K, C) from :func:`kernel_transform`; bias: optional (K,).
    Returns (K, H, W).
    Two neighbours of a conv in a network, fused into its passes over memory:
    relu: return max(conv, 0), the ReLU that follows the conv;
    relu_out: optional (C, H, W); convolve x * [relu_out > 0] instead of x, the backward
    of the ReLU whose output was relu_out (the bool mask relu_out > 0 will do as well);
    pool_into: optional pair of arrays (K, H//2, W//2), float and uint8, to receive the 2x2
    max pool of the output and the index of each window's maximum
    (:func:`nst_numpy.layers.max_pool_forward`);
    pool_first: optional such index (C, H//2, W//2), with relu_out (C, H, W); then x is
    the gradient at the output of that pool, which is sent back to each window's maximum
    and through the ReLU before the convolution (the backward of conv -> ReLU -> pool).
    threads: bands processed at once (default: the module's ``THREADS``), see
    :func:`nst_numpy.fast.parallel.map_bands`; 1 on images with fewer than
    ``MIN_TILES_PER_THREAD`` tiles per thread.
    """
    threads = threads or THREADS
    C, H, W = x.shape if pool_first is None else relu_out.shape
    K = u.shape[1]
    m = M_OUT
    th_all, tw = -(-H // m), -(-W // m)     # tiles per side, rounded up
    if th_all * tw < MIN_TILES_PER_THREAD * threads:
        threads = 1
    # Tiles past the bottom/right edge read zeros; their extra outputs are cropped.
    out = np.empty((K, m * th_all, m * tw), dtype=x.dtype)
    # Bytes per tile row of the band's largest buffers: V and M (alpha^2 per tile and
    # channel) and the half-transformed Q and Y1 (alpha * m).
    per_row = x.itemsize * (tw + 1) * (ALPHA * ALPHA + ALPHA * m) * (C + K)
    # Tile rows per band: as many as fit in band_bytes, in a multiple of `threads` bands
    # of equal size, so that no thread is left with an extra band to finish alone.
    n_bands = threads * -(-th_all // (threads * max(1, band_bytes // per_row)))
    band = -(-th_all // n_bands)

    def run(t0):
        th = min(band, th_all - t0)
        _band(x, t0, th, tw, u, bias, out[:, m * t0:m * (t0 + th)], relu, relu_out, pool_into,
              pool_first)

    map_bands(run, range(0, th_all, band), threads)
    return out[:, :H, :W]


def conv2d_forward(x, w, b, u=None, u_flipped=None, relu=False, threads=None):
    """Winograd version of :func:`nst_numpy.layers.conv2d_forward` for 3x3 "same" kernels;
    must equal it to round-off.

    x: (C, H, W); w: (K, C, 3, 3); b: (K,). u, u_flipped: optional precomputed
    :func:`kernel_transform` of w and of :func:`flip_kernel` (w) (the FastVGG caches them).
    relu: return max(conv, 0) instead, the conv and the ReLU after it in one layer.
    threads: band threads of this conv and of its backward (default :data:`THREADS`).
    Returns out: (K, H, W) and a cache for :func:`conv2d_backward_input`.
    """
    u = _checked_kernel_transform(x, w, u)
    # F = W * x + b   (or max(F, 0))
    out = conv3x3(x, u, b.astype(x.dtype, copy=False), relu=relu, threads=threads)
    return out, (x.shape, w, u_flipped, threads)


def conv_relu_pool_forward(x, w, b, u=None, u_flipped=None, threads=None):
    """Conv, ReLU and 2x2 max pool as one layer; arguments as :func:`conv2d_forward`. Must
    equal :func:`nst_numpy.layers.max_pool_forward` of the ReLU of
    :func:`nst_numpy.layers.conv2d_forward`, to round-off.

    Returns ``(out, cache), (pooled, pool_cache)``: out = max(conv, 0): (K, H, W) and the
    conv's cache, as from ``conv2d_forward(..., relu=True)``; pooled: (K, H//2, W//2) and
    the pool's cache, as from :func:`nst_numpy.layers.max_pool_forward` (out).
    """
    u = _checked_kernel_transform(x, w, u)
    pooled_shape = (w.shape[0], x.shape[1] // 2, x.shape[2] // 2)
    pooled, first = np.empty(pooled_shape, x.dtype), np.empty(pooled_shape, np.uint8)
    out = conv3x3(x, u, b.astype(x.dtype, copy=False), relu=True, pool_into=(pooled, first),
                  threads=threads)
    return (out, (x.shape, w, u_flipped, threads)), (pooled, (first, out.shape))


def _checked_kernel_transform(x, w, u):
    """u, or the kernel transform of w when u is None, after checking x and w fit."""
    K, C, kh, kw = w.shape
    if (kh, kw) != (3, 3):
        raise ValueError(f"winograd conv: kernel {w.shape} is not 3x3; use nst_numpy.layers.conv2d_forward")
    if x.ndim != 3 or x.shape[0] != C:
        raise ValueError(
            f"winograd conv: input of shape {x.shape} does not match kernel of shape {w.shape}; "
            f"expected (C, H, W) with C = {C}")
    return kernel_transform(w.astype(x.dtype, copy=False)) if u is None else u


def conv2d_backward_input(dout, cache, relu_out=None):
    """dx = (flipped, transposed kernel) * dout_padded: dout (K, H, W) -> dx (C, H, W).
    Must equal :func:`nst_numpy.layers.conv2d_backward_input` to round-off.

    relu_out: optional (K, H, W) output of a ReLU after the conv, or its mask relu_out > 0;
    then dout is the gradient at that output, and the ReLU's backward,
    dout * [relu_out > 0], is applied on the way in.
    """
    return conv3x3(dout, _flipped_kernel_transform(cache, dout.dtype), relu_out=relu_out,
                   threads=cache[3])


def conv_relu_pool_backward(dpooled, cache, relu_out, pool_cache):
    """The backward of :func:`conv_relu_pool_forward`: dpooled (K, H//2, W//2) -> dx (C, H, W).
    Must equal the three backward passes of :mod:`nst_numpy.layers` in a row, to round-off.

    cache, pool_cache: its two caches; relu_out: its out, or the mask out > 0. The pool's
    and the ReLU's backward run on the way in, inside the bands.
    """
    first, _ = pool_cache
    u_flipped = _flipped_kernel_transform(cache, dpooled.dtype)
    return conv3x3(dpooled, u_flipped, relu_out=relu_out, pool_first=first, threads=cache[3])


def _flipped_kernel_transform(cache, dtype):
    """The transformed kernel of the input gradient: the cached one, or computed."""
    _, w, u_flipped, _ = cache
    if u_flipped is None:
        u_flipped = kernel_transform(flip_kernel(w).astype(dtype, copy=False))
    return u_flipped
