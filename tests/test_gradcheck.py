"""The gradient checker itself: it must accept right gradients and catch wrong ones."""

import warnings

import numpy as np
import pytest

from nst_numpy.gradcheck import check_gradient, numerical_gradient, relative_error


def test_numerical_gradient_of_known_function():
    # f(x) = sum sin(x) x^2 has gradient cos(x) x^2 + 2 x sin(x).
    x = np.random.default_rng(0).normal(size=(3, 4))
    numeric = numerical_gradient(lambda v: np.sum(np.sin(v) * v**2), x)
    exact = np.cos(x) * x**2 + 2 * x * np.sin(x)
    # Central differences with h = 1e-6 in float64: error ~ h^2 + eps/h ~ 1e-10.
    assert relative_error(numeric, exact) < 1e-7


def test_numerical_gradient_leaves_input_untouched():
    x = np.arange(6.0).reshape(2, 3)
    before = x.copy()
    numerical_gradient(lambda v: np.sum(v**3), x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_warns_on_float32():
    with pytest.warns(UserWarning, match="float64"):
        numerical_gradient(lambda v: float(np.sum(v)), np.ones(3, np.float32))


def test_relative_error_properties():
    a = np.array([1.0, -2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, -a) == 1.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        relative_error(a, a[:2])


def test_check_gradient_passes_right_and_catches_wrong():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 6))
    f = lambda v: 0.5 * np.sum(v**2)
    good = check_gradient(f, x, x)
    assert good.passed and good.n_checked == 30
    wrong = x.copy()
    wrong[2, 3] *= 1.01   # one entry off by 1%
    bad = check_gradient(f, x, wrong)
    assert not bad.passed
    assert bad.worst_index == (2, 3)
    assert "FAILED" in str(bad)


def test_check_gradient_samples_large_arrays():
    x = np.random.default_rng(2).normal(size=(40, 50))
    result = check_gradient(lambda v: np.sum(np.exp(v)), x, np.exp(x), num_samples=25)
    assert result.passed and result.n_checked == 25


def test_check_gradient_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        check_gradient(lambda v: 0.0, np.zeros((2, 3)), np.zeros(6))


def test_check_gradient_float64_emits_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_gradient(lambda v: np.sum(v), np.ones(4), np.ones(4))
