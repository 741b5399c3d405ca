"""One test per derivation of the course quiz (neural style transfer), one per erratum, and one
per clarification that a computation can show (1-3; docs/quiz.md numbers them).

Each test states the quiz's claim, then checks it (or its correction) numerically.
float64, small shapes; every gradient check uses check_gradient's own step and tolerance
(the rule is stated once, in nst_numpy/gradcheck.py), through the losses and the network alike.
"""

import numpy as np
import pytest

from nst_numpy import layers as L
from nst_numpy import losses
from nst_numpy.gradcheck import check_gradient, numerical_gradient, relative_error

TOL = 1e-6   # for relative_error of a whole numerical gradient, as check_gradient's tol


@pytest.fixture
def rng():
    return np.random.default_rng(12)


# --- Q2, Q3: content loss ------------------------------------------------------------

def test_q2_content_layer_gradient_is_F_minus_P(rng):
    F, P = rng.normal(size=(3, 8)), rng.normal(size=(3, 8))
    _, grad = losses.content_layer_loss(F, P)
    np.testing.assert_array_equal(grad, F - P)
    assert check_gradient(lambda f: losses.content_layer_loss(f, P)[0], F, F - P)


def test_q3_partial_derivative_over_layers_is_that_layers_F_minus_P(rng):
    # Eq (2) sums over layers, but only layer l's term contains F^l.
    F = {"relu2_2": rng.normal(size=(4, 6)), "relu4_2": rng.normal(size=(5, 3))}
    P = {layer: rng.normal(size=f.shape) for layer, f in F.items()}
    _, grads = losses.content_loss(F, P)
    for layer in F:
        np.testing.assert_array_equal(grads[layer], F[layer] - P[layer])
        # Vary F^l alone, every other layer's F held fixed: the quiz's partial derivative.
        only_l = lambda f, layer=layer: losses.content_loss({**F, layer: f}, P)[0]
        assert check_gradient(only_l, F[layer], grads[layer])


# --- Q5: eq (6) and the style loss ------------------------------------------------------

def test_q5_eq6_as_printed_has_wrong_shape_and_its_transpose_is_the_gradient(rng):
    N, M = 3, 7                                 # N != M, so the shapes tell them apart
    F = rng.normal(size=(N, M))
    A = losses.gram_matrix(rng.normal(size=(N, M)))
    G = losses.gram_matrix(F)
    printed = F.T @ (G - A) / (N**2 * M**2)     # eq (6) as the quiz prints it
    assert printed.shape == (M, N) != F.shape   # erratum 1: not the shape of F^l

    numerical = numerical_gradient(lambda f: losses.style_layer_loss(f, A)[0], F)
    # Element (i, j) of the gradient is element (j, i) of the printed product ...
    assert relative_error(printed.T, numerical) < TOL
    # ... which is (G - A) F / (N^2 M^2), what style_layer_loss returns.
    assert relative_error(losses.style_layer_loss(F, A)[1], numerical) < TOL


def test_q5_weighted_style_gradient_is_w_l_times_eq6(rng):
    F = {"relu1_1": rng.normal(size=(3, 8)), "relu2_1": rng.normal(size=(4, 2))}
    A = {layer: losses.gram_matrix(rng.normal(size=f.shape)) for layer, f in F.items()}
    weights = {"relu1_1": 0.3, "relu2_1": 2.5}
    _, grads = losses.style_loss(F, A, weights)
    for layer in F:
        expected = weights[layer] * losses.style_layer_loss(F[layer], A[layer])[1]
        np.testing.assert_allclose(grads[layer], expected, rtol=1e-14)
        only_l = lambda f, layer=layer: losses.style_loss({**F, layer: f}, A, weights)[0]
        assert check_gradient(only_l, F[layer], grads[layer])


# --- Q6: the total loss, w_l not w_1 --------------------------------------------------

def test_q6_combined_gradient_for_a_layer_in_both_sets(rng):
    # relu4_2 is both a content and a style layer; relu1_1 is a style layer only.
    F = {"relu1_1": rng.normal(size=(3, 10)), "relu4_2": rng.normal(size=(4, 5))}
    P = {"relu4_2": rng.normal(size=(4, 5))}
    A = {layer: losses.gram_matrix(rng.normal(size=f.shape)) for layer, f in F.items()}
    weights = {"relu1_1": 0.5, "relu4_2": 4.0}
    alpha, beta = 0.7, 30.0
    _, grads = losses.total_loss(F, P, A, alpha, beta, weights)

    Fl, Pl, Al = F["relu4_2"], P["relu4_2"], A["relu4_2"]
    N, M = Fl.shape
    G = losses.gram_matrix(Fl)
    # Q6 corrected: alpha (F - P) + beta w_l (G - A) F / (N^2 M^2)
    expected = alpha * (Fl - Pl) + beta * weights["relu4_2"] * (G - Al) @ Fl / (N**2 * M**2)
    np.testing.assert_allclose(grads["relu4_2"], expected, rtol=1e-13)
    only_l = lambda f: losses.total_loss({**F, "relu4_2": f}, P, A, alpha, beta, weights)[0]
    assert check_gradient(only_l, Fl, grads["relu4_2"])


def test_q6_erratum_w1_would_use_the_wrong_layers_weight(rng):
    # Q6 prints w_1; with w_1 != w_l the resulting gradient fails the check.
    F = {"relu1_1": rng.normal(size=(3, 6)), "relu2_1": rng.normal(size=(3, 6))}
    A = {layer: losses.gram_matrix(rng.normal(size=(3, 6))) for layer in F}
    weights = {"relu1_1": 1.0, "relu2_1": 3.0}
    with_w1 = weights["relu1_1"] * losses.style_layer_loss(F["relu2_1"], A["relu2_1"])[1]
    only_2 = lambda f: losses.style_loss({**F, "relu2_1": f}, A, weights)[0]
    assert not check_gradient(only_2, F["relu2_1"], with_w1)
    assert check_gradient(only_2, F["relu2_1"], losses.style_loss(F, A, weights)[1]["relu2_1"])


# --- Q7 and eq (8): the update step --------------------------------------------------

def test_q7_erratum_missing_parenthesis_moves_uphill_in_style(rng):
    F, P = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    A = losses.gram_matrix(rng.normal(size=(3, 6)))
    alpha, beta, w, eta = 1.0, 1.0, 1.0, 1e-3
    N, M = F.shape
    dE = (losses.gram_matrix(F) - A) @ F / (N**2 * M**2)
    L_total = lambda f: alpha * losses.content_layer_loss(f, P)[0] + beta * w * losses.style_layer_loss(f, A)[0]

    corrected = F - eta * (alpha * (F - P) + beta * w * dE)
    printed = F - eta * alpha * (F - P) + beta * w * dE     # Q7 as printed
    assert L_total(corrected) < L_total(F)
    # The printed step adds the style gradient un-scaled and with a + sign: style goes up.
    assert losses.style_layer_loss(printed, A)[0] > losses.style_layer_loss(F, A)[0]


def _small_objective(random_vgg, rng):
    model = random_vgg()
    x = rng.normal(size=(3, 16, 16))
    P = model.features(x + 0.1 * rng.normal(size=x.shape), ["relu3_2"])
    A = {layer: losses.gram_matrix(F) for layer, F in
         model.features(rng.normal(size=x.shape), ["relu1_1", "relu3_1", "relu5_1"]).items()}

    def objective(image):
        F, tape = model.forward(image, ["relu3_2", "relu1_1", "relu3_1", "relu5_1"])
        loss, grads = losses.total_loss(F, P, A, alpha=1.0, beta=1e4)
        return loss, model.backward(grads, tape)
    return objective, x


def test_eq8_descent_lowers_the_loss_and_the_printed_sign_raises_it(random_vgg, rng):
    # Erratum 2 and 4: the update acts on the pixels x, with dL/dx from back-propagation.
    objective, x = _small_objective(random_vgg, rng)
    loss, grad = objective(x)
    eta = 1e-3 * np.linalg.norm(x) / np.linalg.norm(grad)
    assert objective(x - eta * grad)[0] < loss     # w <- w - eta grad: descent
    assert objective(x + eta * grad)[0] > loss     # eq (8) as printed: ascent


def test_q7_the_pixels_are_updated_with_the_back_propagated_gradient(random_vgg, rng):
    # dL/dx from model.backward (all dL/dF^l pushed through the network) is the real gradient.
    objective, x = _small_objective(random_vgg, rng)
    result = check_gradient(lambda v: objective(v)[0], x, objective(x)[1], num_samples=20)
    assert result, str(result)


# --- Clarification 1: partial vs total derivative; clarification 2: the ReLU mask -------

def test_total_derivative_at_a_shallow_layer_includes_deeper_losses(random_vgg, rng):
    model = random_vgg()
    x = rng.normal(size=(3, 8, 8))
    F, tape = model.forward(x, ["relu1_1", "relu2_1"])
    P = {"relu1_1": F["relu1_1"] + 0.1 * rng.normal(size=F["relu1_1"].shape)}
    A = {"relu2_1": losses.gram_matrix(rng.normal(size=F["relu2_1"].shape))}
    beta = 1e4
    L_value, grads = losses.total_loss(F, P, A, alpha=1.0, beta=beta)

    partial = grads["relu1_1"]                       # Q3: F - P at relu1_1 alone
    total = model.backward(grads, tape, to="relu1_1")   # plus what flows back from relu2_1

    def loss_of_relu1_1(a):
        """L as a function of relu1_1's activation, through the layers up to relu2_1."""
        h = L.relu_forward(L.conv2d_forward(a, *model.params["conv1_2"])[0])[0]
        h = L.avg_pool_forward(h)[0]
        h = L.relu_forward(L.conv2d_forward(h, *model.params["conv2_1"])[0])[0]
        return losses.total_loss({"relu1_1": a, "relu2_1": h}, P, A, alpha=1.0, beta=beta)[0]

    assert loss_of_relu1_1(F["relu1_1"]) == pytest.approx(L_value, rel=1e-12)
    assert check_gradient(loss_of_relu1_1, F["relu1_1"], total, num_samples=60)
    assert not check_gradient(loss_of_relu1_1, F["relu1_1"], partial, num_samples=60)
    assert relative_error(total, partial) > 0.1


def test_relu_mask_zeroes_the_gradient_where_the_preactivation_is_negative(random_vgg, rng):
    model = random_vgg()
    x = rng.normal(size=(3, 8, 8))
    F, tape = model.forward(x, ["conv1_1", "relu1_1"])
    grad_pre = model.backward({"relu1_1": np.ones_like(F["relu1_1"])}, tape, to="conv1_1")
    negative = F["conv1_1"] < 0
    assert negative.any() and (~negative).any()
    assert np.all(grad_pre[negative] == 0)
    assert np.all(grad_pre[~negative] == 1)


# --- Q11, clarification 3: the content image goes through the network once ------------

def test_q11_content_image_goes_through_the_network_once(rng):
    # The quiz says the content image is used at every iteration: its features P^l are, but
    # they are computed once; with init="noise" the content image is never the iterate either.
    from nst_numpy import image, stylize, vgg

    class RecordingVGG(vgg.VGG):
        def forward(self, x, layers):
            self.inputs.append(np.array(x))
            return super().forward(x, layers)

    model = RecordingVGG(vgg.random_weights(), pooling="avg")
    model.inputs = []
    content = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    style = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    result = stylize(content, style, model=model, size=None, iterations=3, init="noise")

    content_x = image.preprocess(content)
    uses = sum(np.array_equal(x, content_x) for x in model.inputs)
    assert uses == 1
    assert len(model.inputs) > 3          # the iterations did run the network
    assert len(result.history["total"]) >= 1
