"""The gradient checker itself: it must accept right gradients and catch wrong ones."""

import warnings

import numpy as np
import pytest

from nst_numpy import gradcheck
from nst_numpy.gradcheck import check_gradient, numerical_gradient, relative_error


def test_numerical_gradient_of_known_function():
    # f(x) = sum sin(x) x^2 has gradient cos(x) x^2 + 2 x sin(x).
    x = np.random.default_rng(0).normal(size=(3, 4))
    numeric = numerical_gradient(lambda v: np.sum(np.sin(v) * v**2), x)
    exact = np.cos(x) * x**2 + 2 * x * np.sin(x)
    # The default step h ~ 6e-6 in float64: error ~ h^2 + eps/h ~ 1e-10.
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


def test_check_gradient_fails_a_wrong_shape_without_raising():
    """The quiz's eq (6) as printed is the transpose of the gradient: a notebook's check of
    it must print FAILED with both shapes and let "Run All" go on (issue 25)."""
    x = np.random.default_rng(3).normal(size=(2, 3))
    for wrong, said in ((x.T, "(3, 2)"), (np.zeros(6), "(6,)"), (None, "is None")):
        result = check_gradient(lambda v: 0.5 * np.sum(v**2), x, wrong)
        assert not result and result.n_checked == 0, result
        text = str(result)
        assert text.startswith("gradient check FAILED:") and said in text and "(2, 3)" in text, text


def test_check_gradient_float64_emits_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_gradient(lambda v: np.sum(v), np.ones(4), np.ones(4))


def test_default_step_follows_the_dtype_and_the_entry_scale():
    x = np.array([0.0, 0.5, -3.0, 1e4])
    h = gradcheck.default_step(x)
    eps = np.finfo(np.float64).eps
    np.testing.assert_allclose(h, eps ** (1 / 3) * np.array([1.0, 1.0, 3.0, 1e4]))


def test_a_large_loss_with_a_right_gradient_passes_and_a_wrong_one_fails():
    # |f| ~ 1e4 against gradient entries ~1e-2: round-off in f (~eps |f| / h ~ 4e-7 per
    # quotient) is 1e-4 of each entry, far above tol = 1e-6 of it. Judged against its own
    # size every entry would fail; judged no finer than round-off, the right gradient
    # passes and a gradient 1% off still fails.
    x = np.random.default_rng(3).normal(size=(4, 5)) * 1e-2
    f = lambda v: 1e4 + 0.5 * np.sum(v ** 2)
    right = check_gradient(f, x, x)
    assert right.passed and not right.inconclusive, right
    assert right.noise > 1e-6 * np.abs(x).max()        # the floor did matter
    assert not check_gradient(f, x, 1.01 * x)


def test_a_loss_whose_round_off_swamps_its_gradient_is_inconclusive():
    x = np.random.default_rng(4).normal(size=6)
    f = lambda v: 1e13 + 0.5 * np.sum(v ** 2)       # round-off ~0.3 per quotient, gradient ~1
    result = check_gradient(f, x, x)
    assert result.inconclusive and not result.passed
    assert "inconclusive" in str(result) and "FAILED" in str(result)


@pytest.mark.parametrize("call, message", [
    (lambda: check_gradient(lambda v: v, np.ones(3), np.ones(3)), "one real number"),
    (lambda: check_gradient(lambda v: None, np.ones(3), np.ones(3)), "one real number"),
    (lambda: check_gradient(lambda v: np.nan, np.ones(3), np.ones(3)), "finite"),
    (lambda: check_gradient(np.sum, np.ones(3), np.ones(3), h=0), "step h"),
    (lambda: check_gradient(np.sum, np.ones(3), np.ones(3), h=-1e-6), "step h"),
    (lambda: check_gradient(np.sum, np.ones(3), np.ones(3), num_samples=0), "num_samples"),
    (lambda: check_gradient(np.sum, np.ones(3), np.ones(3), num_samples=2.5), "num_samples"),
    (lambda: check_gradient(np.sum, np.ones(3), np.ones(3), tol=0), "tol"),
    (lambda: check_gradient(np.sum, np.ones(0), np.ones(0)), "empty"),
    (lambda: check_gradient(np.sum, np.array(["a", "b"]), np.ones(2)), "dtype"),
    (lambda: check_gradient(np.sum, np.ones(2, complex), np.ones(2)), "dtype"),
    (lambda: check_gradient(np.sum, np.array([1.0, np.inf]), np.ones(2)), "NaN or infinite"),
    (lambda: check_gradient(np.sum, np.ones(2), np.array(["a", "b"])), "dtype"),
    (lambda: numerical_gradient(np.sum, np.ones(3), indices=[5]), "outside"),
])
def test_bad_calls_are_one_line_value_errors(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
