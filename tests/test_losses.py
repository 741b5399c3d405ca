"""Every loss's closed-form gradient against finite differences, and its input checks.

float64, small shapes; check_gradient's own step and tolerance (nst_numpy/gradcheck.py states
the rule once).
"""

import numpy as np
import pytest

from nst_numpy import losses
from nst_numpy.gradcheck import check_gradient

@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_content_layer_loss_value_and_gradient(rng):
    F, P = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    loss, grad = losses.content_layer_loss(F, P)
    assert loss == pytest.approx(0.5 * np.sum((F - P) ** 2), rel=1e-14)
    assert check_gradient(lambda f: losses.content_layer_loss(f, P)[0], F, grad)


def test_gram_matrix_matches_its_definition(rng):
    F = rng.normal(size=(3, 2, 4))     # (C, H, W): N_l = 3, M_l = 8
    G = losses.gram_matrix(F)
    F_matrix = F.reshape(3, 8)
    expected = [[sum(F_matrix[i, k] * F_matrix[j, k] for k in range(8)) for j in range(3)]
                for i in range(3)]
    np.testing.assert_allclose(G, expected, rtol=1e-13)


@pytest.mark.parametrize("shape", [(5, 7), (3, 4, 5)])
def test_style_layer_loss_value_and_gradient_in_both_layouts(rng, shape):
    F = rng.normal(size=shape)
    N = shape[0]
    M = int(np.prod(shape[1:]))
    A = losses.gram_matrix(rng.normal(size=shape))
    loss, grad = losses.style_layer_loss(F, A)
    G = losses.gram_matrix(F)
    assert loss == pytest.approx(np.sum((G - A) ** 2) / (4 * N**2 * M**2), rel=1e-13)
    assert grad.shape == shape
    assert check_gradient(lambda f: losses.style_layer_loss(f, A)[0], F, grad)


def test_style_loss_is_zero_at_the_target(rng):
    F = rng.normal(size=(4, 9))
    loss, grad = losses.style_layer_loss(F, losses.gram_matrix(F))
    assert loss == pytest.approx(0.0, abs=1e-20)
    np.testing.assert_allclose(grad, 0.0, atol=1e-14)


def test_total_variation_loss_value_and_gradient(rng):
    x = rng.normal(size=(3, 5, 4))
    loss, grad = losses.total_variation_loss(x)
    by_loops = sum((x[c, i + 1, j] - x[c, i, j]) ** 2 for c in range(3) for i in range(4) for j in range(4))
    by_loops += sum((x[c, i, j + 1] - x[c, i, j]) ** 2 for c in range(3) for i in range(5) for j in range(3))
    assert loss == pytest.approx(by_loops, rel=1e-13)
    assert check_gradient(lambda v: losses.total_variation_loss(v)[0], x, grad)
    assert losses.total_variation_loss(np.ones((3, 5, 4)))[0] == 0.0


def test_losses_keep_float32(rng):
    F = rng.normal(size=(4, 6)).astype(np.float32)
    A = losses.gram_matrix(rng.normal(size=(4, 6)).astype(np.float32))
    assert losses.content_layer_loss(F, F * 2)[1].dtype == np.float32
    assert losses.style_layer_loss(F, A)[1].dtype == np.float32
    assert losses.total_variation_loss(F.reshape(1, 4, 6))[1].dtype == np.float32


def test_content_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 6\).*\(4, 5\)"):
        losses.content_layer_loss(np.zeros((4, 6)), np.zeros((4, 5)))


def test_style_target_must_be_n_by_n():
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(4, 6\)"):
        losses.style_layer_loss(np.zeros((4, 6)), np.zeros((3, 3)))


def test_style_target_must_be_symmetric():
    with pytest.raises(ValueError, match="symmetric"):
        losses.style_layer_loss(np.ones((2, 3)), np.array([[1.0, 2.0], [0.0, 1.0]]))


def test_missing_target_layer_is_named():
    with pytest.raises(ValueError, match="relu4_2"):
        losses.content_loss({"relu1_1": np.zeros((2, 2))}, {"relu4_2": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="relu2_1"):
        losses.style_loss({"relu2_1": np.zeros((2, 2))}, {"relu2_1": np.eye(2)}, weights={"relu1_1": 1.0})


def test_activation_with_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5\)"):
        losses.gram_matrix(np.zeros((2, 3, 4, 5)))


def test_combine_gradients_weights_each_term_and_sums_shared_layers():
    c = {"relu4_2": np.full((2, 3), 1.0), "relu1_1": np.full((2, 3), 2.0)}
    s = {"relu1_1": np.full((2, 3), 10.0), "relu2_1": np.full((4, 3), 20.0)}
    g = losses.combine_gradients(c, s, alpha=0.5, beta=3.0)
    assert sorted(g) == ["relu1_1", "relu2_1", "relu4_2"]
    np.testing.assert_array_equal(g["relu4_2"], 0.5)
    np.testing.assert_array_equal(g["relu1_1"], 0.5 * 2.0 + 3.0 * 10.0)
    np.testing.assert_array_equal(g["relu2_1"], 60.0)
    assert c["relu1_1"][0, 0] == 2.0   # the inputs are not modified


# --- content layer weights, guided Gram matrices, normalised gradients -------------------

def test_content_layer_weights_scale_each_layer(rng):
    F = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=(2, 5))}
    P = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=(2, 5))}
    v = {"a": 0.25, "b": 3.0}
    loss, grads = losses.content_loss(F, P, v)
    assert loss == pytest.approx(sum(v[l] * 0.5 * np.sum((F[l] - P[l]) ** 2) for l in F), rel=1e-14)
    for layer in F:
        only = lambda f, layer=layer: losses.content_loss({**F, layer: f}, P, v)[0]
        assert check_gradient(only, F[layer], grads[layer])
    with pytest.raises(ValueError, match=r"content weights missing for layers \['b'\]"):
        losses.content_loss(F, P, {"a": 1.0})


def test_guide_of_ones_is_the_unguided_style_loss(rng):
    F = rng.normal(size=(3, 4, 5))
    A = losses.gram_matrix(rng.normal(size=(3, 20)))
    loss, grad = losses.guided_style_layer_loss(F, [A], [np.ones(20)])
    expected_loss, expected_grad = losses.style_layer_loss(F, A)
    assert loss == pytest.approx(expected_loss, rel=1e-13)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12)


def test_a_binary_guide_is_the_style_loss_of_its_positions(rng):
    # An independent reference: with t in {0, 1}, region r's loss is eq (4) on the columns
    # the guide keeps, normalised by their count (M_r = number of ones).
    F = rng.normal(size=(4, 12))
    keep = np.zeros(12)
    keep[[1, 2, 5, 7, 11]] = 1.0
    A = losses.gram_matrix(rng.normal(size=(4, 5)))
    loss, grad = losses.guided_style_layer_loss(F, [A], [keep])
    sub_loss, sub_grad = losses.style_layer_loss(F[:, keep == 1], A)
    assert loss == pytest.approx(sub_loss, rel=1e-13)
    np.testing.assert_allclose(grad[:, keep == 1], sub_grad, rtol=1e-12)
    assert np.all(grad[:, keep == 0] == 0)


def test_guided_style_loss_gradient_with_soft_overlapping_guides(rng):
    # float64, the check's own tolerance: the loss is a polynomial of degree 4 in F, and
    # grey (non-binary) overlapping guides exercise the diag(t^2) factor of the gradient.
    F = rng.normal(size=(3, 2, 5))
    guides = [rng.uniform(0, 1, size=10), rng.uniform(0, 1, size=10)]
    A = [losses.gram_matrix(rng.normal(size=(3, 6))), losses.gram_matrix(rng.normal(size=(3, 9)))]
    weights = [0.3, 2.0]
    loss, grad = losses.guided_style_layer_loss(F, A, guides, weights)
    by_regions = sum(b * np.sum((losses.guided_gram_matrix(F, t) - A_r) ** 2)
                     / (4 * 3**2 * np.sum(t * t) ** 2) for A_r, t, b in zip(A, guides, weights))
    assert loss == pytest.approx(by_regions, rel=1e-13)
    assert grad.shape == F.shape
    assert check_gradient(lambda f: losses.guided_style_layer_loss(f, A, guides, weights)[0],
                          F, grad)


def test_guided_style_loss_over_layers_in_total_loss(rng):
    from functools import partial
    F = {"a": rng.normal(size=(3, 8)), "b": rng.normal(size=(2, 4))}
    guides = {"a": [rng.uniform(size=8)], "b": [rng.uniform(size=4)]}
    A = {"a": [losses.gram_matrix(rng.normal(size=(3, 5)))],
         "b": [losses.gram_matrix(rng.normal(size=(2, 5)))]}
    w = {"a": 0.7, "b": 0.2}
    style = partial(losses.guided_style_loss, guides=guides)
    loss, grads = losses.total_loss(F, {}, A, alpha=1.0, beta=5.0, style_weights=w, style=style)
    assert loss == pytest.approx(5.0 * sum(
        w[l] * losses.guided_style_layer_loss(F[l], A[l], guides[l])[0] for l in F), rel=1e-13)
    for layer in F:
        only = lambda f, layer=layer: losses.total_loss(
            {**F, layer: f}, {}, A, 1.0, 5.0, w, style=style)[0]
        assert check_gradient(only, F[layer], grads[layer])


def test_guided_style_loss_refuses_mismatched_guides(rng):
    F, A = rng.normal(size=(2, 6)), losses.gram_matrix(rng.normal(size=(2, 6)))
    with pytest.raises(ValueError, match="6 positions"):
        losses.guided_style_layer_loss(F, [A], [np.ones(5)])
    with pytest.raises(ValueError, match="zero everywhere"):
        losses.guided_style_layer_loss(F, [A], [np.zeros(6)])
    with pytest.raises(ValueError, match="1 target Grams for 2 guides"):
        losses.guided_style_layer_loss(F, [A], [np.ones(6), np.ones(6)])


def test_normalised_gradients_have_their_weights_l1_norm(rng):
    F = {"c": rng.normal(size=(3, 4)), "s1": rng.normal(size=(2, 5)), "s2": rng.normal(size=(4, 3))}
    P = {"c": rng.normal(size=(3, 4))}
    A = {"s1": losses.gram_matrix(rng.normal(size=(2, 5))),
         "s2": losses.gram_matrix(rng.normal(size=(4, 3)))}
    w = {"s1": 0.25, "s2": 0.75}
    loss, grads = losses.total_loss(F, P, A, alpha=2.0, beta=10.0, style_weights=w,
                                    normalize_gradients=True)
    plain_loss, plain = losses.total_loss(F, P, A, alpha=2.0, beta=10.0, style_weights=w)
    assert loss == plain_loss   # the loss is untouched; only the gradients are rescaled
    expected_norms = {"c": (2.0, 1.0), "s1": (10.0, 0.25), "s2": (10.0, 0.75)}
    for layer, (alpha_or_beta, weight) in expected_norms.items():
        g = np.sum(np.abs(plain[layer])) / alpha_or_beta    # ||v_l dE_l/dF^l||_1
        # each layer's L1 norm is its weight, up to the 1e-8 that guards a zero gradient
        assert np.sum(np.abs(grads[layer])) == pytest.approx(
            alpha_or_beta * weight * g / (g + 1e-8), rel=1e-13)
        # the same direction as the true gradient
        cosine = np.sum(grads[layer] * plain[layer]) / (
            np.linalg.norm(grads[layer]) * np.linalg.norm(plain[layer]))
        assert cosine == pytest.approx(1.0, rel=1e-12)
