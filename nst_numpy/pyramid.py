"""Coarse to fine (Gatys et al. 2017): the objective at growing sizes, each level starting
from the previous level's picture, upsampled.

    result = pyramid(objective_at, x0, shapes=[(85, 128), (170, 256)], iterations=[50, 300])

:func:`pyramid` wraps :func:`nst_numpy.loop.run`: ``objective_at(shape)`` builds the
level's objective (its targets at that size), and the levels' histories are joined into one
result. The last level optimises exactly the single-scale objective.
"""

import math
import time

import numpy as np
from PIL import Image

from . import image as im
from ._checks import OptionError
from .loop import Progress, StylizeResult, run

# Iterations at each coarser level, when only the full size's are given: the best of those
# compared by the whole-run benchmark (docs/benchmarks.md).
COARSE_ITERATIONS = 50


def level_sides(side, scales):
    """Longest sides of the levels, coarse to fine: side / 2^(scales-1), ..., side."""
    return [max(1, round(side / 2 ** (scales - 1 - k))) for k in range(scales)]


def level_iterations(iterations, scales, coarse_iterations=None):
    """Iterations per level, coarse to fine: a list as given, or for one number ``n`` at
    full size, ``coarse_iterations`` (default :data:`COARSE_ITERATIONS`) at each coarser
    level."""
    if isinstance(iterations, (list, tuple)):
        if len(iterations) != scales:
            raise OptionError(f"{{iterations}} has {len(iterations)} values for {scales} "
                              "{scales}; give one number, or one per level",
                              iterations="iterations", scales="scales")
        return [int(n) for n in iterations]
    coarse = COARSE_ITERATIONS if coarse_iterations is None else int(coarse_iterations)
    return [coarse] * (scales - 1) + [int(iterations)]


def upsample(x, shape):
    """A preprocessed image (3, h, w) resized to shape (H, W), bicubic, kept in the
    pixel bounds: the start of the next, finer level."""
    H, W = shape
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(c, dtype=np.float32), mode="F")
                           .resize((W, H), Image.BICUBIC)) for c in x]
    low, high = im.pixel_bounds((3, H, W), x.dtype)
    return np.clip(np.stack(channels).astype(x.dtype), low, high)


def pyramid(objective_at, x0, shapes, iterations, finish_at=None, callback=None,
            progress=False, **run_options):
    """Optimise at each of ``shapes`` in turn (coarse to fine).

    Parameters
    ----------
    objective_at : callable
        (H, W) -> the level's :class:`nst_numpy.objective.Objective`.
    x0 : ndarray (3, h, w)
        The starting image at the coarsest level's shape.
    shapes : list of (H, W)
        The levels' sizes, coarse to fine.
    iterations : list of int
        One per level.
    finish_at : callable, optional
        (H, W) -> the level's x -> picture function (default
        :func:`nst_numpy.image.deprocess`).
    callback, progress, **run_options
        As for :func:`nst_numpy.loop.run`; ``progress=True`` shows every level.

    Returns
    -------
    StylizeResult
        The last level's pictures, every level's history and times in turn, one entry per
        level in ``levels``. A level that ends early (Ctrl-C, a NaN) ends the run; Ctrl-C
        while a level's targets are computed ends it too, keeping the levels before. The
        pictures always have the last level's size: a run stopped at a coarser level returns
        that level's last picture upsampled (its message says so).
    """
    display = Progress(list(iterations)) if progress is True else (progress or None)
    started, results, x = time.perf_counter(), [], x0
    for level, (shape, n) in enumerate(zip(shapes, iterations), start=1):
        if display and hasattr(display, "begin"):
            display.begin(level, len(shapes), shape)
        try:
            objective = objective_at(shape)
        except KeyboardInterrupt as stop:   # between two levels: keep what the last one made
            if not results:
                raise
            results[-1].stopped = "interrupted"
            results[-1].message = (f"{str(stop) or 'interrupted'} after "
                                   f"{sum(r.iterations for r in results)} iterations")
            break
        if level > 1:
            x = upsample(x, shape)
        results.append(run(objective, x, iterations=n,
                           finish=finish_at(shape) if finish_at else None, callback=callback,
                           progress=display, level=(level, len(shapes)),
                           step0=sum(r.iterations for r in results), started=started,
                           **run_options))
        x = results[-1].x
        if results[-1].stopped not in (None, "converged"):
            break
    result = whole_run(results, started)
    if tuple(result.x.shape[1:]) != tuple(shapes[-1]):   # stopped before the last level
        finish = finish_at(shapes[-1]) if finish_at else im.deprocess
        result.x = upsample(result.x, shapes[-1])
        result.image = result.best_image = finish(result.x)
        result.best_loss = math.inf   # no loss of the full-size objective was measured
        result.message += (f"; the picture is level {len(results)} of {len(shapes)}'s, "
                           f"upsampled to {shapes[-1][1]}x{shapes[-1][0]}")
    return result


def whole_run(results, started):
    """One StylizeResult for the levels of a run: the last level's pictures, every level's
    history and times in turn."""
    last = results[-1]
    if len(results) == 1:
        return last
    history = {key: [v for r in results for v in r.history[key]] for key in last.history}
    levels = [level for r in results for level in r.levels]
    return StylizeResult(
        image=last.image, best_image=last.best_image, history=history, initial=last.initial,
        iterations=sum(r.iterations for r in results),
        evaluations=sum(r.evaluations for r in results), stopped=last.stopped,
        message=last.message, seconds=time.perf_counter() - started, x=last.x,
        times=[t for r in results for t in r.times], levels=levels, best_loss=last.best_loss)
