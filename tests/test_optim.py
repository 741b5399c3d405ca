"""The three optimizers on quadratics whose minimiser is known in closed form."""

import numpy as np
import pytest

from nst_numpy import optim


def quadratic(dtype=np.float64, n=6, seed=0):
    """f(x) = 1/2 x^T A x - b^T x with A symmetric positive definite; minimiser A^-1 b."""
    rng = np.random.default_rng(seed)
    Q = rng.normal(size=(n, n))
    A = (Q @ Q.T + n * np.eye(n)).astype(dtype)
    b = rng.normal(size=n).astype(dtype)

    def fun(x):
        assert x.dtype == dtype  # the objective sees the caller's dtype
        g = A @ x - b
        return 0.5 * x @ A @ x - b @ x, g

    return fun, np.linalg.solve(A, b), A, b


@pytest.mark.parametrize("name, kwargs", [
    ("lbfgs", {}),
    ("adam", {"lr": 0.05}),
    ("gd", {"lr": 0.05}),
])
def test_optimizers_reach_the_minimiser_of_a_quadratic(name, kwargs):
    fun, x_star, A, _ = quadratic()
    # gd converges when lr < 2 / lambda_max; check the test's step is inside that range.
    assert kwargs.get("lr", 0) < 2 / np.linalg.eigvalsh(A).max()
    result = optim.OPTIMIZERS[name](fun, np.zeros(6), iterations=2000, **kwargs)
    # Tolerance: every method gets far below the O(1) scale of x_star in 2000 steps;
    # Adam's fixed step size leaves it oscillating within about lr / 100.
    np.testing.assert_allclose(result.x, x_star, atol=1e-3)
    assert result.loss <= fun(np.zeros(6))[0]


def test_gradient_descent_steps_against_the_gradient():
    # One step from x0 with gradient g must land at x0 - lr g (the quiz's eq (8) has +).
    fun, _, A, b = quadratic()
    x0 = np.ones(6)
    result = optim.gradient_descent(fun, x0, lr=0.01, iterations=1)
    np.testing.assert_allclose(result.x, x0 - 0.01 * (A @ x0 - b))
    assert fun(result.x)[0] < fun(x0)[0]


@pytest.mark.parametrize("name, kwargs", [("lbfgs", {}), ("adam", {"lr": 0.05}), ("gd", {"lr": 0.05})])
def test_bounds_give_the_clipped_minimiser_of_a_separable_quadratic(name, kwargs):
    # With diagonal A the box-constrained minimiser is the unconstrained one, clipped.
    d = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([4.0, -6.0, 1.5, 0.4])

    def fun(x):
        return 0.5 * np.sum(d * x * x) - b @ x, d * x - b

    low, high = -1.0, 1.0
    result = optim.OPTIMIZERS[name](fun, np.zeros(4), iterations=2000, bounds=(low, high), **kwargs)
    np.testing.assert_allclose(result.x, np.clip(b / d, low, high), atol=1e-3)
    assert np.all(result.x >= low) and np.all(result.x <= high)


@pytest.mark.parametrize("name", ["lbfgs", "adam", "gd"])
def test_callback_sees_each_iteration_and_can_stop(name):
    fun, *_ = quadratic(dtype=np.float32)
    seen = []

    def callback(k, x, loss):
        assert x.dtype == np.float32
        seen.append((k, float(loss)))
        return k == 3

    kwargs = {"lr": 0.05} if name == "gd" else {}   # f(0) = 0: no loss to derive a step from
    result = optim.OPTIMIZERS[name](fun, np.zeros(6, np.float32), iterations=50, callback=callback,
                                    **kwargs)
    assert [k for k, _ in seen] == [1, 2, 3]
    assert result.iterations == 3 and result.message == "stopped by callback"
    assert result.x.dtype == np.float32


def test_lbfgs_reports_the_loss_of_the_accepted_point():
    fun, *_ = quadratic()
    losses = []
    optim.lbfgs(fun, np.zeros(6), iterations=5, callback=lambda k, x, loss: losses.append((x, loss)))
    for x, loss in losses:
        assert loss == pytest.approx(fun(x)[0], rel=1e-12)


def test_errors_raised_by_the_objective_propagate():
    def fun(x):
        raise FloatingPointError("boom")

    for method in optim.OPTIMIZERS.values():
        with pytest.raises(FloatingPointError):
            method(fun, np.zeros(3), iterations=3)


# Gradient descent's own step (optim.first_step): eta = 0.1 L / ||g||^2, halved until Armijo.

def shifted_quadratic(offset, n=6, seed=0):
    """f(x) = 1/2 x^T A x - b^T x + offset: the quadratic above lifted by ``offset``, so that
    f > 0 (the derived step needs a positive loss) and its scale is the offset's."""
    fun, x_star, A, b = quadratic(n=n, seed=seed)
    return (lambda x: (fun(x)[0] + offset, fun(x)[1])), x_star, A


def test_the_derived_step_is_the_one_predicted_to_take_a_tenth_off():
    fun, _, A = shifted_quadratic(offset=1.0)
    x0 = np.ones(6)
    loss0, g = fun(x0)
    eta = 0.1 * loss0 / (g @ g)
    result = optim.gradient_descent(fun, x0, iterations=1)
    np.testing.assert_allclose(result.x, x0 - eta * g, rtol=1e-15)
    assert result.evaluations == 2   # x0, then the first trial passed Armijo's condition
    # the linear model's decrease is 0.1 * loss0; the quadratic's own is within a factor 2
    assert loss0 - 0.1 * loss0 < fun(result.x)[0] < loss0 - 0.05 * loss0


def test_a_step_too_long_for_the_curvature_is_halved_until_the_loss_falls_enough():
    # Lifted by 1e6, the loss predicts a step far beyond the minimum: f rises there.
    fun, _, A = shifted_quadratic(offset=1e6)
    x0 = np.ones(6)
    loss0, g = fun(x0)
    armijo = lambda eta: fun(x0 - eta * g)[0] <= loss0 - 0.5 * eta * (g @ g)
    eta, halvings = 0.1 * loss0 / (g @ g), 0
    while not armijo(eta):
        eta, halvings = eta / 2, halvings + 1
    assert halvings > 5 and not armijo(2 * eta)   # the case the halving exists for
    result = optim.gradient_descent(fun, x0, iterations=1)
    np.testing.assert_allclose(result.x, x0 - eta * g, rtol=1e-15)
    assert result.evaluations == halvings + 2
    # the step is kept: the second iteration moves by that eta along the new gradient
    two = optim.gradient_descent(fun, x0, iterations=2)
    np.testing.assert_allclose(two.x, result.x - eta * fun(result.x)[1], rtol=1e-14)


def test_the_derived_step_reaches_the_minimiser():
    # The step is kept after the first iteration, so gd converges if it is below
    # 2 / lambda_max (Armijo's condition alone does not promise that): check it is here.
    fun, x_star, A = shifted_quadratic(offset=3.0)
    x0 = np.zeros(6)
    first = optim.gradient_descent(fun, x0, iterations=1)
    eta = np.linalg.norm(first.x - x0) / np.linalg.norm(fun(x0)[1])
    assert eta < 2 / np.linalg.eigvalsh(A).max()
    result = optim.gradient_descent(fun, x0, iterations=3000)
    np.testing.assert_allclose(result.x, x_star, atol=1e-3)


def test_the_derived_step_needs_a_positive_loss_and_stops_where_the_gradient_is_zero():
    fun, *_ = quadratic()
    with pytest.raises(ValueError, match="must be > 0 at the start .* give a step"):
        optim.gradient_descent(fun, np.zeros(6), iterations=3)   # f(0) = 0
    flat = optim.gradient_descent(lambda x: (1.0 + 0 * x.sum(), np.zeros_like(x)), np.ones(3),
                                  iterations=3)
    assert flat.iterations == 0 and "no step" in flat.message
    np.testing.assert_array_equal(flat.x, np.ones(3))


@pytest.mark.parametrize("size", [64, 128, 256])
def test_gradient_descent_descends_by_default_on_the_real_network(size):
    """stylize with optimizer="gd" and no lr, the quiz's pair with the shipped VGG19: every
    iteration lowers the loss (a step of 1, the old default, raised it fortyfold at 64 px),
    and the first one by at most the tenth the linear model predicts, at least a fifth of it."""
    from nst_numpy import image, stylize

    turtle, wave = image.quiz_images()
    result = stylize(turtle, wave, size=size, iterations=3, optimizer="gd")
    losses = [result.initial.total, *result.history["total"]]
    assert result.stopped is None and result.evaluations == 4, result.message
    assert all(after < before for before, after in zip(losses, losses[1:])), losses
    assert 0.02 < 1 - losses[1] / losses[0] <= 0.1, losses
