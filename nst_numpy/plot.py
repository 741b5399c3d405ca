"""The loss history of a run as a figure (matplotlib, an optional dependency:
``pip install "nst-numpy[plot]"``)."""

import importlib.util

import numpy as np

from .image import save_image

INSTALL = 'plotting needs matplotlib: pip install "nst-numpy[plot]" (or pip install matplotlib)'


def check_available():
    """Raise a one-line ImportError saying what to install when matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError(INSTALL)


def plot_history(result, path=None, ax=None):
    """Total, content, style and TV loss against the iteration, log scale.

    Parameters
    ----------
    result : StylizeResult
        Its ``history`` (the weighted terms per iteration) and ``levels`` (a dotted line
        where each finer level of a pyramid starts).
    path : str, optional
        Write the figure there as a picture (PNG, JPEG, ... by the extension), atomically.
    ax : matplotlib Axes, optional
        Draw into it (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
    """
    check_available()
    if ax is None and path is not None:
        # A figure of its own, drawn off screen: no pyplot, so a notebook's backend stays.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        fig = Figure(figsize=(7, 4))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    elif ax is None:
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4))
    fig = ax.figure
    steps = range(1, len(result.history["total"]) + 1)
    for term in ("total", "content", "style", "tv"):
        values = result.history[term]
        if any(v > 0 for v in values):   # a term switched off has nothing to show
            ax.plot(steps, values, label=term, linewidth=2 if term == "total" else 1)
    start = 0
    for level in result.levels[:-1]:
        start += level["iterations"]
        ax.axvline(start + 0.5, color="grey", linestyle=":", linewidth=1)
    ax.set(yscale="log", xlabel="iteration", ylabel="weighted loss")
    ax.legend()
    if path is not None:   # written like every picture: atomically, never half a file
        fig.tight_layout()
        fig.canvas.draw()
        save_image(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy(), path)
    return ax
