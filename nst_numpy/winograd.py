"""A fast 3x3 "same" convolution: Winograd's minimal filtering F(m x m, 3 x 3).

The plain convolution in :mod:`nst_numpy.layers` (im2col + one GEMM) is the one the docs
explain and the one the gradient checks use. This module computes the same function with
fewer multiplications, for speed; ``tests/test_fast_conv.py`` checks it against the plain one.

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
Bands are few and wide: every GEMM call has a fixed cost (waking the BLAS threads), and
a band of thousands of tiles keeps the 16 GEMMs efficient.
"""

import numpy as np

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
BAND_BYTES = 32 * 2**20  # working memory of one band (benchmarks/bench_layers.py)
# Bands computed at once, each in its own thread with single-threaded BLAS
# (:mod:`nst_numpy.parallel`): the elementwise transforms then run on every core too.
THREADS = usable_cores()
# Below this many tiles per thread, one band with multithreaded BLAS is faster (16 x 16
# images and smaller: thread start-up and small single-threaded GEMMs; docs/benchmarks.md).
MIN_TILES_PER_THREAD = 256


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


def _band(xp, u, th, tw, out):
    """One band: th tile rows of the padded input xp (C, alpha + m*(th-1), Wp) -> out.

    u: (alpha^2, K, C). out: (K, m*th, m*tw) view to fill.
    """
    C = xp.shape[0]
    K = u.shape[1]
    m = M_OUT
    # Rows of every tile: tile row t, offset a -> xp[:, m*t + a].
    rows = [xp[:, a:a + m * (th - 1) + 1:m] for a in range(ALPHA)]            # (C, th, Wp)
    t1 = np.empty((ALPHA, C, th, xp.shape[2]), dtype=xp.dtype)
    # t1[i] = sum_a B^T[i, a] d[a, :]          (B^T d, along the rows of each tile)
    _combine(B_T, rows, t1)
    cols = [t1[..., b:b + m * (tw - 1) + 1:m] for b in range(ALPHA)]         # (alpha, C, th, tw)
    v = np.empty((ALPHA, ALPHA, C, th, tw), dtype=xp.dtype)
    # V[i, j] = sum_b (B^T d)[i, b] B[b, j]    (B^T d B, along the columns)
    _combine(B_T, cols, [v[:, j] for j in range(ALPHA)])
    # M[ij] = U[ij] @ V[ij]: alpha^2 GEMMs of (K, C) @ (C, th*tw), one np.matmul call
    mm = np.matmul(u, v.reshape(ALPHA * ALPHA, C, th * tw)).reshape(ALPHA, ALPHA, K, th, tw)
    del v, t1
    y1 = np.empty((m, ALPHA, K, th, tw), dtype=xp.dtype)
    # Y1[p] = sum_i A^T[p, i] M[i]              (A^T M)
    _combine(A_T, list(mm), y1)
    # out[k, m*t + p, m*s + q] = Y[p, q, k, t, s];  Y[:, q] = sum_j (A^T M)[:, j] A[j, q]
    tiles = out.reshape(K, th, m, tw, m).transpose(4, 2, 0, 1, 3)           # (q, p, K, th, tw)
    _combine(A_T, [y1[:, j] for j in range(ALPHA)], tiles)


def conv3x3(x, u, band_bytes=BAND_BYTES, threads=None):
    """Stride-1, pad-1 3x3 correlation of x (C, H, W) with a transformed kernel u.

    u: (alpha^2, K, C) from :func:`kernel_transform`. Returns (K, H, W), no bias.
    threads: bands processed at once (default: the module's ``THREADS``), see
    :func:`nst_numpy.parallel.map_bands`; 1 on images with fewer than
    ``MIN_TILES_PER_THREAD`` tiles per thread.
    """
    threads = threads or THREADS
    C, H, W = x.shape
    K = u.shape[1]
    m = M_OUT
    th_all, tw = -(-H // m), -(-W // m)     # tiles per side, rounded up
    if th_all * tw < MIN_TILES_PER_THREAD * threads:
        threads = 1
    # Pad 1 on top/left (the convolution's zero padding) and enough at the bottom/right
    # to complete the last tile; the extra outputs are cropped.
    xp = np.zeros((C, m * th_all + 2, m * tw + 2), dtype=x.dtype)
    xp[:, 1:H + 1, 1:W + 1] = x
    out = np.empty((K, m * th_all, m * tw), dtype=x.dtype)
    # Bytes per tile row of the band's buffers: V and M (alpha^2 per tile and channel)
    # and the two half-transformed arrays (alpha * m).
    per_row = x.itemsize * tw * (ALPHA * ALPHA + ALPHA * m) * (C + K)
    band = max(1, min(-(-th_all // threads), band_bytes // per_row))   # tile rows per band

    def run(t0):
        th = min(band, th_all - t0)
        _band(xp[:, m * t0:m * (t0 + th) + 2], u, th, tw, out[:, m * t0:m * (t0 + th)])

    map_bands(run, range(0, th_all, band), threads)
    return out[:, :H, :W]


def conv2d_forward(x, w, b, u=None, u_flipped=None):
    """Winograd version of :func:`nst_numpy.layers.conv2d_forward` for 3x3 "same" kernels.

    x: (C, H, W); w: (K, C, 3, 3); b: (K,). u, u_flipped: optional precomputed
    :func:`kernel_transform` of w and of :func:`flip_kernel` (w) (the VGG caches them).
    Returns out: (K, H, W) and a cache for :func:`conv2d_backward_input`.
    """
    K, C, kh, kw = w.shape
    if (kh, kw) != (3, 3):
        raise ValueError(f"winograd conv: kernel {w.shape} is not 3x3; use nst_numpy.layers.conv2d_forward")
    if x.ndim != 3 or x.shape[0] != C:
        raise ValueError(
            f"winograd conv: input of shape {x.shape} does not match kernel of shape {w.shape}; "
            f"expected (C, H, W) with C = {C}")
    if u is None:
        u = kernel_transform(w.astype(x.dtype, copy=False))
    out = conv3x3(x, u)
    # F = W * x + b
    out += b.astype(x.dtype, copy=False)[:, None, None]
    return out, (x.shape, w, u_flipped)


def conv2d_backward_input(dout, cache):
    """dx = (flipped, transposed kernel) * dout_padded: dout (K, H, W) -> dx (C, H, W)."""
    x_shape, w, u_flipped = cache
    if u_flipped is None:
        u_flipped = kernel_transform(flip_kernel(w).astype(dout.dtype, copy=False))
    return conv3x3(dout, u_flipped)
