"""The MRF loss of Li and Wand: against plain loops, finite differences, and its invariances.

float64 and small shapes, as in test_losses.py. Gradient checks use check_gradient's own step
and tolerance (1e-6, nst_numpy/gradcheck.py states why). With the matching held fixed the
loss is a quadratic in F, so a central difference has no truncation error at all; what is
left is round-off, far below 1e-6. Comparisons of two computations of the same sums allow
1e-12 relative: they differ only in the order of a few hundred additions.
"""

import math

import numpy as np
import pytest

from nst_numpy import mrf
from nst_numpy.gradcheck import check_gradient, default_step
from nst_numpy.layers import col2im


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---------------------------------------------------------------------------
# An independent reference: the definitions, one number at a time
# ---------------------------------------------------------------------------

def loop_patches(F):
    """psi_i(F) for i = y*(W-2) + x, entry c*9 + dy*3 + dx = F[c, y+dy, x+dx]."""
    C, H, W = F.shape
    return [[F[c, y + dy, x + dx] for c in range(C) for dy in range(3) for dx in range(3)]
            for y in range(H - 2) for x in range(W - 2)]


def loop_dot(u, v):
    return sum(a * b for a, b in zip(u, v))


def loop_nearest(patches, style_patches):
    """argmax_j <p, s_j> / (|p| |s_j|), the first j on a tie (no zero norms in these tests)."""
    nn = []
    for p in patches:
        best, best_j = -math.inf, None
        for j, s in enumerate(style_patches):
            score = loop_dot(p, s) / (math.sqrt(loop_dot(p, p)) * math.sqrt(loop_dot(s, s)))
            if score > best:
                best, best_j = score, j
        nn.append(best_j)
    return nn


def loop_loss_and_gradient(F, styles):
    """E = 1/2 sum_i |psi_i(F) - psi_NN(i)(S)|^2 and dE/dF, pixel by pixel."""
    C, H, W = F.shape
    style_patches = [s for S in styles for s in loop_patches(S)]
    patches = loop_patches(F)
    nn = loop_nearest(patches, style_patches)
    loss, grad = 0.0, np.zeros_like(F)
    for i, p in enumerate(patches):
        y, x = divmod(i, W - 2)
        residual = [a - b for a, b in zip(p, style_patches[nn[i]])]
        loss += 0.5 * loop_dot(residual, residual)
        for k, r in enumerate(residual):
            c, dy, dx = k // 9, (k % 9) // 3, k % 3
            grad[c, y + dy, x + dx] += r
    return nn, loss, grad


# ---------------------------------------------------------------------------
# Patches and their adjoint
# ---------------------------------------------------------------------------

def test_extract_patches_matches_loops(rng):
    F = rng.normal(size=(3, 5, 6))
    patches = mrf.extract_patches(F)
    assert patches.shape == (3 * 4, 3 * 9)
    np.testing.assert_array_equal(patches, loop_patches(F))


def test_col2im_is_the_adjoint_of_patch_extraction(rng):
    # <A x, r> = <x, A^T r>: what makes col2im the gradient of patch extraction
    F, R = rng.normal(size=(3, 5, 6)), rng.normal(size=(12, 27))
    lhs = np.sum(mrf.extract_patches(F) * R)
    rhs = np.sum(F * col2im(R.T, F.shape, 3, 3, 0))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_target_concatenates_every_style_image_with_its_norms(rng):
    S1, S2 = rng.normal(size=(2, 4, 5)), rng.normal(size=(2, 6, 3))
    target = mrf.mrf_target([S1, S2])
    expected = loop_patches(S1) + loop_patches(S2)
    np.testing.assert_array_equal(target.patches, expected)
    np.testing.assert_allclose(target.norms, [math.sqrt(loop_dot(s, s)) for s in expected],
                               rtol=1e-14)
    assert target.channels == 2


# ---------------------------------------------------------------------------
# The vectorised code against the loops
# ---------------------------------------------------------------------------

def test_loss_gradient_and_matching_match_plain_loops(rng):
    F = rng.normal(size=(3, 6, 5))
    styles = [rng.normal(size=(3, 5, 7)), rng.normal(size=(3, 6, 6))]     # 15 + 16 patches
    nn, loss, grad = loop_loss_and_gradient(F, styles)
    target = mrf.mrf_target(styles)
    np.testing.assert_array_equal(mrf.nearest_patches(mrf.extract_patches(F), target), nn)
    E, dE = mrf.mrf_layer_loss(F, target)
    assert E == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(dE, grad, rtol=1e-12, atol=1e-12)
    # the case is not degenerate: many different matches, in both style images
    assert len(set(nn)) >= len(nn) // 2
    assert min(nn) < 15 <= max(nn)


# ---------------------------------------------------------------------------
# The gradient against finite differences
# ---------------------------------------------------------------------------

def test_gradient_check(rng):
    F, S = rng.normal(size=(4, 6, 6)), rng.normal(size=(4, 7, 7))
    target = mrf.mrf_target([S])
    E, dE = mrf.mrf_layer_loss(F, target)
    # Holding the matching fixed is exact here: a step h moves every score
    # <psi_i, psi_j> / |psi_j| by at most h, far less than the gap between each patch's best
    # and second-best score, so no difference quotient crosses a change of matching.
    scores = mrf.extract_patches(F) @ target.patches.T / target.norms
    top_two = np.sort(scores, axis=1)[:, -2:]
    assert np.min(top_two[:, 1] - top_two[:, 0]) > 100 * 2 * np.max(default_step(F))
    result = check_gradient(lambda f: mrf.mrf_layer_loss(f, target)[0], F, dE)
    assert result, str(result)


def test_gradient_check_through_mrf_loss_over_two_layers(rng):
    F = {"relu3_1": rng.normal(size=(2, 5, 5)), "relu4_1": rng.normal(size=(3, 4, 4))}
    targets = {"relu3_1": mrf.mrf_target([rng.normal(size=(2, 6, 6))]),
               "relu4_1": mrf.mrf_target([rng.normal(size=(3, 5, 5))])}
    weights = {"relu3_1": 0.3, "relu4_1": 2.0}
    _, grads = mrf.mrf_loss(F, targets, weights)
    for layer in F:
        def f(x, layer=layer):
            return mrf.mrf_loss({**F, layer: x}, targets, weights)[0]
        result = check_gradient(f, F[layer], grads[layer])
        assert result, f"{layer}: {result}"


# ---------------------------------------------------------------------------
# Properties of the matching
# ---------------------------------------------------------------------------

def test_matching_is_invariant_to_scaling_patches_by_positive_numbers(rng):
    F, S = rng.normal(size=(2, 7, 7)), rng.normal(size=(2, 8, 8))
    patches, target = mrf.extract_patches(F), mrf.mrf_target([S])
    nn = mrf.nearest_patches(patches, target)
    style_scale = rng.uniform(1e-3, 1e3, size=(len(target.patches), 1))
    scaled_style = target.patches * style_scale
    scaled = mrf.MRFTarget(scaled_style, np.linalg.norm(scaled_style, axis=1))
    generated_scale = rng.uniform(1e-3, 1e3, size=(len(patches), 1))
    np.testing.assert_array_equal(mrf.nearest_patches(patches * generated_scale, scaled), nn)
    # without the normalisation the scaling would change the matching: the test has teeth
    assert np.any(np.argmax(patches @ scaled_style.T, axis=1) != nn)


def test_block_size_does_not_change_the_matching_or_the_loss(rng, monkeypatch):
    F, S = rng.normal(size=(3, 9, 8)), rng.normal(size=(3, 8, 9))
    patches, target = mrf.extract_patches(F), mrf.mrf_target([S])
    nn = mrf.nearest_patches(patches, target, block=len(patches))
    for block in (1, 5, 13, 10**6, None):
        np.testing.assert_array_equal(mrf.nearest_patches(patches, target, block=block), nn)
    E, dE = mrf.mrf_layer_loss(F, target, block=len(patches))      # one band
    for block in (1, 6, 13, None):                                  # 7, 7, 3 and 1 bands
        E_b, dE_b = mrf.mrf_layer_loss(F, target, block=block)
        assert E_b == pytest.approx(E, rel=1e-12)
        np.testing.assert_allclose(dE_b, dE, rtol=1e-12, atol=1e-14)
    # the default block, shrunk to a few rows of scores: many blocks, same answer
    monkeypatch.setattr(mrf, "MRF_BLOCK_BYTES", 3 * len(target.patches) * 8)
    np.testing.assert_array_equal(mrf.nearest_patches(patches, target), nn)
    assert mrf.mrf_layer_loss(F, target)[0] == pytest.approx(E, rel=1e-12)


def test_loss_is_zero_when_every_patch_exists_in_the_style(rng):
    S = rng.normal(size=(3, 9, 10))
    for F in (S.copy(), S[:, 2:8, 1:6].copy()):        # the style itself, or a crop of it
        E, dE = mrf.mrf_layer_loss(F, mrf.mrf_target([rng.normal(size=(3, 4, 4)), S]))
        assert E == 0.0
        assert not np.any(dE)
    # ... and not zero when one pixel differs
    F = S[:, 2:8, 1:6].copy()
    F[1, 3, 2] += 0.5
    assert mrf.mrf_layer_loss(F, mrf.mrf_target([S]))[0] > 0


def test_zero_patches_give_no_nan(rng):
    S = np.abs(rng.normal(size=(2, 6, 6)))
    S[:, :4, :4] = 0.0                          # a style patch of norm 0 (ReLU output)
    F = np.abs(rng.normal(size=(2, 6, 6)))
    F[:, 3:, 3:] = 0.0                          # one generated patch of norm 0, the last
    target = mrf.mrf_target([S])
    assert target.norms[0] == 0.0
    with np.errstate(all="raise"):
        nn = mrf.nearest_patches(mrf.extract_patches(F), target)
        E, dE = mrf.mrf_layer_loss(F, target)
    assert np.isfinite(E) and np.all(np.isfinite(dE))
    assert nn[-1] == 0                          # the zero patch: every score is 0, first wins
    # a non-zero patch of non-negative entries never picks the zero style patch
    assert np.all(nn[:-1] != 0)


# ---------------------------------------------------------------------------
# Over layers, dtypes
# ---------------------------------------------------------------------------

def test_mrf_loss_sums_weighted_layers(rng):
    F = {"relu3_1": rng.normal(size=(2, 5, 5)), "relu4_1": rng.normal(size=(3, 4, 4)),
         "relu4_2": rng.normal(size=(3, 4, 4))}           # an extra layer, ignored
    targets = {"relu3_1": mrf.mrf_target([rng.normal(size=(2, 6, 6))]),
               "relu4_1": mrf.mrf_target([rng.normal(size=(3, 5, 5))])}
    per_layer = {layer: mrf.mrf_layer_loss(F[layer], t) for layer, t in targets.items()}
    weights = {"relu3_1": 0.25, "relu4_1": 4.0}
    L, grads = mrf.mrf_loss(F, targets, weights)
    assert L == pytest.approx(0.25 * per_layer["relu3_1"][0] + 4.0 * per_layer["relu4_1"][0],
                              rel=1e-14)
    assert sorted(grads) == ["relu3_1", "relu4_1"]
    for layer, w in weights.items():
        np.testing.assert_array_equal(grads[layer], w * per_layer[layer][1])
    L_default, grads_default = mrf.mrf_loss(F, targets)
    assert L_default == pytest.approx(sum(E for E, _ in per_layer.values()) / 2, rel=1e-14)
    np.testing.assert_array_equal(grads_default["relu4_1"], per_layer["relu4_1"][1] / 2)


def test_float32_stays_float32(rng):
    F = rng.normal(size=(2, 5, 5)).astype(np.float32)
    target = mrf.mrf_target([rng.normal(size=(2, 6, 6)).astype(np.float32)])
    assert target.patches.dtype == target.norms.dtype == np.float32
    E, dE = mrf.mrf_layer_loss(F, target)
    assert E.dtype == np.float32 and dE.dtype == np.float32
    _, grads = mrf.mrf_loss({"relu3_1": F}, {"relu3_1": target}, {"relu3_1": np.float64(2.0)})
    assert grads["relu3_1"].dtype == np.float32
    E64, _ = mrf.mrf_layer_loss(F.astype(np.float64), mrf.MRFTarget(
        target.patches.astype(np.float64), target.norms.astype(np.float64)))
    assert E == pytest.approx(E64, rel=1e-5)                # float32 round-off, no more


# ---------------------------------------------------------------------------
# Bad input: one clear line each
# ---------------------------------------------------------------------------

@pytest.fixture
def target():
    return mrf.mrf_target([np.ones((2, 4, 4))])


@pytest.mark.parametrize("F, message", [
    (np.zeros((2, 16)), r"\(2, 16\); expected a layer activation \(C, H, W\)"),
    (np.zeros((1, 2, 4, 4)), r"\(1, 2, 4, 4\); expected a layer activation"),
    (np.zeros((2, 2, 5)), r"\(2, 2, 5\); a 3x3 patch needs H >= 3 and W >= 3"),
    (np.zeros((2, 5, 2)), r"a 3x3 patch needs"),
    (np.zeros((3, 4, 4)), r"F has 3 channels but the target's patches come from a 2-channel"),
    (np.zeros((2, 4, 4), np.float32), r"F is float32 but the target's patches is float64"),
    (np.zeros((2, 4, 4), np.int64), r"F has dtype int64; pass float32 or float64"),
])
def test_bad_activation_is_one_clear_line(target, F, message):
    with pytest.raises(ValueError, match=message):
        mrf.mrf_layer_loss(F, target)


def test_bad_target_is_one_clear_line(target):
    F = np.zeros((2, 4, 4))
    with pytest.raises(ValueError, match="target is a ndarray; pass the MRFTarget"):
        mrf.mrf_layer_loss(F, np.eye(2))             # a Gram matrix by mistake
    with pytest.raises(ValueError, match=r"norms \(3,\)"):
        mrf.mrf_layer_loss(F, mrf.MRFTarget(target.patches, target.norms[:3]))
    with pytest.raises(ValueError, match="no style activation given"):
        mrf.mrf_target([])
    with pytest.raises(ValueError, match=r"F_styles\[0\] has 2 channels but F_styles\[1\] has 3"):
        mrf.mrf_target([np.zeros((2, 4, 4)), np.zeros((3, 4, 4))])
    with pytest.raises(ValueError, match=r"F_styles\[0\] is float64 but F_styles\[1\] is float32"):
        mrf.mrf_target([np.zeros((2, 4, 4)), np.zeros((2, 4, 4), np.float32)])
    with pytest.raises(ValueError, match=r"F_styles\[1\] has shape \(2, 2, 8\); a 3x3 patch"):
        mrf.mrf_target([np.zeros((2, 4, 4)), np.zeros((2, 2, 8))])


def test_bad_patches_and_block_are_one_clear_line(target):
    with pytest.raises(ValueError, match=r"patches has shape \(4, 27\); expected \(P, 18\)"):
        mrf.nearest_patches(np.zeros((4, 27)), target)
    for block in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="block must be a positive integer or None"):
            mrf.nearest_patches(np.zeros((4, 18)), target, block=block)
        with pytest.raises(ValueError, match="block must be a positive integer or None"):
            mrf.mrf_layer_loss(np.zeros((2, 4, 4)), target, block=block)


def test_missing_layer_or_weight_is_named(target):
    with pytest.raises(ValueError, match=r"\['relu4_1'\] that F lacks"):
        mrf.mrf_loss({"relu3_1": np.zeros((2, 4, 4))}, {"relu4_1": target})
    with pytest.raises(ValueError, match=r"weights missing for layers \['relu3_1'\]"):
        mrf.mrf_loss({"relu3_1": np.zeros((2, 4, 4))}, {"relu3_1": target}, {"relu4_1": 1.0})
