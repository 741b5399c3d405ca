"""Finite differences: check a hand-derived gradient against the definition.

The central difference::

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h)

has two errors. Truncation, of order ``h**2`` (the Taylor terms of odd order cancel), and
round-off: each value of ``f`` carries an error of a few ``eps * |f|``, which the division
by ``2h`` turns into about ``eps * |f| / h``.

**The rule, used by every check in this project.** Compute ``f`` in float64
(``eps = 2.2e-16``). Take the step::

    h_i = eps**(1/3) * max(1, |x_i|)            (about 6e-6 for entries of order 1)

which balances the two errors for a function whose scale of variation is that of ``x``.
Then measure each entry's error relative to its own size, but never more finely than
round-off allows::

    err_i = |a_i - n_i| / max(|a_i| + |n_i|,  floor_fraction * max|n|,  noise_i / tol)
    noise_i = ROUNDOFF_UNITS * eps * max(|f(x + h e_i)|, |f(x - h e_i)|) / h_i

so a loss of 300 is judged as finely as its round-off permits, and a loss of 3e-3 no
less finely. A gradient passes when every ``err_i <= tol``; the default ``tol = 1e-6``
lies far above a correct gradient's truncation error (about ``h**2 ~ 4e-11`` relative)
and far below what a wrong index, sign or factor gives (1e-3 to 1). When round-off alone
is larger than ``RESOLUTION`` times the largest gradient entry, no conclusion is possible
and the check reports itself inconclusive (not passed): rescale ``f``.

In float32 (``eps ~ 1e-7``) no step gives a useful check: cast to float64 first
(``x.astype(np.float64)``) and compute ``f`` in float64 too; a float32 ``x`` is cast and
warned about. A kink (ReLU at 0, a tie in max pooling) within ``h`` of ``x_i`` makes the
quotient meaningless at that entry; random inputs keep kinks away.
"""

from dataclasses import dataclass
import math
import numbers
import warnings

import numpy as np

EPS = float(np.finfo(np.float64).eps)
# Round-off of one evaluation of f, in units of eps * |f|: a sum of many products
# accumulates several units (docs/annotated/gradcheck.md).
ROUNDOFF_UNITS = 8
# Largest round-off, relative to the largest gradient entry, at which a check still
# tells a right gradient from a wrong one.
RESOLUTION = 1e-3


def default_step(x):
    """``h_i = eps^(1/3) max(1, |x_i|)``, the step that balances truncation and round-off."""
    return EPS ** (1 / 3) * np.maximum(1.0, np.abs(np.asarray(x, dtype=np.float64)))


def numerical_gradient(f, x, h=None, indices=None):
    """Central-difference gradient of a scalar function ``f`` at ``x``.

    f: callable taking an array shaped like ``x`` and returning a real number.
    x: real array of any shape; not modified (a float64 copy is perturbed).
    h: step, a number or an array shaped like ``x``; None for :func:`default_step`.
    indices: optional iterable of flat indices to evaluate; the others stay 0.
    Returns grad: array shaped like ``x``, float64. Costs two calls of ``f`` per index.
    """
    x = _as_float64(x, "numerical_gradient")
    grad = np.zeros(x.size)
    indices = range(x.size) if indices is None else _flat_indices(indices, x.size)
    for i, (quotient, _) in zip(indices, _quotients(f, x, _steps(h, x), indices)):
        grad[i] = quotient
    return grad.reshape(x.shape)


def _quotients(f, x, steps, indices):
    """(difference quotient, its round-off noise) at each flat index in turn."""
    flat = x.reshape(-1)
    for i in indices:
        old, h = flat[i], steps[i]
        flat[i] = old + h
        f_plus = _scalar(f(x))
        flat[i] = old - h
        f_minus = _scalar(f(x))
        flat[i] = old
        noise = ROUNDOFF_UNITS * EPS * max(abs(f_plus), abs(f_minus)) / h
        yield (f_plus - f_minus) / (2 * h), noise


def relative_error(a, b, floor=1e-12):
    """Largest elementwise relative error ``|a - b| / max(|a| + |b|, floor)``.

    0 means identical, 1 means unrelated (or opposite sign). ``floor`` keeps two
    entries that are both (nearly) zero from dividing by zero.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes {a.shape} and {b.shape} differ")
    return float(np.max(_elementwise_relative_error(a, b, floor), initial=0.0))


def _elementwise_relative_error(a, b, floor):
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)


@dataclass
class GradCheckResult:
    """Outcome of :func:`check_gradient`.

    max_relative_error: worst elementwise relative error over the checked entries.
    worst_index: where it occurs, as a tuple index into ``x``.
    analytic, numerical: the two values there.
    n_checked: how many entries were compared. tol: the threshold used.
    noise: the largest round-off of a difference quotient (module docstring);
    inconclusive: True when that noise exceeds RESOLUTION times the largest gradient
    entry, so that the check cannot tell a right gradient from a wrong one.
    mismatch: why no entry could be compared (the analytic gradient's shape is not x's),
    or "" when they were.
    """

    max_relative_error: float
    worst_index: tuple
    analytic: float
    numerical: float
    n_checked: int
    tol: float
    noise: float = 0.0
    inconclusive: bool = False
    mismatch: str = ""

    @property
    def passed(self):
        return self.max_relative_error <= self.tol and not self.inconclusive

    def __bool__(self):
        return self.passed

    def __str__(self):
        if self.mismatch:
            return f"gradient check FAILED: {self.mismatch}"
        verdict = "ok" if self.passed else "FAILED"
        text = (f"gradient check {verdict}: max relative error {self.max_relative_error:.2e} "
                f"(tol {self.tol:.0e}) over {self.n_checked} entries, worst at "
                f"{self.worst_index}: analytic {self.analytic:.6e}, "
                f"numerical {self.numerical:.6e}")
        if self.inconclusive:
            text += (f"; inconclusive: round-off in f ({self.noise:.1e}) swamps the gradient, "
                     "rescale f or check a smaller problem")
        return text


def check_gradient(f, x, analytic, num_samples=None, h=None, tol=1e-6, seed=0,
                   floor_fraction=1e-3):
    """Compare an analytic gradient with central differences.

    Parameters
    ----------
    f : callable
        Scalar function of an array shaped like ``x``, computed in float64.
    x : array_like, real
        Where to check; a float32 ``x`` is cast to float64 with a warning.
    analytic : array_like
        Your ``df/dx`` at ``x``, shaped like ``x``. Of another shape (the transpose of the
        right matrix, say), it fails the check, saying both shapes; it does not raise, so a
        notebook of exercises runs on to its end.
    num_samples : int, optional
        Check that many entries, drawn at random with ``seed``; None checks all.
    h : float or array, optional
        Step; None for the rule of the module docstring, ``eps**(1/3) max(1, |x_i|)``.
    tol : float
        Largest accepted relative error (module docstring: why 1e-6).
    floor_fraction : float
        Entries smaller than this fraction of the largest are judged against it.

    Returns
    -------
    GradCheckResult
        ``bool(result)`` is ``result.passed``; ``str(result)`` says where it is worst.
    """
    x = _as_float64(x, "check_gradient")
    if not (isinstance(tol, numbers.Real) and tol > 0):
        raise ValueError(f"check_gradient: tol must be a positive number, got {tol!r}")
    shape = None if analytic is None else np.shape(analytic)
    if shape != x.shape:
        given = "is None" if shape is None else f"has shape {shape}"
        return GradCheckResult(
            max_relative_error=math.inf, worst_index=(), analytic=math.nan, numerical=math.nan,
            n_checked=0, tol=float(tol), mismatch=f"the analytic gradient {given}, x has shape "
            f"{x.shape}; a gradient has one entry per entry of x")
    analytic = _as_float64(analytic, "check_gradient", warn=False, name="the analytic gradient")
    indices = _sample(x.size, num_samples, seed)
    pairs = list(_quotients(f, x, _steps(h, x), indices))
    numerical = np.array([q for q, _ in pairs])
    noise = np.array([n for _, n in pairs])
    expected = analytic.reshape(-1)[indices]
    largest = max(float(np.max(np.abs(expected))), float(np.max(np.abs(numerical))))
    floor = np.maximum(max(floor_fraction * largest, 1e-300), noise / tol)
    errors = _elementwise_relative_error(expected, numerical, floor)
    worst = int(np.argmax(errors))
    return GradCheckResult(
        max_relative_error=float(errors[worst]),
        worst_index=tuple(int(i) for i in np.unravel_index(indices[worst], x.shape)),
        analytic=float(expected[worst]),
        numerical=float(numerical[worst]),
        n_checked=len(indices),
        tol=float(tol),
        noise=float(noise.max()),
        inconclusive=bool(noise.max() > RESOLUTION * largest),
    )


# ---------------------------------------------------------------------------
# Argument checks: one clear line for each way the call can be wrong
# ---------------------------------------------------------------------------

def _as_float64(x, where, warn=True, name="x"):
    """A float64 copy of a real array; one-line errors for what finite differences cannot use."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{where}: {name} has dtype {x.dtype}; pass a real floating-point array")
    if x.size == 0:
        raise ValueError(f"{where}: {name} is empty (shape {x.shape}); nothing to check")
    if warn and x.dtype != np.float64:
        warnings.warn(
            f"{where}: {name} is {x.dtype}; finite differences need float64 to be "
            f"trustworthy -- pass {name}.astype(np.float64)", stacklevel=3)
    x = x.astype(np.float64, copy=True)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{where}: {name} holds NaN or infinite values")
    return x


def _steps(h, x):
    """The step of each entry, flat: the default rule, or ``h`` checked and broadcast."""
    if h is None:
        return default_step(x).reshape(-1)
    steps = np.broadcast_to(np.asarray(h, dtype=np.float64), x.shape).reshape(-1)
    if not (np.all(np.isfinite(steps)) and np.all(steps > 0)):
        raise ValueError(f"finite differences: the step h must be positive and finite, got {h!r}")
    return steps


def _sample(size, num_samples, seed):
    """All flat indices, or ``num_samples`` of them drawn without replacement."""
    if num_samples is None:
        return np.arange(size)
    if isinstance(num_samples, (bool, np.bool_)) or not isinstance(num_samples, numbers.Integral) \
            or num_samples < 1:
        raise ValueError(f"check_gradient: num_samples must be a positive integer or None, "
                         f"got {num_samples!r}")
    if num_samples >= size:
        return np.arange(size)
    return np.random.default_rng(seed).choice(size, size=num_samples, replace=False)


def _flat_indices(indices, size):
    """Flat indices as int64, each within x's ``size`` entries: a 1-D list of integers."""
    indices = np.asarray(list(indices))
    if indices.size and (indices.ndim != 1 or indices.dtype.kind not in "iu"):
        raise ValueError(f"numerical_gradient: indices must be a list of flat integer indices, "
                         f"got an array of {indices.dtype} and shape {indices.shape}")
    indices = indices.astype(np.int64)
    if indices.size and (indices.min() < -size or indices.max() >= size):
        raise ValueError(f"numerical_gradient: an index lies outside x's {size} entries")
    return indices


def _scalar(value):
    """f's value as a finite float, or a one-line error saying what f returned."""
    array = np.asarray(value)
    if array.size != 1 or array.dtype.kind not in "biuf":
        raise ValueError(f"finite differences: f must return one real number, got "
                         f"{type(value).__name__} {getattr(array, 'shape', '')}".rstrip())
    number = float(array.reshape(()))
    if not math.isfinite(number):
        raise ValueError(f"finite differences: f returned {number} near x; the check needs "
                         "finite values")
    return number

