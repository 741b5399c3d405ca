"""The losses of neural style transfer, equations (1)-(7) of the quiz, plus total variation.

Every function returns ``(value, gradient)``; the gradient is computed from its closed
form, never numerically (the tests compare the two with :mod:`nst_numpy.gradcheck`).

Notation (the quiz's): ``F`` is the generated image's activation at layer ``l``, as an
``(N_l, M_l)`` matrix (``N_l`` filters, ``M_l = H*W`` positions); ``P`` the content
image's, ``A`` the Gram matrix of the style image's. ``F`` may also be given as the
layer's ``(C, H, W)`` array; its gradient comes back in the shape it was given.

The gradients here are *partial* derivatives with respect to one layer's ``F^l``,
holding all other layers fixed (quiz Q2-Q6). The gradient with respect to the pixels
adds them up through the network: see :meth:`nst_numpy.vgg.VGG.backward`.
"""

import numpy as np

from ._checks import float_array, same_dtype


def _as_matrix(F, name="F", where="gram_matrix"):
    """(N, M) or (C, H, W) float32/float64 -> the (N_l, M_l) matrix view."""
    F = float_array(F, name, where)
    if F.ndim == 2:
        return F
    if F.ndim == 3:
        return F.reshape(F.shape[0], -1)
    raise ValueError(
        f"{name} has shape {F.shape}; expected a layer activation (N_l, M_l) or (C, H, W)")


def content_layer_loss(F, P):
    """Content loss at one layer, eq (1), and its gradient (quiz Q2).

    Parameters
    ----------
    F : ndarray, (N_l, M_l) or (C, H, W)
        The generated image's activation at layer l, float32 or float64.
    P : ndarray, shaped and typed like F
        The content image's activation at the same layer.

    Returns
    -------
    (L, dL/dF)
        The loss ``1/2 sum (F - P)^2`` and its gradient ``F - P``, shaped like F.
    """
    F, P = float_array(F, "F", "content_layer_loss"), float_array(P, "P", "content_layer_loss")
    same_dtype(F, P, ("F", "P"), "content_layer_loss")
    if F.shape != P.shape:
        raise ValueError(
            f"content_layer_loss: F has shape {F.shape} but P has shape {P.shape}; "
            "both must be the same layer's activation")
    diff = F - P
    # (1)  L^l_content = 1/2 sum_ij (F_ij - P_ij)^2
    loss = 0.5 * np.sum(diff * diff)
    # Q2:  dL^l_content / dF_ij = F_ij - P_ij
    return loss, diff


def content_loss(F, P, weights=None):
    """Content loss over layers, eq (2), and its gradient per layer (quiz Q3).

    Parameters
    ----------
    F : dict
        ``{layer: activation}`` of the generated image (may hold extra layers).
    P : dict
        ``{layer: content target}``, one entry per content layer.
    weights : dict, optional
        ``{layer: v_l >= 0}``, one per content layer; None for 1 each (eq (2) as printed).

    Returns
    -------
    (L, grads)
        The loss and ``{layer: dL/dF^l}``. The partial derivative with respect to ``F^l``
        is that layer's ``v_l (F - P)`` alone: the other layers' terms do not contain ``F^l``.
    """
    _require_layers(F, P, "content_loss", "P")
    weights = _layer_weights(P, weights, default=1.0, what="content")
    total, grads = 0.0, {}
    for layer, target in P.items():
        loss, dL = content_layer_loss(F[layer], target)
        # (2)  L_content = sum_l v_l L^l_content   (v_l = 1 in the quiz)
        total += weights[layer] * loss
        grads[layer] = weights[layer] * dL
    return total, grads


def gram_matrix(F):
    """Gram matrix, eq (3): ``G_ij = sum_k F_ik F_jk``, filters i and j correlated over
    all positions.

    Parameters
    ----------
    F : ndarray, (N_l, M_l) or (C, H, W)
        A layer's activation, float32 or float64.

    Returns
    -------
    G : ndarray, (N_l, N_l)
        Symmetric, in F's dtype.
    """
    F = _as_matrix(F)
    # (3)  G = F F^T
    return F @ F.T


def style_layer_loss(F, A):
    """Style loss at one layer, eq (4), and its gradient, eq (6) corrected.

    Parameters
    ----------
    F : ndarray, (N_l, M_l) or (C, H, W)
        The generated image's activation, float32 or float64.
    A : ndarray, (N_l, N_l)
        The style image's Gram matrix at the same layer (symmetric), in F's dtype.

    Returns
    -------
    (E_l, dE_l/dF)
        The loss and its gradient ``(G - A) F / (N^2 M^2)``, shaped like F.

    Notes
    -----
    The quiz prints eq (6) as ``(F^l)^T (G^l - A^l) / (N^2 M^2)``, an (M_l, N_l) matrix:
    it cannot be the gradient with respect to the (N_l, M_l) matrix F^l. Its transpose
    is (erratum 1). Derivation: with D = G - A (symmetric),
    dE/dG = 2D / (4N^2M^2) and G = F F^T give dE/dF = (dE/dG + dE/dG^T) F = D F / (N^2M^2).
    """
    F_matrix = _as_matrix(F, where="style_layer_loss")
    N, M = F_matrix.shape
    A = _check_gram(A, F_matrix, "style_layer_loss")
    D = gram_matrix(F_matrix) - A
    # (4)  E_l = 1/(4 N_l^2 M_l^2) sum_ij (G_ij - A_ij)^2
    loss = np.sum(D * D) / (4 * N**2 * M**2)
    # (6), corrected:  dE_l/dF^l = (G^l - A^l) F^l / (N_l^2 M_l^2)
    # (the scalar divides the small N x N matrix, not the N x M product)
    grad = (D / (N**2 * M**2)) @ F_matrix
    return loss, grad.reshape(np.shape(F))


def style_loss(F, A, weights=None):
    """Weighted style loss, eq (5), and its gradient per layer (quiz Q5).

    Parameters
    ----------
    F : dict
        ``{layer: activation}`` of the generated image (may hold extra layers).
    A : dict
        ``{layer: style Gram matrix}``, one per style layer.
    weights : dict, optional
        ``{layer: w_l}``; None for equal weights ``1 / len(A)`` (Gatys et al.).

    Returns
    -------
    (L, grads)
        The loss and ``{layer: w_l dE_l/dF^l}``.
    """
    _require_layers(F, A, "style_loss", "A")
    weights = _layer_weights(A, weights, default=1.0 / max(len(A), 1), what="style")
    total, grads = 0.0, {}
    for layer, gram in A.items():
        E, dE = style_layer_loss(F[layer], gram)
        # (5)  L_style = sum_l w_l E_l
        total += weights[layer] * E
        # Q5:  dL_style/dF^l = w_l dE_l/dF^l
        grads[layer] = weights[layer] * dE
    return total, grads


def total_loss(F, P, A, alpha=1.0, beta=1e3, style_weights=None, terms=None,
               content_weights=None, style=None, normalize_gradients=False):
    """Total loss, eq (7), and its gradient per layer (quiz Q6).

    Parameters
    ----------
    F : dict
        ``{layer: activation (N_l, M_l) or (C, H, W)}`` of the generated image.
    P : dict
        Content targets ``{layer: P^l}``, shaped like ``F``'s (may be empty).
    A : dict
        Style targets ``{layer: Gram matrix A^l (N_l, N_l)}`` (may be empty), or whatever
        ``style`` takes.
    alpha, beta : float
        The content and style weights.
    style_weights : dict, optional
        ``{style layer: w_l}``; None for ``1 / len(A)`` each.
    terms : dict, optional
        Receives the weighted terms ``{"content": alpha L_content, "style": beta L_style}``,
        for a caller that keeps a history of both.
    content_weights : dict, optional
        ``{content layer: v_l}``; None for 1 each.
    style : callable, optional
        The style term ``style(F, A, style_weights) -> (L_style, {layer: dL_style/dF^l})``:
        :func:`style_loss` (eq (5), the default), :func:`guided_style_loss` with its guides
        bound, or :func:`nst_numpy.mrf.mrf_loss`.
    normalize_gradients : bool
        Rescale each layer's gradient to its weight's L1 norm
        (:func:`normalize_layer_gradients`) before they are summed; the loss is unchanged.

    Returns
    -------
    (L, grads)
        The loss and ``{layer: dL/dF^l}``. A layer in both sets gets the sum
        ``alpha (F - P) + beta w_l (G - A) F / (N^2 M^2)`` (Q6 with ``w_l``, erratum 3).
    """
    L_content, content_grads = content_loss(F, P, content_weights)
    L_style, style_grads = (style or style_loss)(F, A, style_weights)
    if normalize_gradients:
        content_grads = normalize_layer_gradients(
            content_grads, _layer_weights(P, content_weights, 1.0, "content"))
        style_grads = normalize_layer_gradients(
            style_grads, _layer_weights(A, style_weights, 1.0 / max(len(A), 1), "style"))
    # (7)  L_total = alpha L_content + beta L_style
    loss = alpha * L_content + beta * L_style
    if terms is not None:
        terms.update(content=alpha * L_content, style=beta * L_style)
    return loss, combine_gradients(content_grads, style_grads, alpha, beta)


def combine_gradients(content_grads, style_grads, alpha, beta):
    """dL_total/dF^l of eq (7) from the two terms' gradients: {layer: array} each.

    alpha dL_content/dF^l + beta dL_style/dF^l, the two summed at a layer in both sets
    (Q6). For callers that keep L_content and L_style apart, as style transfer does for
    its loss history.
    """
    grads = {layer: alpha * g for layer, g in content_grads.items()}
    for layer, g in style_grads.items():
        grads[layer] = grads[layer] + beta * g if layer in grads else beta * g
    return grads


def normalize_layer_gradients(grads, weights, eps=1e-8):
    """Each layer's gradient rescaled to L1 norm ``weights[layer]`` (Johnson's
    neural-style ``-normalize_gradients``): ``v_l g / (||g||_1 + eps)`` for the weighted
    gradient ``g = v_l dE_l/dF^l``.

    Every layer then pushes the pixels equally hard, whatever the size of its loss. The
    result is no longer the gradient of the loss; L-BFGS-B's line search needs the true
    one, so style transfer allows it with Adam and gradient descent only.
    """
    missing = [layer for layer in grads if layer not in weights]
    if missing:
        raise ValueError(f"normalize_layer_gradients: no weight for layers {missing}; give one "
                         "per layer")
    out = {}
    for layer, g in grads.items():
        norm = float(np.sum(np.abs(g)))
        out[layer] = g * g.dtype.type(weights[layer] / (norm + eps))
    return out


def guided_gram_matrix(F, t):
    """Guided Gram matrix (Gatys et al. 2017): ``G_r = (F diag t)(F diag t)^T``.

    F: (N_l, M_l) or (C, H, W); t: (M_l,) the region's guide at this layer's positions,
    values in [0, 1]. Each position's features are weighted by the guide before they are
    correlated, so G_r describes the style inside the region only. Returns (N_l, N_l).
    """
    F = _as_matrix(F, where="guided_gram_matrix")
    F_t = F * _guide(t, F, "guided_gram_matrix")
    return F_t @ F_t.T


def guided_style_layer_loss(F, A, guides, region_weights=None):
    """Style loss at one layer with spatial guides, and its gradient.

    Parameters
    ----------
    F : ndarray, (N_l, M_l) or (C, H, W)
        The generated image's activation.
    A : list of ndarray, (N_l, N_l)
        One target Gram matrix per region.
    guides : list of ndarray, (M_l,)
        One guide per region, each at this layer's positions, values in [0, 1].
    region_weights : list of float, optional
        One weight per region (default 1 each).

    Returns
    -------
    (E_l, dE_l/dF)
        ``E_l = sum_r b_r / (4 N^2 M_r^2) ||G_r - A_r||^2`` with ``M_r = sum_k t_rk^2``,
        and its gradient ``sum_r b_r (G_r - A_r) F diag(t_r^2) / (N^2 M_r^2)``, shaped like F.

    Notes
    -----
    Each region is normalised by its own weight of positions ``M_r`` where eq (4) has
    ``M_l``: a guide of ones everywhere gives ``M_r = M_l`` and eq (4) exactly. Derivation:
    with ``F_r = F diag(t_r)`` and ``G_r = F_r F_r^T``, eq (6)'s argument gives
    ``dE_r/dF_r = D_r F_r / (N^2 M_r^2)`` (``D_r = G_r - A_r``, symmetric), and
    ``F_r = F diag(t_r)`` multiplies column k by ``t_rk``, so the chain rule multiplies
    column k of the gradient by ``t_rk`` again: ``dE_r/dF = D_r F diag(t_r^2) / (N^2 M_r^2)``.
    """
    where = "guided_style_layer_loss"
    F_matrix = _as_matrix(F, where=where)
    N, M = F_matrix.shape
    if len(A) != len(guides):
        raise ValueError(f"{where}: {len(A)} target Grams for {len(guides)} guides; give one "
                         "of each per region")
    region_weights = [1.0] * len(A) if region_weights is None else list(region_weights)
    if len(region_weights) != len(A):
        raise ValueError(f"{where}: {len(region_weights)} region weights for {len(A)} regions; "
                         "give one per region")
    for A_r in A:
        _check_gram(A_r, F_matrix, where)
    loss, grad = 0.0, np.zeros_like(F_matrix)
    for A_r, t, b in zip(A, guides, region_weights):
        t = _guide(t, F_matrix, where)
        M_r = float(np.sum(t * t))
        if M_r <= 0:
            raise ValueError("guided_style_layer_loss: a guide is zero everywhere at this "
                             "layer; its region has no positions to take a style from")
        F_t = F_matrix * t
        D = F_t @ F_t.T - A_r
        # E_r = b_r / (4 N^2 M_r^2) sum_ij (G_r - A_r)_ij^2,   G_r = (F diag t_r)(F diag t_r)^T
        loss += b * np.sum(D * D) / (4 * N**2 * M_r**2)
        # dE_r/dF = b_r (G_r - A_r) F diag(t_r^2) / (N^2 M_r^2)
        grad += (D * F_matrix.dtype.type(b / (N**2 * M_r**2))) @ F_t * t
    return loss, grad.reshape(np.shape(F))


def guided_style_loss(F, A, weights=None, *, guides, region_weights=None):
    """Weighted guided style loss over layers: eq (5) with :func:`guided_style_layer_loss`.

    F: {layer: activation}; A: {layer: [A_r per region]}; guides: {layer: [t_r (M_l,)]};
    weights: {layer: w_l} (None: 1 / len(A)); region_weights: [b_r] (None: 1 each).
    Returns (L, {layer: w_l dE_l/dF^l}), as :func:`style_loss` does.
    """
    _require_layers(F, A, "guided_style_loss", "A")
    weights = _layer_weights(A, weights, default=1.0 / max(len(A), 1), what="style")
    total, grads = 0.0, {}
    for layer, grams in A.items():
        E, dE = guided_style_layer_loss(F[layer], grams, guides[layer], region_weights)
        # (5)  L_style = sum_l w_l E_l
        total += weights[layer] * E
        grads[layer] = weights[layer] * dE
    return total, grads


def total_variation_loss(x):
    """Squared total variation of an image, a smoothness prior::

        L_tv = sum_{c,i,j} (x[c,i+1,j] - x[c,i,j])^2 + (x[c,i,j+1] - x[c,i,j])^2

    Parameters
    ----------
    x : ndarray, (C, H, W)
        An image, float32 or float64.

    Returns
    -------
    (L, dL/dx)
        The loss and its gradient, (C, H, W). Each difference ``d = x_b - x_a`` adds
        ``2d`` to x_b's gradient and ``-2d`` to x_a's.
    """
    x = float_array(x, "x", "total_variation_loss")
    if x.ndim != 3:
        raise ValueError(f"total_variation_loss: x has shape {x.shape}; expected (C, H, W)")
    down = x[:, 1:, :] - x[:, :-1, :]
    right = x[:, :, 1:] - x[:, :, :-1]
    loss = np.sum(down * down) + np.sum(right * right)
    grad = np.zeros_like(x)
    grad[:, 1:, :] += 2 * down
    grad[:, :-1, :] -= 2 * down
    grad[:, :, 1:] += 2 * right
    grad[:, :, :-1] -= 2 * right
    return loss, grad


def _layer_weights(targets, weights, default, what):
    if weights is None:
        return {layer: default for layer in targets}
    missing = [layer for layer in targets if layer not in weights]
    if missing:
        raise ValueError(f"{what} weights missing for layers {missing}; give one per {what} layer")
    return weights


def _require_layers(F, targets, where, target_name):
    missing = [layer for layer in targets if layer not in F]
    if missing:
        raise ValueError(
            f"{where}: {target_name} has layers {missing} that F lacks; "
            "compute F at every target layer")


def _check_gram(A, F, where):
    """A as an array: a symmetric (N, N) Gram matrix in F's (N, M) dtype, else one line."""
    N = F.shape[0]
    A = float_array(A, "A", where)
    same_dtype(F, A, ("F", "A"), where)
    if A.shape != (N, N):
        raise ValueError(f"{where}: A has shape {A.shape} but F has shape {F.shape}; A must be "
                         f"the style Gram matrix of the same layer, ({N}, {N})")
    if not _is_symmetric(A):
        raise ValueError(f"{where}: A is not symmetric; it must be a Gram matrix, e.g. "
                         "gram_matrix(style_activation)")
    return A


def _guide(t, F, where):
    """t as an (M,) array in F's (N, M) dtype: one value in [0, 1] per position."""
    t = float_array(t, "guide", where).astype(F.dtype, copy=False)
    if t.shape != (F.shape[1],):
        raise ValueError(f"{where}: a guide has shape {t.shape} but the layer has {F.shape[1]} "
                         "positions; downsample the mask to the layer's grid, one value each")
    return t


def _is_symmetric(A):
    scale = float(np.max(np.abs(A), initial=0.0))
    return bool(np.max(np.abs(A - A.T), initial=0.0) <= 1e-5 * scale)
