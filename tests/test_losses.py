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
