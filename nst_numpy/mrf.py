"""The MRF style loss of Li and Wand (2016): match the style's patches, not its statistics.

Gatys' style loss compares Gram matrices, which forget where features occur. Li and Wand
("Combining Markov Random Fields and Convolutional Neural Networks for Image Synthesis",
CVPR 2016) keep local structure instead: cut a layer's activation into small patches, find
for each patch of the generated image the most similar patch of the style image, and pull
the one towards the other. Like every loss in :mod:`nst_numpy.losses`, each function here
returns ``(value, gradient)``, the gradient computed from its closed form.

Notation: ``F`` is the generated image's activation at layer ``l``, a ``(C, H, W)`` array;
``S`` the style image's. ``psi_i(F)`` is the i-th 3x3 patch of ``F`` (stride 1, no padding)
as a vector of length ``D = C*9``; there are ``P = (H-2)(W-2)`` of them, numbered row by row.
``NN(i)`` is the style patch that best matches generated patch ``i``::

    NN(i) = argmax_j <psi_i(F), psi_j(S)> / (|psi_i(F)| |psi_j(S)|)

(normalised cross-correlation, the cosine of the angle between the two patches), and::

    E_l = 1/2 sum_i || psi_i(F) - psi_NN(i)(S) ||^2

The paper's E_s has no 1/2; here it is kept, as in eq (1), so that the gradient reads
``psi_i(F) - psi_NN(i)(S)`` with no factor 2. There is no division by P or D either:
E_l grows with the image's area, and the style weight must be chosen with that in mind.

The gradient is a *partial* derivative with respect to one layer's ``F``, the other layers
held fixed, as in :mod:`nst_numpy.losses`.
"""

from typing import NamedTuple

import numpy as np

from ._checks import float_array, same_dtype
from .layers import col2im, im2col
from .losses import _layer_weights, _require_layers

PATCH = 3
"""Side of a patch: 3x3 at stride 1 with no padding, as Li and Wand use."""

NORM_EPS = 1e-12
"""Smallest style-patch norm divided by in the matching (see :func:`nearest_patches`)."""

MRF_BLOCK_BYTES = 16 * 2**20
"""Largest block of scores (generated patches x style patches) or of patches held at once.

At 512 px, relu3_1 has 126 x 126 = 15876 patches; all scores at once would be a
15876 x 15876 matrix, 1 GB in float32. In blocks of rows, memory stays bounded at any
size, and each block is still one large matrix product that BLAS runs at full speed.
:func:`mrf_layer_loss` holds about three blocks at once besides its gradient (a band's
patches, the matched style patches, their difference, or the band's scores).
"""


class MRFTarget(NamedTuple):
    """The style patches at one layer, extracted once, with their norms.

    patches: (K, C*9), one style patch ``psi_j(S)`` per row, the patches of every style
    image one after another. norms: (K,), ``|psi_j(S)|``. Both in the activations' dtype.
    Build it with :func:`mrf_target`, whose ``patches`` is the transposed view of a
    contiguous ``(C*9, K)`` array, im2col's layout, so that gathering the matched patches
    into columns is fast (any (K, C*9) array gives the same results).
    """

    patches: np.ndarray
    norms: np.ndarray

    @property
    def channels(self):
        """C, the number of channels of the layer the patches were cut from."""
        return self.patches.shape[1] // (PATCH * PATCH)


def extract_patches(F):
    """Every 3x3 patch of a layer activation, one patch per row.

    Parameters
    ----------
    F : ndarray, (C, H, W)
        A layer's activation, float32 or float64, with H, W >= 3.

    Returns
    -------
    patches : ndarray, (P, C*9)
        ``P = (H-2)(W-2)``. Row ``i = y*(W-2) + x`` is the patch whose top-left corner is
        ``(y, x)``; its entry ``(c, dy, dx)`` (C order) is ``F[c, y+dy, x+dx]``. A
        transposed view of :func:`nst_numpy.layers.im2col`'s columns, not a copy.
    """
    F = _activation(F, "F", "extract_patches")
    # psi_i(F) = column i of im2col(F) (stride 1, no padding): patches as rows = its transpose
    return im2col(F, PATCH, PATCH, 0).T


def mrf_target(F_styles):
    """The style patches at one layer and their norms, computed once before optimising.

    Parameters
    ----------
    F_styles : list of ndarray, each (C, H_k, W_k)
        The activations of one or several style images at the same layer (one array is
        accepted too), all with the same C and dtype; sizes may differ.

    Returns
    -------
    MRFTarget
        ``patches`` (K, C*9), the patches of every style image concatenated, and
        ``norms`` (K,).
    """
    if isinstance(F_styles, np.ndarray):
        F_styles = [F_styles]
    styles = [_activation(S, f"F_styles[{k}]", "mrf_target") for k, S in enumerate(F_styles)]
    if not styles:
        raise ValueError("mrf_target: no style activation given; pass a list of (C, H, W) arrays")
    first = styles[0]
    for k, S in enumerate(styles[1:], start=1):
        same_dtype(first, S, ("F_styles[0]", f"F_styles[{k}]"), "mrf_target")
        if S.shape[0] != first.shape[0]:
            raise ValueError(
                f"mrf_target: F_styles[0] has {first.shape[0]} channels but F_styles[{k}] has "
                f"{S.shape[0]}; give every style image's activation at the same layer")
    # psi_j(S), j = 1..K, one per column as im2col lays them out: a contiguous (C*9, K),
    # filled one style image at a time (memory: the patches once, plus one image's)
    counts = [(S.shape[1] - PATCH + 1) * (S.shape[2] - PATCH + 1) for S in styles]
    columns = np.empty((first.shape[0] * PATCH * PATCH, sum(counts)), dtype=first.dtype)
    for S, start, count in zip(styles, np.cumsum([0] + counts), counts):
        columns[:, start:start + count] = im2col(S, PATCH, PATCH, 0)
    # |psi_j(S)| = sqrt(sum_k psi_j(S)_k^2)
    norms = np.sqrt(np.einsum("kj,kj->j", columns, columns))
    # patches: the rows psi_j(S), a transposed view (K, C*9) of the same memory
    return MRFTarget(columns.T, norms)


def nearest_patches(patches, target, block=None):
    """For each patch, the style patch of largest normalised cross-correlation.

    Parameters
    ----------
    patches : ndarray, (P, C*9)
        Generated patches, one per row (:func:`extract_patches`), in the target's dtype.
    target : MRFTarget
        The style patches and their norms (:func:`mrf_target`).
    block : int, optional
        Match at most this many patches at a time; None for as many as keep the block of
        scores within ``MRF_BLOCK_BYTES``. The result does not depend on it.

    Returns
    -------
    nn : ndarray of intp, (P,)
        ``NN(i)``, a row index into ``target.patches``. On a tie, the first style patch.

    Notes
    -----
    The generated patch's norm ``|psi_i(F)|`` is one positive factor for a whole row of
    scores, so it cannot change which ``j`` is largest: it is left out. The style norm is
    divided by as ``max(|psi_j(S)|, NORM_EPS)``: exactly the cross-correlation for every
    non-zero patch, and a zero style patch scores 0 instead of 0/0 = NaN. A zero generated
    patch scores 0 against every style patch and is matched to the first.
    """
    _check_target(target, "nearest_patches")
    patches = float_array(patches, "patches", "nearest_patches")
    same_dtype(patches, target.patches, ("patches", "the target's patches"), "nearest_patches")
    D = target.patches.shape[1]
    if patches.ndim != 2 or patches.shape[1] != D:
        raise ValueError(
            f"nearest_patches: patches has shape {patches.shape}; expected (P, {D}), one "
            f"patch of the target's layer per row (extract_patches of a {target.channels}-channel "
            "activation)")
    K = len(target.patches)
    block = _block_size(block, K * patches.itemsize, "nearest_patches")
    denominators = np.maximum(target.norms, NORM_EPS).astype(patches.dtype, copy=False)
    nn = np.empty(len(patches), dtype=np.intp)
    for start in range(0, len(patches), block):
        rows = patches[start:start + block]
        # <psi_i(F), psi_j(S)> for the block's patches i and every style patch j: (B, K)
        scores = rows @ target.patches.T
        # NCC(i, j) |psi_i(F)| = <psi_i(F), psi_j(S)> / |psi_j(S)|  (same argmax over j)
        scores /= denominators
        # NN(i) = argmax_j NCC(i, j)
        nn[start:start + block] = np.argmax(scores, axis=1)
    return nn


def mrf_layer_loss(F, target, block=None):
    """MRF loss at one layer and its gradient, with the matching held fixed.

    Parameters
    ----------
    F : ndarray, (C, H, W)
        The generated image's activation at layer l, float32 or float64, H, W >= 3.
    target : MRFTarget
        The style patches at the same layer (:func:`mrf_target`), in F's dtype.
    block : int, optional
        Treat at most this many generated patches at a time (rounded down to whole rows of
        patches, at least one row); None to stay within ``MRF_BLOCK_BYTES``. Changes
        memory and speed, not the result (beyond round-off in the sums).

    Returns
    -------
    (E_l, dE_l/dF)
        ``E_l = 1/2 sum_i |psi_i(F) - psi_NN(i)(S)|^2`` as a scalar of F's dtype, and its
        gradient, shaped like F.

    Notes
    -----
    Write ``A`` for patch extraction, the linear map taking F to the rows psi_i(F) (a
    copying of entries, no arithmetic). For a *fixed* assignment sigma of style patches,
    ``E_sigma(F) = 1/2 sum_i |psi_i(F) - psi_sigma(i)(S)|^2`` is a quadratic, with

        dE_sigma/dpsi_i = psi_i(F) - psi_sigma(i)(S),    dE_sigma/dF = A^T (those rows)

    ``A^T`` is col2im: each entry of a row is added back to the pixel it was copied from,
    and a pixel that lies in up to 9 overlapping patches receives the sum of all their
    contributions (the chain rule through a copy is a sum).

    The real E uses sigma = NN, which depends on F, but only through an argmax: NN is
    piecewise constant, changing only where two scores tie. Off those ties (almost every
    F) a small enough perturbation leaves NN unchanged, so E equals E_NN near F and its
    gradient is exactly the one above. At a tie, E generally *jumps* (the tied style
    patches are equally correlated with psi_i but need not be equally far from it): no
    gradient exists there, and the formula returns that of the piece np.argmax picks.

    Memory: the patches are cut, matched and pushed back one band of patch rows at a time
    (like :func:`nst_numpy.layers.conv2d_forward`); a band reads input rows y0..y1+1,
    so neighbouring bands share 2 rows, where their gradients add. Within a band the
    patches stay in im2col's layout, one per column, so that col2im takes the residual
    without a transposed copy.
    """
    F = _activation(F, "F", "mrf_layer_loss")
    _check_target(target, "mrf_layer_loss")
    same_dtype(F, target.patches, ("F", "the target's patches"), "mrf_layer_loss")
    C, H, W = F.shape
    K, D = target.patches.shape
    if C * PATCH * PATCH != D:
        raise ValueError(
            f"mrf_layer_loss: F has {C} channels but the target's patches come from a "
            f"{target.channels}-channel layer; build the target from the same layer")
    H_out, W_out = H - PATCH + 1, W - PATCH + 1
    per_patch = max(K, D) * F.itemsize     # a row of scores, or a patch and its residual
    rows = max(1, _block_size(block, per_patch, "mrf_layer_loss") // W_out)
    loss, grad = 0.0, np.zeros_like(F)
    for y0 in range(0, H_out, rows):
        y1 = min(y0 + rows, H_out)
        band = F[:, y0:y1 + PATCH - 1]      # the input rows that patch rows y0..y1-1 read
        # psi_i(F) for the band's B patches, one per column: extract_patches(band).T
        cols = im2col(band, PATCH, PATCH, 0)
        nn = nearest_patches(cols.T, target, block=cols.shape[1])
        # dE/dpsi_i = psi_i(F) - psi_NN(i)(S), column i      (matching held fixed)
        residual = cols - np.take(target.patches.T, nn, axis=1)
        # E = 1/2 sum_i || psi_i(F) - psi_NN(i)(S) ||^2
        loss += 0.5 * float(np.sum(residual * residual))
        # dE/dF = A^T (dE/dpsi): col2im sums the overlapping patches' contributions
        grad[:, y0:y1 + PATCH - 1] += col2im(residual, band.shape, PATCH, PATCH, 0)
    return F.dtype.type(loss), grad


def mrf_loss(F, targets, weights=None, block=None):
    """Weighted MRF loss over layers and its gradient per layer.

    Parameters
    ----------
    F : dict
        ``{layer: activation (C, H, W)}`` of the generated image (may hold extra layers).
    targets : dict
        ``{layer: MRFTarget}``, one per MRF layer (Li and Wand use relu3_1 and relu4_1).
    weights : dict, optional
        ``{layer: w_l}``; None for equal weights ``1 / len(targets)``.
    block : int, optional
        Passed to :func:`mrf_layer_loss`.

    Returns
    -------
    (L, grads)
        ``L = sum_l w_l E_l`` and ``{layer: w_l dE_l/dF^l}``, each in its layer's dtype.
    """
    _require_layers(F, targets, "mrf_loss", "targets")
    weights = _layer_weights(targets, weights, default=1.0 / max(len(targets), 1), what="MRF")
    total, grads = 0.0, {}
    for layer, target in targets.items():
        E, dE = mrf_layer_loss(F[layer], target, block)
        # L_mrf = sum_l w_l E_l
        total += weights[layer] * E
        # dL_mrf/dF^l = w_l dE_l/dF^l   (a float64 weight must not upcast a float32 layer)
        grads[layer] = (weights[layer] * dE).astype(dE.dtype, copy=False)
    return total, grads


def _activation(F, name, where):
    """A (C, H, W) float32/float64 array with room for one 3x3 patch, else a one-line error."""
    F = float_array(F, name, where)
    if F.ndim != 3:
        raise ValueError(f"{where}: {name} has shape {F.shape}; expected a layer activation "
                         "(C, H, W)")
    if F.shape[1] < PATCH or F.shape[2] < PATCH:
        raise ValueError(f"{where}: {name} has shape {F.shape}; a {PATCH}x{PATCH} patch needs "
                         f"H >= {PATCH} and W >= {PATCH} (use a shallower layer or a larger image)")
    return F


def _check_target(target, where):
    """One line unless ``target`` is an MRFTarget of consistent shapes."""
    if not isinstance(target, MRFTarget):
        raise ValueError(f"{where}: target is a {type(target).__name__}; pass the MRFTarget "
                         "that mrf_target(style activations) returns")
    patches, norms = target.patches, target.norms
    if (patches.ndim != 2 or patches.shape[1] % (PATCH * PATCH) or len(patches) == 0
            or norms.shape != (len(patches),)):
        raise ValueError(f"{where}: target has patches {patches.shape} and norms {norms.shape}; "
                         "expected (K, C*9) and (K,) with K >= 1, as mrf_target builds them")


def _block_size(block, bytes_per_row, where):
    """Rows per block: ``block`` if given (a positive int), else as many as MRF_BLOCK_BYTES holds."""
    if block is None:
        return max(1, MRF_BLOCK_BYTES // bytes_per_row)
    if isinstance(block, (bool, np.bool_)) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"{where}: block must be a positive integer or None, got {block!r}")
    return int(block)
