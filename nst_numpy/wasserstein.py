"""The Wasserstein-2 style loss: compare Gaussian fits of each layer's features.

Gatys' Gram matrix keeps the second moment of a layer's features, summed over positions.
Here each layer's ``M_l`` feature vectors (the columns of ``F``, each of length ``N_l``) are
summarised by the Gaussian that has their mean and covariance::

    m = F 1 / M                      (N,)     the mean feature vector
    C = (F - m 1^T)(F - m 1^T)^T / M (N, N)   their covariance

and the generated image's Gaussian is compared with the style's, ``N(m_s, C_s)``, by the
2-Wasserstein distance, the least mean squared displacement that carries one distribution
onto the other. Between two Gaussians it has a closed form (Dowson & Landau 1982; Olkin &
Pukelsheim 1982)::

    W2^2 = |m - m_s|^2 + tr(C) + tr(C_s) - 2 tr((S C S)^(1/2)),      S = C_s^(1/2)

crowsonkb's style-transfer-pytorch uses it as its default style loss. Its gradient needs
the derivative of a matrix square root; docs/annotated/wasserstein.md derives it:

    dW2^2/dC = I - S (S C S)^(-1/2) S,       dW2^2/dF = 2/M [(I - A)(F - m 1^T) + (m - m_s) 1^T]

with ``A = S (S C S)^(-1/2) S``. Like every loss of :mod:`nst_numpy.losses`, each function
returns ``(value, gradient)`` in closed form, a partial derivative with respect to one
layer's ``F``.

**Singular covariances.** A covariance of M positions has rank at most M - 1 (deep layers
of small images have fewer positions than channels), and a channel that a ReLU keeps at 0
has no variance at all. ``(S C S)^(-1/2)`` does not exist then. Both Gaussians are therefore
blurred by the same isotropic noise before they are compared: ``eps I`` is added to both
covariances, ``eps = ridge * tr(C_s) / N``, the style's mean variance at that layer times
:data:`RIDGE`. W2 between the two blurred Gaussians is still a distance (zero exactly when
the fits agree), and ``S C S >= eps S^2 >= eps lambda_min(S^2) I``, so every eigenvalue
the code takes a square root of, or divides by, is bounded away from 0 by a number known in
advance (``W2Target.floor``); eigenvalues computed below it are round-off, and are raised
to it.
"""

from typing import NamedTuple

import numpy as np

from ._checks import float_array, is_real, same_dtype
from .losses import _layer_weights, _require_layers

RIDGE = 1e-2
"""The ridge ``eps`` added to both covariances, as a fraction of the style's mean variance
``tr(C_s) / N`` at the layer (docs/features.md gives the measurement that chose it)."""


class W2Target(NamedTuple):
    """The style's Gaussian at one layer, computed once before optimising.

    mean: (N,), ``m_s``. cov: (N, N), ``C_s + eps I``. root: (N, N), ``S = (C_s + eps I)^(1/2)``.
    eps: the ridge added to both covariances. floor: ``eps lambda_min(S^2)``, the least
    eigenvalue ``S (C + eps I) S`` can have. Arrays in the style activations' dtype.
    """

    mean: np.ndarray
    cov: np.ndarray
    root: np.ndarray
    eps: float
    floor: float


def gaussian_fit(F):
    """Mean and covariance of a layer's feature vectors, one per position.

    Parameters
    ----------
    F : ndarray, (N_l, M_l) or (C, H, W)
        A layer's activation, float32 or float64.

    Returns
    -------
    (m, C)
        ``m`` (N_l,), the mean over the M_l positions, and ``C`` (N_l, N_l), the covariance
        (divided by M_l, not M_l - 1: the Gaussian that has the features' own moments).
    """
    m, F_centred = _centred(_features(F, "F", "gaussian_fit"))
    # C = (F - m 1^T)(F - m 1^T)^T / M
    return m, F_centred @ F_centred.T / F_centred.shape[1]


def sqrtm_psd(X, floor=0.0):
    """The square root of a symmetric positive semidefinite matrix, from its eigenvectors.

    Parameters
    ----------
    X : ndarray, (N, N)
        Symmetric positive semidefinite, float32 or float64.
    floor : float >= 0
        A lower bound the caller knows for X's eigenvalues; computed eigenvalues below it
        are round-off and are raised to it (0: negative round-off becomes 0).

    Returns
    -------
    R : ndarray, (N, N)
        ``R = Q diag(sqrt(mu)) Q^T`` for ``X = Q diag(mu) Q^T``: the one symmetric positive
        semidefinite matrix with ``R R = X``.
    """
    mu, Q = _eigen(_symmetric(X, "X", "sqrtm_psd"), floor)
    # X^(1/2) = Q diag(sqrt(mu)) Q^T
    return (Q * np.sqrt(mu)) @ Q.T


def sqrtm_derivative(X, E):
    """The derivative of the matrix square root at X in the direction E.

    Parameters
    ----------
    X : ndarray, (N, N)
        Symmetric positive definite, float32 or float64.
    E : ndarray, (N, N)
        A direction, in X's dtype.

    Returns
    -------
    L : ndarray, (N, N)
        ``L = lim (sqrtm(X + h E) - sqrtm(X)) / h``, the solution of the Sylvester equation
        ``R L + L R = E`` with ``R = X^(1/2)``. In X's eigenbasis, ``X = Q diag(mu) Q^T``,
        it reads ``Q^T L Q = (Q^T E Q)_ij / (sqrt(mu_i) + sqrt(mu_j))``. The map E -> L is
        self-adjoint, so it is also the backward pass: ``dJ/dX = sqrtm_derivative(X, dJ/dR)``
        for a scalar J of ``R = sqrtm(X)`` and a symmetric ``dJ/dR``.
    """
    X = _symmetric(X, "X", "sqrtm_derivative")
    E = float_array(E, "E", "sqrtm_derivative")
    same_dtype(X, E, ("X", "E"), "sqrtm_derivative")
    if E.shape != X.shape:
        raise ValueError(f"sqrtm_derivative: E has shape {E.shape} but X has {X.shape}; "
                         "give a direction of X's shape")
    mu, Q = _eigen(X, 0.0)
    if not mu[0] > 0:
        raise ValueError("sqrtm_derivative: X is singular (its least eigenvalue is "
                         f"{mu[0]:.3g}); the square root has no derivative there: add a "
                         "ridge, X + eps I")
    root = np.sqrt(mu)
    # R L + L R = E, in the eigenbasis: (sqrt(mu_i) + sqrt(mu_j)) (Q^T L Q)_ij = (Q^T E Q)_ij
    L_eigen = (Q.T @ E @ Q) / (root[:, None] + root[None, :])
    return Q @ L_eigen @ Q.T


def w2_target(F_styles, blend=None, ridge=RIDGE):
    """The style's Gaussian at one layer: the fit of its features, ridged, and its root.

    Parameters
    ----------
    F_styles : ndarray or list of ndarray, each (N_l, M_k) or (C, H_k, W_k)
        One or several style images' activations at the same layer (sizes may differ), in
        one dtype.
    blend : sequence of float, optional
        One weight >= 0 per style image (normalised to sum 1); None for equal weights.
    ridge : float > 0
        ``eps = ridge * tr(C_s) / N``, added to both covariances (module docstring).

    Returns
    -------
    W2Target

    Notes
    -----
    Several style images make one Gaussian, the fit of the mixture of their features, each
    image's positions weighted by its blend ``b_k``: ``m_s = sum_k b_k m_k`` and
    ``C_s = sum_k b_k (C_k + (m_k - m_s)(m_k - m_s)^T)``.
    """
    if isinstance(F_styles, np.ndarray):
        F_styles = [F_styles]
    styles = [_features(S, f"F_styles[{k}]", "w2_target") for k, S in enumerate(F_styles)]
    if not styles:
        raise ValueError("w2_target: no style activation given; pass a list of (C, H, W) arrays")
    for k, S in enumerate(styles[1:], start=1):
        same_dtype(styles[0], S, ("F_styles[0]", f"F_styles[{k}]"), "w2_target")
        if len(S) != len(styles[0]):
            raise ValueError(f"w2_target: F_styles[0] has {len(styles[0])} channels but "
                             f"F_styles[{k}] has {len(S)}; give every style image's "
                             "activation at the same layer")
    b = _blend(blend, len(styles))
    if not (is_real(ridge) and np.isfinite(ridge) and ridge > 0):
        raise ValueError(f"w2_target: ridge must be a finite number > 0, got {ridge!r}: "
                         "without it a singular covariance has no gradient")
    fits = [gaussian_fit(S) for S in styles]
    # m_s = sum_k b_k m_k
    m = sum(b_k * m_k for b_k, (m_k, _) in zip(b, fits)).astype(styles[0].dtype, copy=False)
    # C_s = sum_k b_k (C_k + (m_k - m_s)(m_k - m_s)^T)
    C = sum(b_k * (C_k + np.outer(m_k - m, m_k - m)) for b_k, (m_k, C_k) in zip(b, fits))
    C = C.astype(styles[0].dtype, copy=False)
    N = len(C)
    # eps = ridge * tr(C_s) / N
    eps = ridge * float(np.trace(C, dtype=np.float64)) / N
    if not eps > 0:
        raise ValueError("w2_target: the style's features do not vary at this layer (zero "
                         "covariance: a flat image, or one position); there is no Gaussian "
                         "to compare with: use a larger style image or another layer")
    C[np.diag_indices(N)] += C.dtype.type(eps)
    # C_s + eps I >= eps I: its eigenvalues lie above eps
    lam, Q = _eigen(C, eps)
    # S = (C_s + eps I)^(1/2)
    S = (Q * np.sqrt(lam)) @ Q.T
    # S (C + eps I) S >= eps S^2 >= eps lambda_min(S^2) I
    return W2Target(m, C, S, eps, eps * float(lam[0]))


def w2_layer_loss(F, target):
    """The Wasserstein-2 style loss at one layer and its gradient.

    Parameters
    ----------
    F : ndarray, (N_l, M_l) or (C, H, W)
        The generated image's activation at layer l, float32 or float64.
    target : W2Target
        The style's Gaussian at the same layer (:func:`w2_target`), in F's dtype.

    Returns
    -------
    (E_l, dE_l/dF)
        ``E_l = |m - m_s|^2 + tr(C + eps I) + tr(C_s + eps I) - 2 tr((S (C + eps I) S)^(1/2))``,
        the squared W2 distance between the two ridged Gaussians, a scalar of F's dtype; and
        its gradient ``2/M [(I - A)(F - m 1^T) + (m - m_s) 1^T]``, shaped like F, with
        ``A = S (S (C + eps I) S)^(-1/2) S``.

    Notes
    -----
    With ``T = S (C + eps I) S = Q diag(mu) Q^T``: ``tr(T^(1/2)) = sum_i sqrt(mu_i)``, and
    ``A = B B^T`` with ``B = S Q diag(mu^(-1/4))``, symmetric positive definite by
    construction. Cost beyond the Gram loss's two (N, M) products: one eigendecomposition
    and four products of (N, N) matrices.
    """
    F_matrix = _features(F, "F", "w2_layer_loss")
    _check_target(target, F_matrix, "w2_layer_loss")
    N, M = F_matrix.shape
    S = target.root
    m, F_centred = _centred(F_matrix)
    # C + eps I = (F - m 1^T)(F - m 1^T)^T / M + eps I
    C = F_centred @ F_centred.T / M
    C[np.diag_indices(N)] += C.dtype.type(target.eps)
    # T = S (C + eps I) S, symmetric (its round-off made symmetric too)
    T = S @ C @ S
    T = (T + T.T) / 2
    mu, Q = _eigen(T, target.floor)
    dm = m - target.mean
    # E_l = |m - m_s|^2 + tr(C + eps I) + tr(C_s + eps I) - 2 tr(T^(1/2)),
    # tr(T^(1/2)) = sum_i sqrt(mu_i)
    loss = (float(np.dot(dm, dm)) + float(np.trace(C, dtype=np.float64))
            + float(np.trace(target.cov, dtype=np.float64))
            - 2 * float(np.sum(np.sqrt(mu), dtype=np.float64)))
    # A = S T^(-1/2) S = B B^T,  B = S Q diag(mu^(-1/4))
    B = (S @ Q) * mu ** -0.25
    A = B @ B.T
    # dE_l/dF = 2/M [(F - m 1^T) - A (F - m 1^T) + (m - m_s) 1^T]
    grad = A @ F_centred
    np.subtract(F_centred, grad, out=grad)
    grad += dm[:, None]
    grad *= grad.dtype.type(2 / M)
    return F_matrix.dtype.type(loss), grad.reshape(np.shape(F))


def w2_loss(F, targets, weights=None):
    """Weighted Wasserstein-2 style loss over layers and its gradient per layer.

    Parameters
    ----------
    F : dict
        ``{layer: activation (N_l, M_l) or (C, H, W)}`` of the generated image (may hold
        extra layers).
    targets : dict
        ``{layer: W2Target}``, one per style layer.
    weights : dict, optional
        ``{layer: w_l}``; None for equal weights ``1 / len(targets)``.

    Returns
    -------
    (L, grads)
        ``L = sum_l w_l E_l`` and ``{layer: w_l dE_l/dF^l}``, each in its layer's dtype.
    """
    _require_layers(F, targets, "w2_loss", "targets")
    weights = _layer_weights(targets, weights, default=1.0 / max(len(targets), 1), what="W2 style")
    total, grads = 0.0, {}
    for layer, target in targets.items():
        E, dE = w2_layer_loss(F[layer], target)
        # L_w2 = sum_l w_l E_l
        total += weights[layer] * E
        # dL_w2/dF^l = w_l dE_l/dF^l   (a float64 weight must not upcast a float32 layer)
        grads[layer] = (weights[layer] * dE).astype(dE.dtype, copy=False)
    return total, grads


def _centred(F):
    """(m (N,), F - m 1^T (N, M)) for F (N, M)."""
    # m = F 1 / M
    m = F.mean(axis=1)
    return m, F - m[:, None]


def _eigen(X, floor):
    """(mu, Q): X = Q diag(mu) Q^T, mu ascending, raised to ``floor`` (a bound the caller
    knows holds in exact arithmetic: what lies below is round-off)."""
    mu, Q = np.linalg.eigh(X)
    return np.maximum(mu, mu.dtype.type(floor)), Q


def _features(F, name, where):
    """(N, M) or (C, H, W) float32/float64 -> the (N_l, M_l) matrix, else one line."""
    F = float_array(F, name, where)
    if F.ndim not in (2, 3) or F.shape[0] == 0 or F[0].size == 0:
        raise ValueError(f"{where}: {name} has shape {F.shape}; expected a layer activation "
                         "(N_l, M_l) or (C, H, W) with at least one channel and position")
    return F.reshape(F.shape[0], -1)


def _symmetric(X, name, where):
    """X as a square, symmetric float32/float64 array, else one line."""
    X = float_array(X, name, where)
    if X.ndim != 2 or X.shape[0] != X.shape[1] or X.size == 0:
        raise ValueError(f"{where}: {name} has shape {X.shape}; expected a square (N, N) matrix")
    scale = float(np.max(np.abs(X)))
    if not np.all(np.isfinite(X)) or float(np.max(np.abs(X - X.T))) > 1e-6 * scale:
        raise ValueError(f"{where}: {name} is not a finite symmetric matrix; a covariance is "
                         "symmetric (make it so with (X + X.T) / 2)")
    return X


def _blend(blend, n):
    """One weight >= 0 per style image, scaled to sum 1 (None: equal), else one line."""
    if blend is None:
        return [1.0 / n] * n
    blend = [float(b) if is_real(b) else b for b in blend]
    if (len(blend) != n or not all(is_real(b) and np.isfinite(b) and b >= 0 for b in blend)
            or sum(blend) <= 0):
        raise ValueError(f"w2_target: blend {blend} must be {n} finite weights >= 0 with a "
                         "positive sum, one per style image")
    return [b / sum(blend) for b in blend]


def _check_target(target, F, where):
    """One line unless ``target`` is a W2Target of F's (N, M) channels and dtype."""
    if not isinstance(target, W2Target):
        raise ValueError(f"{where}: target is a {type(target).__name__}; pass the W2Target "
                         "that w2_target(style activations) returns")
    N = F.shape[0]
    if target.mean.shape != (N,) or target.root.shape != (N, N):
        raise ValueError(f"{where}: F has {N} channels but the target has "
                         f"{target.mean.shape[0]}; build the target from the same layer")
    same_dtype(F, target.root, ("F", "the target"), where)
