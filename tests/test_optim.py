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

    result = optim.OPTIMIZERS[name](fun, np.zeros(6, np.float32), iterations=50, callback=callback)
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
