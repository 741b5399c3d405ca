"""The Wasserstein-2 style loss: its square root, the root's derivative, the loss and its
gradient, against independent references and finite differences, alone and through the
network.

Gradient checks are in float64 on small inputs, with check_gradient's own step and tolerance
(1e-6; nst_numpy/gradcheck.py states why). Every function checked here is smooth where it is
checked: the ridge keeps every eigenvalue that is square-rooted or divided by at least
``W2Target.floor`` away from 0, so the central difference's truncation error, of order h^2
times the third derivative, stays some 1e-10 relative, far below 1e-6. Comparisons with
another computation of the same numbers (scipy's sqrtm, NumPy's covariance, torch's autograd)
allow 1e-10 relative (1e-8 for torch's gradient, which goes through its own eigenvector
backward pass): both sides differ only by round-off in sums of at most a few hundred terms
and in two eigendecompositions of matrices whose condition numbers are below 1e4.
"""

import numpy as np
import pytest
import scipy.linalg

from nst_numpy import image as im
from nst_numpy import terms, transfer, wasserstein as w
from nst_numpy._checks import OptionError
from nst_numpy.cli import main
from nst_numpy.gradcheck import check_gradient
from nst_numpy.objective import Objective

CONTENT, STYLE = im.demo_images()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def spd(rng, n, rank=None):
    """A random symmetric positive (semi)definite (n, n) matrix of the given rank."""
    G = rng.normal(size=(n, rank or n + 2))
    return G @ G.T


def features(rng, N, M, offset=0.0):
    """ReLU-like features (N, M): positive, each channel with its own mean and spread."""
    return np.abs(rng.normal(size=(N, M)) * rng.uniform(0.5, 2, (N, 1)) + offset)


# ---------------------------------------------------------------------------
# The matrix square root and its derivative
# ---------------------------------------------------------------------------

def test_sqrtm_matches_scipy_and_squares_back(rng):
    X = spd(rng, 6)
    R = w.sqrtm_psd(X)
    np.testing.assert_allclose(R, scipy.linalg.sqrtm(X).real, rtol=1e-10, atol=1e-12)
    # a singular PSD matrix (rank 3 of 6): its root is still symmetric PSD and squares back
    X = spd(rng, 6, rank=3)
    R = w.sqrtm_psd(X)
    np.testing.assert_allclose(R, R.T, atol=1e-14 * np.abs(R).max())
    np.testing.assert_allclose(R @ R, X, atol=1e-10 * np.abs(X).max())
    assert np.linalg.eigvalsh(R).min() > -1e-7 * np.abs(R).max()


def test_sqrtm_derivative_solves_the_sylvester_equation(rng):
    X, E = spd(rng, 5), rng.normal(size=(5, 5))
    E = E + E.T
    L = w.sqrtm_derivative(X, E)
    R = w.sqrtm_psd(X)
    # R L + L R = E
    np.testing.assert_allclose(R @ L + L @ R, E, rtol=1e-10, atol=1e-12 * np.abs(E).max())


def test_sqrtm_derivative_matches_finite_differences(rng):
    # f(Y) = <W, sqrtm((Y + Y^T) / 2)>: by the chain rule and the derivative's self-adjointness
    # df/dY = sym(sqrtm_derivative(X, sym(W))), sym(Z) = (Z + Z^T) / 2
    X, W = spd(rng, 5), rng.normal(size=(5, 5))
    sym = lambda Z: (Z + Z.T) / 2   # noqa: E731
    grad = sym(w.sqrtm_derivative(X, sym(W)))
    check = check_gradient(lambda Y: np.sum(W * w.sqrtm_psd(sym(Y))), X, grad)
    assert check.passed, check


def test_the_gradient_of_the_trace_of_the_root_is_half_the_inverse_root(rng):
    # d tr(X^(1/2)) = tr(sqrtm_derivative(X, dX)) = tr(X^(-1/2) dX) / 2: the identity the loss uses
    X, E = spd(rng, 5), rng.normal(size=(5, 5))
    E = E + E.T
    inverse_root = np.linalg.inv(scipy.linalg.sqrtm(X).real)
    assert np.trace(w.sqrtm_derivative(X, E)) == pytest.approx(
        np.trace(inverse_root @ E) / 2, rel=1e-10)


# ---------------------------------------------------------------------------
# The loss against independent references
# ---------------------------------------------------------------------------

def test_gaussian_fit_is_numpys_mean_and_covariance(rng):
    F = features(rng, 4, 3, 5)
    m, C = w.gaussian_fit(F.reshape(4, 1, 3))          # a (C, H, W) activation works too
    np.testing.assert_allclose(m, F.mean(axis=1), rtol=1e-14)
    np.testing.assert_allclose(C, np.cov(F, bias=True), rtol=1e-12, atol=1e-14)


def test_loss_matches_the_closed_form_computed_by_scipy(rng):
    F, S = features(rng, 5, 9), features(rng, 5, 13, 1)
    target = w.w2_target(S)
    E, _ = w.w2_layer_loss(F, target)
    eps = target.eps
    C = np.cov(F, bias=True) + eps * np.eye(5)
    C_s = np.cov(S, bias=True) + eps * np.eye(5)
    root_s = scipy.linalg.sqrtm(C_s).real
    expected = (np.sum((F.mean(1) - S.mean(1)) ** 2) + np.trace(C) + np.trace(C_s)
                - 2 * np.trace(scipy.linalg.sqrtm(root_s @ C @ root_s).real))
    assert E == pytest.approx(expected, rel=1e-10)
    assert eps == pytest.approx(w.RIDGE * np.trace(np.cov(S, bias=True)) / 5, rel=1e-12)


def test_commuting_covariances_give_the_distance_of_the_standard_deviations(rng):
    # With diagonal covariances, W2^2 = |m - m_s|^2 + sum_i (sigma_i - sigma_s,i)^2: features
    # whose centred rows are orthogonal have a diagonal covariance.
    N, M = 4, 11
    Z = rng.normal(size=(M, N))
    # orthonormal columns spanning those of Z - its column means: each orthogonal to 1
    Q = np.linalg.qr(Z - Z.mean(axis=0))[0]
    centred = Q.T * np.sqrt(M)          # rows of mean 0 with centred centred^T / M = I
    sd, sd_s = rng.uniform(0.5, 3, N), rng.uniform(0.5, 3, N)
    m, m_s = rng.normal(size=N), rng.normal(size=N)
    F = m[:, None] + sd[:, None] * centred
    S = m_s[:, None] + sd_s[:, None] * centred[:, ::-1]
    np.testing.assert_allclose(np.cov(F, bias=True), np.diag(sd ** 2), atol=1e-12)
    target = w.w2_target(S, ridge=1e-9)
    E, _ = w.w2_layer_loss(F, target)
    eps = target.eps
    expected = (np.sum((m - m_s) ** 2)
                + np.sum((np.sqrt(sd ** 2 + eps) - np.sqrt(sd_s ** 2 + eps)) ** 2))
    assert E == pytest.approx(expected, rel=1e-9)


def test_zero_at_the_style_and_blind_to_the_order_of_positions(rng):
    S = features(rng, 5, 12)
    target = w.w2_target(S)
    E, grad = w.w2_layer_loss(S, target)
    scale = np.trace(target.cov)
    assert abs(E) < 1e-12 * scale and np.abs(grad).max() < 1e-12 * np.abs(S).max()
    F = features(rng, 5, 9)
    E, grad = w.w2_layer_loss(F, target)
    shuffled = rng.permutation(9)
    E2, grad2 = w.w2_layer_loss(F[:, shuffled], target)
    assert E > 0.01 * scale and E2 == pytest.approx(E, rel=1e-12)
    np.testing.assert_allclose(grad2, grad[:, shuffled], rtol=1e-10, atol=1e-14)


def test_several_style_images_make_the_fit_of_their_pooled_positions(rng):
    # blend in proportion to positions: the mixture is the pooled positions' own Gaussian
    S1, S2 = features(rng, 4, 6), features(rng, 4, 10, 2)
    mixed = w.w2_target([S1, S2], blend=[6, 10], ridge=0.05)
    pooled = w.w2_target(np.concatenate([S1, S2], axis=1), ridge=0.05)
    for a, b in zip(mixed, pooled):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_loss_and_gradient_match_torch_autograd(rng):
    torch = pytest.importorskip("torch")
    F, S = features(rng, 6, 4), features(rng, 6, 9, 1)     # C of rank 3 of 6: the ridge acts
    target = w.w2_target(S)
    E, grad = w.w2_layer_loss(F, target)
    F_t = torch.tensor(F, requires_grad=True)
    m = F_t.mean(dim=1)
    centred = F_t - m[:, None]
    C = centred @ centred.T / 4 + target.eps * torch.eye(6, dtype=torch.float64)
    root = torch.tensor(target.root)
    T = root @ C @ root
    E_t = (torch.sum((m - torch.tensor(target.mean)) ** 2) + torch.trace(C)
           + float(np.trace(target.cov)) - 2 * torch.sqrt(torch.linalg.eigvalsh(T)).sum())
    E_t.backward()
    assert E == pytest.approx(E_t.item(), rel=1e-10)
    np.testing.assert_allclose(grad, F_t.grad.numpy(), rtol=1e-8, atol=1e-12 * np.abs(grad).max())


# ---------------------------------------------------------------------------
# The gradient against finite differences
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("N, M", [(4, 9), (6, 3)], ids=["full rank", "M < N"])
def test_layer_gradient_matches_finite_differences(rng, N, M):
    # (6, 3): three positions of six channels, a covariance of rank 2, and the style has a
    # dead channel (a row of zeros, as after a ReLU): the ridge makes both differentiable
    F, S = features(rng, N, M), features(rng, N, 8, 1)
    S[1] = 0.0
    target = w.w2_target(S)
    E, grad = w.w2_layer_loss(F, target)
    assert E > 0 and grad.shape == F.shape
    check = check_gradient(lambda v: w.w2_layer_loss(v, target)[0], F, grad)
    assert check.passed, check


def test_weighted_loss_over_layers(rng):
    F = {"a": features(rng, 3, 4, 1).reshape(3, 2, 2), "b": features(rng, 5, 6), "c": None}
    targets = {"a": w.w2_target(features(rng, 3, 5)), "b": w.w2_target(features(rng, 5, 7))}
    L, grads = w.w2_loss(F, targets, {"a": 0.25, "b": 2.0})
    (Ea, ga), (Eb, gb) = (w.w2_layer_loss(F[k], targets[k]) for k in "ab")
    assert L == pytest.approx(0.25 * Ea + 2 * Eb, rel=1e-14)
    np.testing.assert_allclose(grads["a"], 0.25 * ga, rtol=1e-14)
    assert set(grads) == {"a", "b"} and grads["a"].shape == (3, 2, 2)


def test_float32_stays_float32_and_agrees_with_float64(rng):
    F, S = features(rng, 8, 30), features(rng, 8, 40, 1)
    E64, g64 = w.w2_layer_loss(F, w.w2_target(S))
    E32, g32 = w.w2_layer_loss(F.astype(np.float32), w.w2_target(S.astype(np.float32)))
    assert type(E32) is np.float32 and g32.dtype == np.float32
    # a well-conditioned case: float32's round-off (1e-7) amplified by the eigensolver
    assert E32 == pytest.approx(E64, rel=1e-4)
    np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-4 * np.abs(g64).max())


def test_objective_gradient_through_the_network_matches_finite_differences(random_vgg):
    # float64, 12x12, random weights: content, the W2 term of two blended style images at
    # relu1_1 and relu2_1 (36 positions for 128 channels: a singular covariance) and TV,
    # dL/dx through the network. check_gradient's tolerance (1e-6), with a step of 0.01 on
    # the 0-255 pixel scale instead of its default 6e-4: the default assumes that L carries
    # a few eps |L| of round-off, but an eigenvalue mu of T comes out of eigh with an error
    # of about eps ||T||, which its square root turns into eps ||T|| / (2 sqrt(mu)); with 92
    # eigenvalues near the ridge's floor at relu2_1, L's round-off is some 100 times more
    # than the default assumes. At 0.01 the truncation error is still about 1e-8 relative
    # (measured at the worst entry: 3e-8 at h = 0.01, 1e-7 at 1e-3, 4e-6 at 1e-4, where
    # round-off takes over).
    model = random_vgg(pooling="max")
    rng = np.random.default_rng(3)
    content, s1, s2 = (rng.integers(0, 256, (12, 12, 3), dtype=np.uint8) for _ in range(3))
    objective = Objective(model, [
        terms.Content(content, "relu2_1"),
        terms.W2Style([s1, s2], ["relu1_1", "relu2_1"], weight=30.0, blend=[1, 3]),
        terms.TotalVariation(1.0)], (12, 12), np.float64)
    x = im.preprocess(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8), np.float64)
    loss, grad = objective(x)
    assert objective.last.style > 0.1 * loss and objective.last.content > 0.1 * loss
    check = check_gradient(lambda v: objective(v)[0], x, grad, num_samples=24, h=0.01)
    assert check.passed, check


# ---------------------------------------------------------------------------
# The term, the option, and what is refused
# ---------------------------------------------------------------------------

def test_the_term_defaults_and_its_memory():
    assert terms.STYLE_LOSSES["w2"] is terms.W2Style
    term = terms.W2Style(STYLE)
    assert term.layers == list(terms.STYLE_LAYERS) and term.ridge == w.RIDGE and term.lbfgs
    gram = terms.GramStyle(STYLE)
    # the centred features of relu1_1, the largest of the default layers: 64 H W values
    assert term.memory((64, 48), 4) == gram.memory((64, 48), 4) + 64 * 64 * 48 * 4


@pytest.mark.parametrize("ridge", [0, -1e-3, float("nan"), "0.01", True])
def test_a_bad_ridge_is_refused_naming_it(ridge):
    with pytest.raises(OptionError, match=r"^ridge must be a finite number > 0, got "):
        terms.W2Style(STYLE, ridge=ridge)
    with pytest.raises(ValueError, match="w2_target: ridge must be a finite number > 0"):
        w.w2_target(np.ones((2, 3)), ridge=ridge)


@pytest.mark.parametrize("call, message", [
    (lambda: w.w2_target(np.full((3, 4), 2.0)), "the style's features do not vary"),
    (lambda: w.w2_target([np.ones((3, 4)), np.ones((2, 4))]), "F_styles[1] has 2"),
    (lambda: w.w2_target([np.ones((3, 4)), np.ones((3, 4), np.float32)]), "compute both"),
    (lambda: w.w2_target([np.eye(3)] * 2, blend=[1]), "blend [1.0] must be 2 finite"),
    (lambda: w.w2_target(np.ones((3, 0))), "at least one channel and position"),
    (lambda: w.w2_layer_loss(np.eye(3), np.eye(3)), "pass the W2Target"),
    (lambda: w.w2_layer_loss(np.eye(4), w.w2_target(np.eye(3))), "F has 4 channels"),
    (lambda: w.w2_loss({}, {"relu1_1": w.w2_target(np.eye(3))}), "that F lacks"),
    (lambda: w.sqrtm_psd(np.triu(np.ones((3, 3)))), "not a finite symmetric matrix"),
    (lambda: w.sqrtm_psd(np.ones(3)), "expected a square (N, N) matrix"),
    (lambda: w.sqrtm_derivative(np.ones((2, 2)), np.eye(2)), "X is singular"),
    (lambda: w.sqrtm_derivative(np.eye(2), np.eye(3)), "E has shape (3, 3)"),
    (lambda: w.gaussian_fit(np.ones((3, 4), np.int64)), "pass float32 or float64"),
])
def test_bad_arguments_are_one_line(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_cli_style_loss_w2_end_to_end(tmp_path, capsys):
    # two shallow style layers (64 and 128 channels): the default five need an eigensolve of
    # 512 x 512 at relu4_1 and relu5_1 per evaluation, seconds on a loaded CI machine
    out = tmp_path / "w2.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--style-loss", "w2",
                 "--style-layers", "relu1_1,relu2_1", "--size", "40", "--iterations", "3",
                 "--quiet"]) == 0
    assert im.load_image(out).shape == (27, 40, 3)
    result = transfer.stylize(CONTENT, STYLE, style_loss="w2", style_layers=["relu1_1",
                              "relu2_1"], size=40, iterations=3)
    assert result.history["style"][-1] < result.initial.style
    mask = tmp_path / "mask.png"
    im.save_image(np.full((4, 4, 3), 255, np.uint8), mask)
    assert main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "m.png"), "--style-loss",
                 "w2", "--masks", str(mask), "--size", "40", "--iterations", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--masks guide Gram matrices; there is no guided form of "
                        "--style-loss w2") and "\n" not in err
