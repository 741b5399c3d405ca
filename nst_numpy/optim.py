"""Optimizers for the pixels: plain gradient descent, Adam, and L-BFGS-B (via SciPy).

All three minimise ``fun(x) -> (loss, dloss/dx)`` over an array ``x`` of any shape and
share one calling convention:

    result = optimizer(fun, x0, iterations=..., bounds=(low, high), callback=cb)

``bounds`` (arrays broadcastable to ``x``, or None) keep every pixel in range: L-BFGS-B
enforces them itself, the two first-order methods project (clip) after every step.
``callback(k, x, loss)`` runs after iteration ``k`` (1-based) with the accepted point
and its loss (the last ``fun`` call was at that point); a truthy return value stops the run. ``fun`` receives arrays in ``x0``'s dtype
(float32 runs the network in float32); exceptions raised by ``fun`` (a non-finite loss,
Ctrl-C) propagate to the caller, who keeps whatever it recorded.
"""

from dataclasses import dataclass

import numpy as np
import scipy.optimize


@dataclass
class OptimizeResult:
    """x: the last accepted point (x0's shape and dtype); loss: its loss;
    iterations: completed iterations; evaluations: calls of ``fun``;
    message: why the run ended."""
    x: np.ndarray
    loss: float
    iterations: int
    evaluations: int
    message: str


# Gradient descent's first step when no step is given (docs/conventions.md): the step that
# the gradient's linear model predicts takes this fraction of the loss off ...
GD_FIRST_DECREASE = 0.1
# ... halved until the first step takes off at least half what the model predicts (Armijo's
# condition), at most this many times: 2^-20 of that decrease is ~1e-7 of the loss, below
# what a float32 loss can resolve.
GD_HALVINGS = 20
# L-BFGS-B's past steps (SciPy's maxcor): 20 came within 2 % of 10's 300-iteration loss in
# 0.83-0.91x the iterations at 256 and 512 px, for 48 more bytes a pixel per step
# (docs/benchmarks.md, "The levers left: L-BFGS's memory").
LBFGS_MEMORY = 20


def gradient_descent(fun, x0, lr=None, iterations=100, bounds=None, callback=None):
    """Plain gradient descent, the quiz's eq (8) with the sign corrected (erratum 2).

    The quiz prints ``w <- w + eta dL/dw``, which climbs the loss. Descent steps
    against the gradient. lr: the step size eta, in pixel units per unit of gradient;
    None derives it from the loss's own scale at ``x0`` (:func:`first_step`) and keeps it.
    """
    x = np.array(x0, copy=True)
    loss, grad = fun(x)
    evaluations = 1
    for k in range(1, iterations + 1):
        if lr is None:
            lr, accepted, tries = first_step(fun, x, loss, grad, bounds)
            evaluations += tries
            if accepted is None:
                return OptimizeResult(x, float(loss), k - 1, evaluations,
                                      "no step along the gradient lowered the loss")
            x, loss, grad = accepted
        else:
            # (8), corrected:  x <- x - eta dL/dx
            x = _project(x - x.dtype.type(lr) * grad, bounds)
            loss, grad = fun(x)
            evaluations += 1
        if callback is not None and callback(k, x, loss):
            return OptimizeResult(x, float(loss), k, evaluations, "stopped by callback")
    return OptimizeResult(x, float(loss), iterations, evaluations, "iteration limit reached")


def first_step(fun, x, loss, grad, bounds=None, decrease=GD_FIRST_DECREASE,
               halvings=GD_HALVINGS):
    """Gradient descent's step eta from the loss's own scale, and the first step taken with it.

    Along the gradient g the linear model is ``L(x - eta g) ~ L(x) - eta ||g||^2``. The
    step that it predicts takes the fraction ``decrease`` of the loss off is

        eta = decrease L(x) / ||g||^2,

    for a loss that is > 0 with its minimum well below L(x), as every loss of style transfer
    (a sum of squares) is. It follows the loss's units: a loss ten times larger (a larger
    beta, another network) has a gradient ten times larger and gets a step ten times
    smaller. The model holds only near x, so the step is halved until it lowers the loss
    by at least half what the model predicts (Armijo's condition, with the projection onto
    ``bounds``: ``L(x1) <= L(x) + 1/2 g.(x1 - x)``); a step whose loss is not finite fails
    it too.

    Returns
    -------
    eta : float
        The accepted step (the last one tried if none passed).
    point : tuple or None
        ``(x1, L(x1), dL/dx(x1))`` at the accepted step; None when the gradient is 0 or no
        halving passed.
    tries : int
        The calls of ``fun`` it took.

    A loss <= 0 at x is a ValueError.
    """
    if not float(loss) > 0:
        raise ValueError(f"gradient descent derives its step from the loss, which must be > 0 "
                         f"at the start (it is {float(loss):.4g}); give a step (lr)")
    squared_norm = float(np.sum(np.square(grad, dtype=np.float64)))
    eta = decrease * float(loss) / squared_norm if squared_norm > 0 else 0.0
    if not (eta > 0 and np.isfinite(eta)):   # a zero gradient: x is a stationary point
        return 0.0, None, 0
    for tries in range(1, halvings + 1):
        x1 = _project(x - x.dtype.type(eta) * grad, bounds)
        try:
            loss1, grad1 = fun(x1)
        except FloatingPointError:   # a NaN or infinite loss (Objective's NonFiniteLoss)
            loss1 = np.inf
        # Armijo: L(x1) <= L(x) + 1/2 g.(x1 - x)   (= L(x) - eta ||g||^2 / 2 within bounds)
        predicted = float(np.sum(grad * (x1 - x), dtype=np.float64))
        if loss1 <= float(loss) + 0.5 * predicted and predicted < 0:
            return eta, (x1, loss1, grad1), tries
        eta /= 2
    return eta, None, halvings


def adam(fun, x0, lr=10.0, iterations=100, bounds=None, callback=None,
         beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam (Kingma & Ba 2015): a step of about ``lr`` per pixel in the direction of a
    running mean of gradients, each coordinate scaled by its running RMS.

    lr: step size in pixel units (0-255 scale); 1-10 suits style transfer.
    """
    x = np.array(x0, copy=True)
    dtype = x.dtype.type
    m, v = np.zeros_like(x), np.zeros_like(x)
    loss, g = fun(x)
    for k in range(1, iterations + 1):
        # m_k = beta1 m_{k-1} + (1 - beta1) g ;  v_k = beta2 v_{k-1} + (1 - beta2) g^2
        m = dtype(beta1) * m + dtype(1 - beta1) * g
        v = dtype(beta2) * v + dtype(1 - beta2) * (g * g)
        # bias corrections: m_hat = m / (1 - beta1^k),  v_hat = v / (1 - beta2^k)
        m_hat = m / dtype(1 - beta1**k)
        v_hat = v / dtype(1 - beta2**k)
        # x <- x - lr m_hat / (sqrt(v_hat) + eps)
        x = _project(x - dtype(lr) * m_hat / (np.sqrt(v_hat) + dtype(eps)), bounds)
        loss, g = fun(x)
        if callback is not None and callback(k, x, loss):
            return OptimizeResult(x, float(loss), k, k + 1, "stopped by callback")
    return OptimizeResult(x, float(loss), iterations, iterations + 1, "iteration limit reached")


class _Stop(Exception):
    """Raised inside SciPy's callback to end L-BFGS-B early, on any SciPy version."""


def lbfgs(fun, x0, iterations=100, bounds=None, callback=None, memory=LBFGS_MEMORY):
    """L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995) through ``scipy.optimize.minimize``.

    A quasi-Newton method: it builds a curvature model from the last ``memory`` steps
    and line-searches along it, so it needs no learning rate. SciPy works on float64
    vectors; ``fun`` still sees ``x0``'s dtype, so the network runs in float32.
    It runs ``iterations`` iterations unless the line search can make no more progress.
    """
    x0 = np.asarray(x0)
    shape, dtype = x0.shape, x0.dtype
    state = {"evaluations": 0, "x": None, "loss": np.nan, "k": 0}

    def objective(flat):
        x = flat.reshape(shape).astype(dtype)
        loss, grad = fun(x)
        state["evaluations"] += 1
        state["x"], state["loss"] = x, float(loss)
        return float(loss), np.asarray(grad, dtype=np.float64).reshape(-1)

    def on_iteration(flat):
        state["k"] += 1
        x = flat.reshape(shape).astype(dtype)
        # The line search ends on the accepted point, so its loss is the last one computed.
        if state["x"] is None or not np.array_equal(x, state["x"]):
            objective(flat)
        state["accepted"] = (x, state["loss"])
        if callback is not None and callback(state["k"], x, state["loss"]):
            raise _Stop

    scipy_bounds = None
    if bounds is not None:
        low, high = (np.broadcast_to(b, shape).reshape(-1).astype(np.float64) for b in bounds)
        scipy_bounds = scipy.optimize.Bounds(low, high)
    try:
        res = scipy.optimize.minimize(
            objective, x0.reshape(-1).astype(np.float64), jac=True, method="L-BFGS-B",
            bounds=scipy_bounds, callback=on_iteration,
            # ftol = gtol = 0: run the requested iterations instead of stopping on a
            # relative decrease that is tiny only because the loss is large.
            options={"maxiter": iterations, "maxfun": 20 * iterations + 20,
                     "maxcor": memory, "ftol": 0.0, "gtol": 0.0})
    except _Stop:
        x, loss = state["accepted"]
        return OptimizeResult(x, loss, state["k"], state["evaluations"], "stopped by callback")
    message = res.message if isinstance(res.message, str) else res.message.decode()
    if state.get("accepted") is not None:
        x, loss = state["accepted"]
    else:
        x, loss = res.x.reshape(shape).astype(dtype), float(res.fun)
    return OptimizeResult(x, loss, state["k"], state["evaluations"], message)


OPTIMIZERS = {"lbfgs": lbfgs, "adam": adam, "gd": gradient_descent}


def _project(x, bounds):
    """Clip x into [low, high] (the projection onto the box), or return it unchanged."""
    if bounds is None:
        return x
    low, high = bounds
    return np.clip(x, low, high).astype(x.dtype, copy=False)
