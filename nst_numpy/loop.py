"""The optimisation loop: an objective's pixels moved by an optimiser, with what a person
waiting needs around it (progress, a callback, Ctrl-C, the best picture kept).

    result = run(objective, x0, optimizer="lbfgs", iterations=300)

:func:`run` hands the :class:`nst_numpy.objective.Objective` to an optimiser of
:mod:`nst_numpy.optim` with the pixels bounded to 0-255, and returns a
:class:`StylizeResult`: the pictures, the history of every term, how and why the run ended.
The options that belong to the optimiser (its choice, its step, L-BFGS's memory) are
checked here, where they are used.
"""

from dataclasses import dataclass, field
import math
import sys
import time
import warnings

import numpy as np

from . import image as im
from . import optim
from ._checks import OptionError, choice, integer, non_negative_number, positive_number
from .objective import KINDS, Losses, NonFiniteLoss

OPTIMIZERS = tuple(optim.OPTIMIZERS)
# The stopping rule's window: the loss's relative fall is averaged over this many
# iterations, which smooths L-BFGS's uneven steps (see :func:`stalled`).
STOP_WINDOW = 10
# stylize's default tol, chosen from measured loss curves (docs/benchmarks.md, "When to
# stop"); run's own default is 0, every iteration, as the lecture's loop runs.
DEFAULT_TOL = 3e-4


def stalled(losses, tol, window=STOP_WINDOW):
    """True when the total loss has stopped falling: over the last ``window`` iterations it
    fell by less than ``tol`` per iteration, relative to where the window began.

    losses: the totals so far, one per iteration; tol >= 0 (0: never stalled)::

        (L_{k-w} - L_k) / (w |L_{k-w}|) < tol
    """
    if tol <= 0 or len(losses) <= window:
        return False
    before, now = losses[-1 - window], losses[-1]
    # (L_{k-w} - L_k) / (w |L_{k-w}|) < tol
    return before - now < tol * window * abs(before)


class NonFiniteLossWarning(RuntimeWarning):
    """A run ended early on a NaN or infinite loss."""


@dataclass
class IterationState:
    """What a callback sees after each iteration. ``x`` is the preprocessed image
    (3, H, W) at the running level's size; :meth:`image` turns it into uint8 RGB (colour
    preservation applied). iteration counts within the level, step over the whole run;
    level is 1 .. levels (coarse to fine, :func:`nst_numpy.pyramid.pyramid`); seconds is
    the wall time of this level's optimisation so far; kinds: the kinds of term the
    objective has ("content", "style", "tv"); tol: the run's stopping rule (0: none), so
    that it may end before its iterations run out."""
    iteration: int
    losses: Losses
    x: np.ndarray
    level: int = 1
    levels: int = 1
    step: int = None
    seconds: float = 0.0
    _finish: object = field(repr=False, default=None)
    kinds: tuple = KINDS
    tol: float = 0.0

    def image(self):
        return self._finish(self.x)


@dataclass
class StylizeResult:
    """image: uint8 RGB (H, W, 3), the final picture (the last good one if the run
    stopped early); best_image: the one with the lowest total loss seen at full size,
    best_loss (inf if no iteration ran there);
    history: {"total", "content", "style", "tv"} -> per-iteration weighted losses, every
    level's in turn; times: seconds from the start of the run at each iteration;
    levels: one dict per level, coarse to fine ({"shape", "iterations", "seconds",
    "loss"}); initial: the :class:`~nst_numpy.objective.Losses` of the last level's
    starting image; iterations and evaluations (forward+backward passes), over all levels;
    stopped: None when the iterations ran out, else "callback", "interrupted",
    "nonfinite", "diverged" (the loss ended above its start; best_image is then the
    lowest iterate, which may still beat the start) or "converged" (L-BFGS could make no
    more progress, or the loss stopped falling: ``tol``); message: a
    sentence saying why the run ended; seconds: wall time of the whole run; x: the final
    preprocessed image.
    """
    image: np.ndarray
    best_image: np.ndarray
    history: dict
    initial: Losses
    iterations: int
    evaluations: int
    stopped: str
    message: str
    seconds: float
    x: np.ndarray
    times: list = field(default_factory=list)
    levels: list = field(default_factory=list)
    best_loss: float = math.inf

    @property
    def loss(self):
        """The last iteration's total loss (the starting image's if none ran)."""
        if self.history["total"]:
            return self.history["total"][-1]
        return self.initial.total if self.initial is not None else math.nan

    @property
    def failed(self):
        """True when the run ended on a NaN/infinite loss or above its starting loss."""
        return self.stopped in ("nonfinite", "diverged")

    def plot(self, path=None, ax=None):
        """The loss history, log scale (:func:`nst_numpy.plot.plot_history`; needs
        matplotlib)."""
        from .plot import plot_history
        return plot_history(self, path, ax)


class Progress:
    """Prints the losses as the run goes: the level (when there are several), the
    iteration, the weighted loss terms, the time so far, the time per iteration and the
    time left.

    iterations: the run's iterations, or a list of them, one per level. On a terminal (or
    in Jupyter) one line is rewritten in place with a carriage return (:meth:`close` ends it
    after each level); elsewhere (a log file, CI), or with ``inline=False``, a plain line every
    ``every`` iterations (default: a tenth of the level's, and the first iteration's, so that
    a log shows the run within seconds of its start).

    The time left is the iterations left at the seconds per iteration measured since the
    level's first iteration (which also carries the level's setup: the optimiser's bounds,
    its first line search); a later, finer level (twice the sides) is counted at four times
    this level's. With a stopping rule (``tol``) the run may end sooner: the line says
    "at most".
    """

    def __init__(self, iterations, stream=None, every=None, inline=None):
        self.iterations = list(iterations) if isinstance(iterations, (list, tuple)) else [iterations]
        self.stream = stream if stream is not None else sys.stderr
        self.inline = _is_interactive(self.stream) if inline is None else inline
        self.every = every
        self.start, self.width, self.level, self.first = time.perf_counter(), 0, None, None

    def __call__(self, state):
        k, n = state.iteration, self.iterations[min(state.level, len(self.iterations)) - 1]
        if state.level != self.level:   # a new level (the last one's line was closed)
            self.level, self.width, self.first = state.level, 0, None
        if k == 1:   # the first iteration carries the level's setup: timed apart
            self.first = state.seconds
        every = self.every or (1 if self.inline else max(1, n // 10))
        if k % every and k != n and not (self.every is None and k == 1):
            return
        level = (f"level {state.level}/{state.levels} {state.x.shape[2]}x{state.x.shape[1]}  "
                 if state.levels > 1 else "")
        terms = "  ".join(f"{kind} {getattr(state.losses, kind):.4g}" for kind in state.kinds)
        elapsed = f"{time.perf_counter() - self.start:.1f}s"
        if k == 1:
            timing = "the first iteration, with the setup; the time left from the next line"
        else:
            per_iteration = ((state.seconds - self.first) / (k - 1) if self.first is not None
                             else state.seconds / k)
            later = self.iterations[state.level:state.levels]   # the finer levels still to run
            left = per_iteration * ((n - k) + sum(m * 4 ** j for j, m in enumerate(later, 1)))
            bound = "at most " if state.tol > 0 and left > 0 else ""
            timing = f"{per_iteration:.2f}s/it, {bound}{duration(left)} left"
        line = (f"{level}iter {k:>{len(str(n))}}/{n}  loss {state.losses.total:.4g}  {terms}  "
                f"{elapsed} ({timing})")
        if self.inline:
            # Pad to the longest line so far: a shorter line fully covers the previous one.
            self.width = max(self.width, len(line))
            self.stream.write("\r" + line.ljust(self.width))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def begin(self, level, levels, shape):
        """Before a level's targets are computed: in a log (the default ``every``), a line
        saying what runs, so that the log shows the run before its first iteration ends."""
        if self.inline or self.every is not None:
            return
        n = self.iterations[min(level, len(self.iterations)) - 1]
        where = f"level {level}/{levels} " if levels > 1 else ""
        self.stream.write(f"{where}{shape[1]}x{shape[0]}: the targets, then at most {n} "
                          "iterations\n")
        self.stream.flush()

    def close(self):
        if self.inline:
            self.stream.write("\n")
            self.stream.flush()


def duration(seconds):
    """A time for a person: 42s, 3m05s, 1h02m."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _is_interactive(stream):
    # Jupyter's cell output (ipykernel's OutStream) renders a carriage return in place.
    if type(stream).__module__.startswith("ipykernel"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def default_optimizer(terms):
    """"lbfgs", or "adam" where L-BFGS-B's line search fails: a term that is not its loss's
    gradient (normalised gradients) or whose loss jumps (the MRF loss)."""
    return "lbfgs" if all(term.lbfgs for term in terms) else "adam"


def optimizer_options(terms, optimizer=None, lr=None, lbfgs_memory=None):
    """The optimiser's name and its keyword arguments for an objective of ``terms``,
    checked: each option that the chosen optimiser does not take is refused in one line
    naming it, as is an objective it cannot optimise."""
    descends = all(term.gradient for term in terms)
    optimizer = default_optimizer(terms) if optimizer is None else \
        choice("optimizer", optimizer, OPTIMIZERS)
    if optimizer == "lbfgs":
        if lr is not None:
            raise OptionError("{lr} has no effect with {lbfgs} (L-BFGS finds its own step); "
                              "leave it out, or choose {adam} or {gd}", lr="lr",
                              lbfgs=("optimizer", "lbfgs"), adam=("optimizer", "adam"),
                              gd=("optimizer", "gd"))
        if not descends:
            raise OptionError("normalised gradients are not the loss's gradient, which "
                              "L-BFGS-B's line search needs; choose {adam} or {gd}",
                              adam=("optimizer", "adam"), gd=("optimizer", "gd"))
        return optimizer, {} if lbfgs_memory is None else \
            {"memory": integer("lbfgs_memory", lbfgs_memory, 1)}
    if lbfgs_memory is not None:
        raise OptionError("{lbfgs_memory} has no effect with {chosen}; leave it out, or "
                          "choose {lbfgs}", lbfgs_memory="lbfgs_memory",
                          chosen=("optimizer", optimizer), lbfgs=("optimizer", "lbfgs"))
    if lr is None and optimizer == "gd" and not descends:
        raise OptionError("gradient descent derives its step from the loss's gradient, and "
                          "normalised gradients are not that gradient (they are some 1e-3 per "
                          "pixel); give {lr} (about 1e3 to 1e4), or choose {adam}", lr="lr",
                          adam=("optimizer", "adam"))
    if lr is None and optimizer == "adam":
        lr = min((t.adam_lr for t in terms if t.adam_lr), default=None)
    return optimizer, {} if lr is None else {"lr": positive_number("lr", lr)}


def run(objective, x0, optimizer=None, iterations=300, lr=None, lbfgs_memory=None,
        callback=None, progress=False, finish=None, level=(1, 1), step0=0, started=None,
        tol=0.0):
    """Optimise ``objective`` from ``x0`` within the pixel bounds.

    Parameters
    ----------
    objective : :class:`nst_numpy.objective.Objective`
    x0 : ndarray (3, H, W)
        The preprocessed starting image (:func:`nst_numpy.image.preprocess`).
    optimizer : {None, "lbfgs", "adam", "gd"}
        None: :func:`default_optimizer`.
    iterations : int >= 1
        The most iterations; the run ends sooner when the loss stops falling (``tol``).
    lr : float > 0, optional
        Adam's or gradient descent's step (L-BFGS finds its own).
    lbfgs_memory : int >= 1, optional
        The past steps L-BFGS keeps (default :data:`nst_numpy.optim.LBFGS_MEMORY`, 20).
    callback : callable, optional
        ``f(IterationState)`` after each iteration; return True to stop.
    progress : bool or Progress
        True prints the losses as the run goes.
    finish : callable, optional
        x -> the uint8 RGB picture (default :func:`nst_numpy.image.deprocess`).
    level, step0, started
        For :func:`nst_numpy.pyramid.pyramid`: (this level, levels), the iterations of
        the levels before, the clock at the run's start.
    tol : float >= 0
        End the run when the loss fell by less than ``tol`` per iteration (relative) over
        the last :data:`STOP_WINDOW` iterations (:func:`stalled`); 0 (the default here;
        stylize's is :data:`DEFAULT_TOL`) runs every iteration.

    Returns
    -------
    StylizeResult
        Ctrl-C and a NaN or infinite loss end the run early, keeping the last good image;
        a loss that ends above its start marks the run "diverged" (except with normalised
        gradients, which do not descend the loss, and whose "best" image is the last).
    """
    iterations = integer("iterations", iterations, 1)
    tol = non_negative_number("tol", tol)
    optimizer, step = optimizer_options(objective.terms, optimizer, lr, lbfgs_memory)
    finish = finish or im.deprocess
    history = {key: [] for key in ("total", *KINDS)}
    record = {"x": x0, "best_x": x0, "best": math.inf, "best_k": 0, "stopped": None,
              "initial": None}
    descends = objective.descends
    display = Progress(iterations) if progress is True else (progress or None)
    level, levels = level
    times = []
    kinds = tuple(kind for kind in KINDS if any(term.kind == kind for term in objective.terms))

    def evaluate(x):
        try:
            return objective(x)
        finally:
            if record["initial"] is None:
                record["initial"] = objective.last

    def on_iteration(k, x, loss):
        parts = objective.last  # the optimizers' last evaluation is at x (see optim)
        for key in history:
            history[key].append(getattr(parts, key))
        times.append(time.perf_counter() - started)
        record["x"] = x
        if parts.total < record["best"] or not descends:
            record["best"], record["best_x"], record["best_k"] = parts.total, x, k
        state = IterationState(k, parts, x, level, levels, step0 + k,
                               time.perf_counter() - start_time, finish, kinds,
                               tol if descends else 0.0)
        if display:
            display(state)
        if callback is not None and callback(state):
            record["stopped"] = "callback"
            return True
        if descends and stalled(history["total"], tol):
            record["stopped"] = "converged"
            return True
        return False

    if progress is True:   # pyramid's display began before the level's targets
        display.begin(level, levels, x0.shape[1:])
    start_time = time.perf_counter()
    started = start_time if started is None else started
    try:
        # A step too large overflows to inf and is clipped to the pixel bounds: the loss
        # that follows says so (below), not an arithmetic warning on the way.
        with np.errstate(over="ignore", invalid="ignore"):
            result = optim.OPTIMIZERS[optimizer](evaluate, x0, iterations=iterations,
                                                 bounds=im.pixel_bounds(x0.shape, x0.dtype),
                                                 callback=on_iteration, **step)
        message = result.message
        if record["stopped"] == "converged":
            message = (f"the loss fell by less than {tol:g} per iteration over the last "
                       f"{STOP_WINDOW} iterations (tol)")
        elif record["stopped"] is None and len(history["total"]) < iterations:
            record["stopped"] = "converged"
    except NonFiniteLoss as error:
        record["stopped"] = "nonfinite"
        remedy = "the loss weights" if optimizer == "lbfgs" else "the step size or the loss weights"
        message = f"{error} after {len(history['total'])} iterations (lower {remedy})"
        warnings.warn(message, NonFiniteLossWarning, stacklevel=3)
    except KeyboardInterrupt as stop:   # Ctrl-C (or SIGTERM, which the CLI turns into it)
        record["stopped"] = "interrupted"
        message = f"{str(stop) or 'interrupted'} after {len(history['total'])} iterations"
    finally:
        if display and hasattr(display, "close"):
            display.close()
    initial = record["initial"]
    if descends and record["stopped"] in (None, "converged") and history["total"] and \
            history["total"][-1] > initial.total:
        record["stopped"] = "diverged"
        message = (f"the loss rose from {initial.total:.4g} to {history['total'][-1]:.4g} over "
                   f"{len(history['total'])} iterations")
        if record["best"] < initial.total:   # an earlier iterate beat the start: it is kept
            message += (f" (its lowest, {record['best']:.4g} at iteration {record['best_k']}, "
                        "is the best image)")
        message += "; lower the learning rate"
    seconds = time.perf_counter() - start_time
    result = StylizeResult(
        image=finish(record["x"]), best_image=finish(record["best_x"]), history=history,
        initial=initial, iterations=len(history["total"]), evaluations=objective.evaluations,
        stopped=record["stopped"], message=message, seconds=seconds, x=record["x"],
        times=times, best_loss=record["best"])
    result.levels = [{"shape": record["x"].shape[1:], "iterations": result.iterations,
                      "seconds": seconds, "loss": result.loss}]
    return result
