"""Finite differences: check a hand-derived gradient against the definition.

The central difference

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h)

has a truncation error of order ``h**2`` and a round-off error of order ``eps * |f| / h``.
In float64 (``eps ~ 1e-16``) a step ``h = 1e-6`` balances the two at roughly ``1e-10``
relative, so a correct gradient typically agrees to 1e-7 or better and a wrong one is off
by 1e-2 or more. In float32 (``eps ~ 1e-7``) no step gives a useful check: always cast
to float64 first (``x.astype(np.float64)``), and compute ``f`` in float64 too.

A kink (ReLU at 0, a tie in max pooling) inside ``[x_i - h, x_i + h]`` makes the
difference quotient meaningless at that coordinate; keep ``h`` small and inputs random.
"""

from dataclasses import dataclass
import warnings

import numpy as np


def numerical_gradient(f, x, h=1e-6, indices=None):
    """Central-difference gradient of a scalar function ``f`` at ``x``.

    f: callable taking an array shaped like ``x`` and returning a float.
    x: array of any shape; not modified (a float64 copy is perturbed).
    indices: optional iterable of flat indices to evaluate; the others stay 0.
    Returns grad: array shaped like ``x``, float64. Costs two calls of ``f`` per index.
    """
    x = np.asarray(x)
    if x.dtype != np.float64:
        warnings.warn(
            f"numerical_gradient: x is {x.dtype}; finite differences need float64 to be "
            "trustworthy -- pass x.astype(np.float64)", stacklevel=2)
    x = x.astype(np.float64, copy=True)
    flat = x.reshape(-1)
    grad = np.zeros_like(flat)
    for i in (range(flat.size) if indices is None else indices):
        old = flat[i]
        flat[i] = old + h
        f_plus = float(f(x))
        flat[i] = old - h
        f_minus = float(f(x))
        flat[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad.reshape(x.shape)


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
    """

    max_relative_error: float
    worst_index: tuple
    analytic: float
    numerical: float
    n_checked: int
    tol: float

    @property
    def passed(self):
        return self.max_relative_error <= self.tol

    def __bool__(self):
        return self.passed

    def __str__(self):
        verdict = "ok" if self.passed else "FAILED"
        return (f"gradient check {verdict}: max relative error {self.max_relative_error:.2e} "
                f"(tol {self.tol:.0e}) over {self.n_checked} entries, worst at "
                f"{self.worst_index}: analytic {self.analytic:.6e}, "
                f"numerical {self.numerical:.6e}")


def check_gradient(f, x, analytic, num_samples=None, h=1e-6, tol=1e-6, seed=0,
                   floor_fraction=1e-3):
    """Compare an analytic gradient with central differences.

    f: scalar function of an array shaped like ``x``; analytic: your dL/dx at ``x``.
    num_samples: check that many random entries (for large ``x``), or all if None.
    tol: largest accepted relative error. A correct gradient in float64 typically gives
    1e-8 or less; a wrong index, sign or factor gives 1e-2 to 1.

    Round-off in ``f`` makes the difference quotient's error *absolute* (about
    ``eps * |f| / h``), so an entry far smaller than the largest one cannot be judged
    relative to its own size: entries below ``floor_fraction * max|gradient|`` are
    measured against that floor instead.
    Returns a :class:`GradCheckResult`; ``bool(result)`` is ``result.passed``.
    """
    x = np.asarray(x)
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != x.shape:
        raise ValueError(
            f"check_gradient: analytic gradient has shape {analytic.shape}, x has {x.shape}")
    if num_samples is None or num_samples >= x.size:
        indices = np.arange(x.size)
    else:
        indices = np.random.default_rng(seed).choice(x.size, size=num_samples, replace=False)
    numerical = numerical_gradient(f, x, h=h, indices=indices).reshape(-1)[indices]
    expected = analytic.reshape(-1)[indices]
    largest = max(float(np.max(np.abs(expected), initial=0.0)),
                  float(np.max(np.abs(numerical), initial=0.0)))
    floor = max(floor_fraction * largest, 1e-12)
    errors = _elementwise_relative_error(expected, numerical, floor)
    worst = int(np.argmax(errors))
    return GradCheckResult(
        max_relative_error=float(errors[worst]),
        worst_index=tuple(int(i) for i in np.unravel_index(indices[worst], x.shape)),
        analytic=float(expected[worst]),
        numerical=float(numerical[worst]),
        n_checked=len(indices),
        tol=tol,
    )
