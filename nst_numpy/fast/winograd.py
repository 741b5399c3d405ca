"""A fast 3x3 "same" convolution: Winograd's minimal filtering F(m x m, 3 x 3), m = 2 or 4.

The plain convolution in :mod:`nst_numpy.layers` (im2col + one GEMM) is the one the docs
explain and the one the gradient checks use. This module computes the same function with
fewer multiplications, for speed; ``tests/test_fast.py`` checks it against the plain one.

The idea, in one dimension. Two outputs of a 3-tap correlation from four inputs ``d``,

    y_0 = d_0 g_0 + d_1 g_1 + d_2 g_2,      y_1 = d_1 g_0 + d_2 g_1 + d_3 g_2,

cost 6 multiplications directly but only 4 as ``y = A^T [(G g) * (B^T d)]`` with the
matrices ``B^T, G, A^T`` below: transform the kernel (once), transform the input, multiply
elementwise, transform back. Nesting it in rows and columns gives m x m outputs from an
alpha x alpha input tile, alpha = m + 2, with alpha^2 multiplications instead of 9 m^2:

    Y = A^T [ (G g G^T) * (B^T d B) ] A                                    (Lavin & Gray 2016)

Across channels the elementwise products are summed, so for each of the alpha^2 positions
``(i, j)`` of the transformed tile the sum over input channels ``c`` is one matrix product:

    M[ij] = U[ij] @ V[ij],    U[ij] = (G g G^T)_ij: (K, C),   V[ij] = (B^T d B)_ij: (C, tiles)

alpha^2 GEMMs of (K x C) @ (C x tiles), per output alpha^2 / m^2 multiply-adds instead of
im2col's 9: 4 for F(2x2, 3x3) (``tile=2``, the default), 2.25 for F(4x4, 3x3) (``tile=4``).
The larger tile pays with transforms of more terms, and with float32 round-off about ten
times larger: its B^T and A^T hold entries up to 8 (see ``F4``). The transformed kernel
carries its tile size (its alpha^2 rows, :func:`_tile_of`).

The input gradient of a stride-1 "same" 3x3 convolution is the same kind of convolution
with the kernel flipped in space and its in/out channels swapped, so the backward pass
reuses the forward with that kernel:

    dx[c, y, x] = sum_{k,i,j} w[k, c, 2 - i, 2 - j] * dout_padded[k, y + i, x + j]

Images are processed in bands of tile rows whose working memory (transformed tiles:
4 (alpha^2 + alpha m) (C + K) bytes per tile in float32) stays under ``BAND_BYTES`` whatever
the image size. Bands are few and wide (a band of thousands of tiles keeps the GEMMs
efficient) and run in parallel threads, one per core (:mod:`nst_numpy.fast.parallel`).

NumPy runs an elementwise operation fast when it sweeps contiguous memory. Tiles overlap
(alpha x alpha inputs every m pixels), so entry (a, b) of all tiles, taken from the image,
is a stride-m view. Splitting the padded input into its m x m planes of row/column
residues modulo m (the parity planes of m = 2), once, makes that entry a contiguous slice
of a flattened plane (see :func:`_band`): every transform pass then reads and writes
contiguous memory.
"""

from typing import NamedTuple

import numpy as np

from .pooling import WINDOW_OFFSETS, max_of_window_entries
from .parallel import map_bands, usable_cores


class _Tiling(NamedTuple):
    """The matrices of F(m x m, 3 x 3):  Y = A^T [ (G g G^T) * (B^T d B) ] A."""
    B_T: np.ndarray    # (alpha, alpha), alpha = m + 2
    G: np.ndarray      # (alpha, 3)
    A_T: np.ndarray    # (m, alpha); column 1 is all ones (see the bias in _band)

    @property
    def m(self):
        return self.A_T.shape[0]

    @property
    def alpha(self):
        return self.B_T.shape[0]


# F(2x2, 3x3): 4x4 input tiles, 2x2 output tiles, interpolation points 0, +-1 and infinity.
# The data transforms B^T and A^T hold only 0 and +-1 (exact additions, at least two terms
# per row); G holds +-1/2.
F2 = _Tiling(
    B_T=np.array([[1, 0, -1, 0],
                  [0, 1, 1, 0],
                  [0, -1, 1, 0],
                  [0, 1, 0, -1]], dtype=np.float64),
    G=np.array([[1, 0, 0],
                [0.5, 0.5, 0.5],
                [0.5, -0.5, 0.5],
                [0, 0, 1]], dtype=np.float64),
    A_T=np.array([[1, 1, 1, 0],
                  [0, 1, -1, -1]], dtype=np.float64))
BAND_BYTES = 32 * 2**20  # working memory of one band (chosen with benchmarks/bench_layers.py)
# Bands computed at once by default, each in its own thread with single-threaded BLAS
# (:mod:`nst_numpy.fast.parallel`): the elementwise transforms then run on every core too.
THREADS = usable_cores()
# Fewer tiles than this per thread (an 8 x 8 image in 2x2 tiles) are not worth a thread.
MIN_TILES_PER_THREAD = 16

# F(4x4, 3x3): 6x6 input tiles, 4x4 output tiles, interpolation points 0, +-1, +-2 and
# infinity (Lavin & Gray's). Column j of A^T is (1, p, p^2, p^3) for point p (the last
# column: infinity); every factor that is not a power of 2 (1/3, from the Lagrange
# denominators) is in G, which is applied once, in float64, to the kernel. So the data
# transforms B^T and A^T, applied in the working dtype, hold small integers (exact
# products, but for the 5s), and the 2, 4, 8 of A^T scale round-off: hence float32 errors
# ~10x those of F2.
#
# Points +-1/2 instead of +-2 give the mirror image of these matrices (rows and columns
# reversed, up to powers of 2, which scale exactly), so the same float32 error: measured
# per VGG19 layer with the shipped weights at 256 and 512 px, at most 5.8e-6 relative with
# +-2 and 6.5e-6 with +-1/2 (tests/test_fast.py measures +-2). The choice is therefore
# Lavin & Gray's, with integer data transforms. (Mixed points 2 and -1/2 measured half the
# error, but their B^T rows hold up to 5 terms with entries 3/2 and 5/2: 10-15% more time
# in blocks 1-2.)
#
# One difference beyond round-off size: the 16 outputs of a tile are rounded differently,
# so outputs that im2col computes exactly equal (a flat image region) may differ in the
# last bit, and a max pool after the conv may then pick another entry of such a tied
# window (F2 keeps these ties: its tile is the pooling window). The forward agrees to
# round-off; the gradient takes another, equally valid, subgradient in those windows.
F4 = _Tiling(
    B_T=np.array([[4, 0, -5, 0, 1, 0],
                  [0, -4, -4, 1, 1, 0],
                  [0, 4, -4, -1, 1, 0],
                  [0, -2, -1, 2, 1, 0],
                  [0, 2, -1, -2, 1, 0],
                  [0, 4, 0, -5, 0, 1]], dtype=np.float64),
    G=np.array([[1 / 4, 0, 0],
                [-1 / 6, -1 / 6, -1 / 6],
                [-1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6],
                [1 / 24, -1 / 12, 1 / 6],
                [0, 0, 1]], dtype=np.float64),
    A_T=np.array([[1, 1, 1, 1, 1, 0],
                  [0, 1, -1, 2, -2, 0],
                  [0, 1, 1, 4, 4, 0],
                  [0, 1, -1, 8, -8, 1]], dtype=np.float64))

TILINGS = {2: F2, 4: F4}   # by output tile side m: the ``tile`` argument
DEFAULT_TILE = 2


def _tiling(tile):
    if tile not in TILINGS:
        raise ValueError(f"winograd conv: tile must be one of {sorted(TILINGS)}, got {tile!r}")
    return TILINGS[tile]


def _tile_of(u):
    """The output tile side m of a transformed kernel u: ((m + 2)^2, K, C)."""
    for m, tiling in TILINGS.items():
        if u.shape[0] == tiling.alpha ** 2:
            return m
    raise ValueError(f"winograd conv: transformed kernel of shape {u.shape} is none of "
                     f"F(m x m, 3 x 3) for m in {sorted(TILINGS)}")


def kernel_transform(w, tile=DEFAULT_TILE):
    """U = G g G^T for every (out, in) channel pair, for output tiles tile x tile.

    w: (K, C, 3, 3). Returns U: (alpha*alpha, K, C) in w's dtype, alpha = tile + 2, ready
    for the batched GEMM. Computed in float64 and rounded once.
    """
    G = _tiling(tile).G
    alpha = G.shape[0]
    K, C = w.shape[:2]
    # (G g)[i, k, c, b] = sum_a G[i, a] w[k, c, a, b]: one product (alpha, 3) @ (3, K*C*3)
    gw = (G @ w.astype(np.float64).transpose(2, 0, 1, 3).reshape(3, -1)).reshape(alpha, K, C, 3)
    # U[j, i, k, c] = sum_b G[j, b] (G g)[i, k, c, b]: again (alpha, 3) @ (3, alpha*K*C)
    u = (G @ gw.transpose(3, 0, 1, 2).reshape(3, -1)).reshape(alpha, alpha, K, C)
    # the products left j in front: swap to U[i, j, k, c]
    u = u.transpose(1, 0, 2, 3)
    return np.ascontiguousarray(u.reshape(alpha * alpha, K, C), dtype=w.dtype)


def flip_kernel(w):
    """The kernel of the input gradient: w'[c, k, i, j] = w[k, c, 2 - i, 2 - j]. (C, K, 3, 3)."""
    return w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)


def _combine(mat, parts, out):
    """out[i] = sum_a mat[i, a] * parts[a] for a small matrix.

    parts: equally shaped arrays; out: a sequence of ``len(mat)`` arrays of that shape,
    written in place. The terms of a row are grouped by |coefficient|. Those with
    coefficient +-1 cost one in-place np.add or np.subtract each; a group with |c| != 1,
    c (p + p' - ...), is summed alone and scaled once (one pass more), the first such group
    into out[i], the others into a scratch array then added. Coefficients 0 and +-1 only
    (F2) need no scratch array.
    """
    scratch = None
    for row, out_i in zip(mat, out):
        groups = {}   # |c| -> [(sign, part)]
        for coef, part in zip(row.tolist(), parts):
            if coef != 0:
                groups.setdefault(abs(coef), []).append((1 if coef > 0 else -1, part))
        # the +-1 terms are added last, in place, unless they are all there is
        units = groups.pop(1.0) if len(groups) > 1 and 1.0 in groups else []
        for n, (c, terms) in enumerate(groups.items()):
            if n == 0:
                _scaled_sum(c, terms, out_i)
            else:
                if scratch is None:
                    scratch = np.empty_like(out_i)
                out_i += _scaled_sum(c, terms, scratch)
        for sign, part in units:
            (np.add if sign > 0 else np.subtract)(out_i, part, out=out_i)


def _scaled_sum(c, terms, out):
    """out = c * sum(sign * part) over terms [(sign, part)], signs +-1. Returns out."""
    if all(sign < 0 for sign, _ in terms):   # c (-p - p' ...) = (-c) (p + p' ...)
        terms, c = [(1, part) for _, part in terms], -c
    terms = sorted(terms, key=lambda term: term[0] < 0)   # a positive term first
    (_, p0), rest = terms[0], terms[1:]
    if not rest:
        return np.multiply(p0, c, out=out)
    # the first two terms in one pass: p0 + p1 or p0 - p1
    (s1, p1), rest = rest[0], rest[1:]
    (np.add if s1 > 0 else np.subtract)(p0, p1, out=out)
    for sign, part in rest:
        (np.add if sign > 0 else np.subtract)(out, part, out=out)
    if c != 1:
        out *= c
    return out


def _parity_planes(x, t0, th, tw, m, relu_out=None, pool_first=None):
    """The zero-padded input under tile rows t0 .. t0+th-1, split by row and column residue
    modulo the tile side m (parity for m = 2).

    x: (C, H, W). Returns planes: (m, m, C, th + 2, tw + 1) with

        planes[e, f, c, r, s] = x_padded[c, m (t0 + r) + e, m s + f]

    where ``x_padded`` is x with one row/column of zeros around it (the convolution's
    padding) and zeros beyond. One spare row at the bottom: see :func:`_band`.
    Fused backward passes of the layers after the conv (see :func:`conv3x3`):
    relu_out: shaped like x, or its mask relu_out > 0; x is taken times [relu_out > 0],
    a ReLU's backward.
    pool_first: with relu_out; x is then the gradient at the output of a 2x2 max pool,
    (C, H//2, W//2), and is first sent to each window's maximum, entry pool_first.
    """
    C, H, W = x.shape if pool_first is None else relu_out.shape
    planes = np.zeros((m, m, C, th + 2, tw + 1), dtype=x.dtype)
    h = m // 2                                          # pool windows per tile side
    for e in range(m):
        y0 = m * t0 + e - 1                             # x row under plane row 0
        r0 = 1 if y0 < 0 else 0                         # (row -1 is padding)
        rows = slice(y0 + m * r0, y0 + m * (th + 2), m)  # x rows under plane rows r0, r0 + 1, ...
        n_rows = len(range(*rows.indices(H)))
        for f in range(m):
            s0 = 1 if f == 0 else 0                     # (column -1 is padding)
            cols = slice(m * s0 + f - 1, None, m)       # x columns m s + f - 1 for s >= s0
            n_cols = len(range(*cols.indices(W)))
            if pool_first is None:
                source = x[:, rows, cols]
            else:
                # m is even: these rows and columns are entry (i, j) of every h-th window
                # from (rows.start // 2, cols.start // 2) on; a last odd row or column is in
                # no window and keeps gradient 0.
                i, j = rows.start % 2, cols.start % 2
                windows = (slice(rows.start // 2, rows.start // 2 + h * n_rows, h),
                           slice(cols.start // 2, cols.start // 2 + h * n_cols, h))
                first = pool_first[:, windows[0], windows[1]]
                n_rows, n_cols = first.shape[1:]
                source = x[:, windows[0], windows[1]] * (first == 2 * i + j)
                rows = slice(rows.start, rows.start + m * n_rows, m)
            plane = planes[e, f, :, r0:r0 + n_rows, s0:s0 + n_cols]
            if relu_out is None:
                plane[...] = source
            else:
                np.multiply(source, relu_out[:, rows, cols][:, :, :n_cols] > 0, out=plane)
    return planes


def _band(x, t0, th, tw, u, bias, out, relu, relu_out, pool_into, pool_first):
    """Tile rows t0 .. t0+th-1 of the convolution of x (C, H, W) -> out (K, m th, m tw).

    u: (alpha^2, K, C); bias: (K,) or None; relu ... pool_first: see :func:`conv3x3`.
    Every elementwise pass runs over contiguous memory: in the flattened residue planes,
    one entry (a, b) of every tile is one slice.
    """
    B_T, _, A_T = tiling = TILINGS[_tile_of(u)]
    m, alpha = tiling.m, tiling.alpha
    C = x.shape[0]
    K = u.shape[1]
    w1 = tw + 1                      # length of a plane row
    L = th * w1                      # tiles in the band, counted n = t w1 + s
    planes = _parity_planes(x, t0, th, tw, m, relu_out, pool_first)
    flat = planes.reshape(m, m, C, (th + 2) * w1)
    # Entry (a, b) of tile (t, s), numbered n = t w1 + s, is (a, b < alpha = m + 2)
    #   x_padded[m (t0 + t) + a, m s + b] = planes[a % m, b % m, :, t + a // m, s + b // m]
    #                                     = flat[a % m, b % m, :, n + (a // m) w1 + b // m]:
    # for all tiles at once, the contiguous slice starting at (a // m) w1 + b // m.
    # (n also runs over s = tw, a spare tile that reads wrapped-around values; its
    # outputs are dropped below.)
    #
    # B^T d B, the right-hand product first. For each row residue e, over plane rows 0 .. th:
    #   Q[e, j] = sum_b d[., b] B[b, j]         (d B: each tile row's alpha entries combined)
    q = np.empty((m, alpha, C, (th + 1) * w1), dtype=x.dtype)
    for e in range(m):
        d_e = [flat[e, b % m][:, b // m:b // m + (th + 1) * w1] for b in range(alpha)]
        _combine(B_T, d_e, q[e])
    #   V[i, j] = sum_a B^T[i, a] Q[a % m, j] (shifted by (a // m) w1)      (B^T d B)
    v = np.empty((alpha, alpha, C, L), dtype=x.dtype)
    for j in range(alpha):
        q_j = [q[a % m, j][:, (a // m) * w1:(a // m) * w1 + L] for a in range(alpha)]
        _combine(B_T, q_j, v[:, j])
    del q, flat, planes
    # M[ij] = U[ij] @ V[ij]: alpha^2 GEMMs of (K, C) @ (C, L), one np.matmul call
    mm = np.matmul(u, v.reshape(alpha * alpha, C, L)).reshape(alpha, alpha, K, L)
    del v
    if bias is not None:
        # Column 1 of A^T is all ones, so A^T e_1 e_1^T A is all ones: b added to M[1, 1]
        # reaches the m^2 outputs of every tile (one pass over 1/alpha^2 of M).
        mm[1, 1] += bias[:, None]
    # Y = A^T M A:  Y1[p, j] = sum_i A^T[p, i] M[i, j];  Y[p, q] = sum_j Y1[p, j] A[j, q]
    y1 = np.empty((m, alpha, K, L), dtype=x.dtype)
    _combine(A_T, list(mm), y1)
    del mm
    y = np.empty((m, m, K, L), dtype=x.dtype)
    for p in range(m):
        _combine(A_T, list(y1[p]), y[p])
    if relu:
        np.maximum(y, 0, out=y)
    # out[k, m t + p, m s + q] = Y[p, q, k, t w1 + s]  for s < tw (the spare tile dropped)
    tiles = y.reshape(m, m, K, th, w1)[..., :tw]
    for p in range(m):
        for q_ in range(m):
            out[:, p::m, q_::m] = tiles[p, q_]
    if pool_into is not None:
        _pool_tiles(tiles, t0, *pool_into)


def _pool_tiles(tiles, t0, pooled, first):
    """2x2 max pool of output tiles (m, m, K, th, tw) of tile rows t0 .., into pooled and
    first (K, H//2, W//2) (:func:`nst_numpy.layers.max_pool_forward`).

    An m x m tile (m even) holds h x h pooling windows, h = m / 2: window (P, Q) of tile
    (t, s) is pooled entry (h t + P, h s + Q), and tiles[2P + i, 2Q + j] holds its entry
    (i, j) for every tile, contiguous: the pool costs a few fast passes. Windows that
    overhang an odd side, and tiles past the edge, are in no pooled entry (floor).
    """
    m, th = tiles.shape[0], tiles.shape[3]
    h = m // 2
    for P in range(h):
        # pooled rows h (t0 + t) + P < H//2, for t < th
        n_rows = max(0, min(th, -(-(pooled.shape[1] - h * t0 - P) // h)))
        rows = slice(h * t0 + P, h * (t0 + n_rows) + P, h)
        for Q in range(h):
            n_cols = max(0, -(-(pooled.shape[2] - Q) // h))
            cols = slice(Q, h * n_cols + Q, h)
            entries = (tiles[2 * P + i, 2 * Q + j][:, :n_rows, :n_cols]
                       for i, j in WINDOW_OFFSETS)
            pooled[:, rows, cols], first[:, rows, cols] = max_of_window_entries(*entries)


def conv3x3(x, u, bias=None, relu=False, relu_out=None, pool_into=None, pool_first=None,
            band_bytes=BAND_BYTES, threads=None):
    """Stride-1, pad-1 3x3 correlation of x (C, H, W) with a transformed kernel u.

    u: (alpha^2, K, C) from :func:`kernel_transform`, whose size sets the tile
    (:func:`_tile_of`); bias: optional (K,).
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
    tiling = TILINGS[_tile_of(u)]
    m, alpha = tiling.m, tiling.alpha
    th_all, tw = -(-H // m), -(-W // m)     # tiles per side, rounded up
    if th_all * tw < MIN_TILES_PER_THREAD * threads:
        threads = 1
    # Tiles past the bottom/right edge read zeros; their extra outputs are cropped.
    out = np.empty((K, m * th_all, m * tw), dtype=x.dtype)
    # Bytes per tile row of the band's largest buffers: V and M (alpha^2 per tile and
    # channel) and the half-transformed Q and Y1 (alpha * m).
    per_row = x.itemsize * (tw + 1) * (alpha * alpha + alpha * m) * (C + K)
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


def conv2d_forward(x, w, b, u=None, u_flipped=None, relu=False, threads=None, tile=None):
    """Winograd version of :func:`nst_numpy.layers.conv2d_forward` for 3x3 "same" kernels;
    must equal it to round-off.

    x: (C, H, W); w: (K, C, 3, 3); b: (K,). u, u_flipped: optional precomputed
    :func:`kernel_transform` of w and of :func:`flip_kernel` (w) (the FastVGG caches them);
    each carries its tile size, so the backward may use another than the forward.
    relu: return max(conv, 0) instead, the conv and the ReLU after it in one layer.
    threads: band threads of this conv and of its backward (default :data:`THREADS`).
    tile: output tile side, 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3)), for the kernels computed
    here; default u's, else ``DEFAULT_TILE`` (2).
    Returns out: (K, H, W) and a cache for :func:`conv2d_backward_input`.
    """
    u, tile = _checked_kernel_transform(x, w, u, tile)
    # F = W * x + b   (or max(F, 0))
    out = conv3x3(x, u, b.astype(x.dtype, copy=False), relu=relu, threads=threads)
    return out, (x.shape, w, u_flipped, threads, tile)


def conv_relu_pool_forward(x, w, b, u=None, u_flipped=None, threads=None, tile=None):
    """Conv, ReLU and 2x2 max pool as one layer; arguments as :func:`conv2d_forward`. Must
    equal :func:`nst_numpy.layers.max_pool_forward` of the ReLU of
    :func:`nst_numpy.layers.conv2d_forward`, to round-off.

    Returns ``(out, cache), (pooled, pool_cache)``: out = max(conv, 0): (K, H, W) and the
    conv's cache, as from ``conv2d_forward(..., relu=True)``; pooled: (K, H//2, W//2) and
    the pool's cache, as from :func:`nst_numpy.layers.max_pool_forward` (out). (With
    ``tile=4``, a window whose entries im2col finds exactly equal may name another
    maximum: see ``F4``.)
    """
    u, tile = _checked_kernel_transform(x, w, u, tile)
    pooled_shape = (w.shape[0], x.shape[1] // 2, x.shape[2] // 2)
    pooled, first = np.empty(pooled_shape, x.dtype), np.empty(pooled_shape, np.uint8)
    out = conv3x3(x, u, b.astype(x.dtype, copy=False), relu=True, pool_into=(pooled, first),
                  threads=threads)
    return (out, (x.shape, w, u_flipped, threads, tile)), (pooled, (first, out.shape))


def _checked_kernel_transform(x, w, u, tile):
    """(u, its tile size), u computed from w when None, after checking x, w, u and tile fit."""
    K, C, kh, kw = w.shape
    if (kh, kw) != (3, 3):
        raise ValueError(f"winograd conv: kernel {w.shape} is not 3x3; use nst_numpy.layers.conv2d_forward")
    if x.ndim != 3 or x.shape[0] != C:
        raise ValueError(
            f"winograd conv: input of shape {x.shape} does not match kernel of shape {w.shape}; "
            f"expected (C, H, W) with C = {C}")
    if u is None:
        tile = DEFAULT_TILE if tile is None else tile
        return kernel_transform(w.astype(x.dtype, copy=False), tile), tile
    if tile is not None and tile != _tile_of(u):
        raise ValueError(f"winograd conv: tile={tile} but the transformed kernel u is for "
                         f"tile {_tile_of(u)}")
    return u, _tile_of(u)


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
    """The transformed kernel of the input gradient: the cached one, or computed for the
    forward's tile size."""
    _, w, u_flipped, _, tile = cache
    if u_flipped is None:
        u_flipped = kernel_transform(flip_kernel(w).astype(dtype, copy=False), tile)
    return u_flipped
