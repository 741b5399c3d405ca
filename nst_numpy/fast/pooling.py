"""2x2 max pooling in a few fast passes over memory, beside :mod:`nst_numpy.layers`' plain one.

:func:`nst_numpy.layers.max_pool_forward` reshapes the image into its windows and takes an
argmax: clear, but a copy and a slow reduction. Here each of a window's four entries is a
strided view of the image (no copy), and the maximum and which entry holds it come from
elementwise maxima and comparisons, each one pass over memory. The results and the cache
are the plain layer's exactly (the first maximum in row-major order on a tie), so either
backward takes either cache; ``tests/test_fast.py`` checks them against each other.
"""

import numpy as np

# The four entries of a 2x2 window, in row-major order: (row, column) offsets.
WINDOW_OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))


def window_entries(x):
    """The four entries of every 2x2 window of x (C, H, W): four strided views, no copy.

    Entry k of window (y, x) is ``x[:, 2y + i, 2x + j]`` with ``(i, j) = WINDOW_OFFSETS[k]``;
    each view has shape (C, H//2, W//2). An odd last row or column lies in no window.
    """
    Ho, Wo = x.shape[1] // 2, x.shape[2] // 2
    return [x[:, i:2 * Ho:2, j:2 * Wo:2] for i, j in WINDOW_OFFSETS]


def max_of_window_entries(a, b, c, d):
    """The maximum of each 2x2 window given its four entries (in WINDOW_OFFSETS order,
    equally shaped arrays), and which entry (0..3) holds it.

    Only a strictly larger entry takes over, so on a tie the first in row-major order wins
    and gets the whole gradient, as np.argmax's. ``first`` is uint8: 8x less memory than
    int64.
    """
    top, bottom = np.maximum(a, b), np.maximum(c, d)
    out = np.maximum(top, bottom)
    first_top = (b > a).view(np.uint8)                      # 0 or 1
    first_bottom = (d > c).view(np.uint8) + np.uint8(2)     # 2 or 3
    # first_top, or first_bottom where the bottom row holds the maximum (arithmetic, not a
    # masked copy: one fast pass)
    first = first_top + (bottom > top) * (first_bottom - first_top)
    return out, first


def max_pool_forward(x):
    """:func:`nst_numpy.layers.max_pool_forward`, the same output and cache."""
    out, first = max_of_window_entries(*window_entries(x))
    return out, (first, x.shape)


def max_pool_backward(dout, cache):
    """:func:`nst_numpy.layers.max_pool_backward`, one masked pass per window entry."""
    first, x_shape = cache
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for k, entry in enumerate(window_entries(dx)):
        # dL/dx_k = dL/dy where entry k is the window's maximum, else 0
        np.multiply(dout, first == k, out=entry)
    return dx
