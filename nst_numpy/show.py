"""What one layer keeps of a picture: its feature maps and its Gram matrix, as a figure.

    view = layer_view("turtle.jpg", "relu3_1")        # the numbers (no matplotlib needed)
    show_layer("turtle.jpg", "relu3_1", "fig.png")    # the figure (the plot extra)

Beside feature inversion (:func:`nst_numpy.invert`, which rebuilds a picture from one
layer's activation), this shows the activation itself: the ``k`` channels of ``F^l`` with
the most energy (or the first ``k``), each a map over the layer's grid, and the layer's Gram
matrix per position, ``G^l / M_l`` (eq (3) divided by the positions, so that pictures of
any size compare), which is all the style loss sees of it. The receptive field of one unit,
drawn on the picture, says how much of the picture each position of the map summarises
(course question 8).
"""

from dataclasses import dataclass

import numpy as np

from . import image as im
from . import memory
from . import vgg as vgg_module
from ._checks import OptionError, choice, integer
from .analysis import gram_per_position, receptive_fields
from .inversion import check_reachable
from .models import load_vgg, network_class
from .options import OPTIONS
from .terms import layer_list
from .transfer import output_shape

ORDERS = ("strongest", "first")
SIZE = 256
CHANNELS = 16


@dataclass
class LayerView:
    """One picture at one layer. picture: uint8 RGB (H, W, 3) as the network saw it; layer:
    its paper name; channels: (k,) the channels shown, in order; maps: (k, H_l, W_l) their
    activations; gram: (N_l, N_l) the Gram matrix per position ``F F^T / M_l``; energy:
    (N_l,) its diagonal, each channel's mean square activation; field: the receptive field
    of one unit, in pixels of ``picture``."""
    picture: np.ndarray
    layer: str
    channels: np.ndarray
    maps: np.ndarray
    gram: np.ndarray
    energy: np.ndarray
    field: int


def layer_view(image, layer="relu3_1", size=SIZE, channels=CHANNELS, order="strongest", *,
               model=None, weights=None, arch=None, pooling="max", fast=True, memory_limit=None):
    """The activation and Gram matrix of ``image`` at ``layer``.

    Parameters
    ----------
    image : path, PIL image or uint8 RGB array (H, W, 3)
    layer : str
        Any layer: paper names (``conv3_1``, ``relu3_1``, ``pool3``) or Keras aliases.
    size : int or None
        The picture's longest side as the network sees it (None: its own size).
    channels : int >= 1
        How many feature maps to keep (at most the layer's channels).
    order : {"strongest", "first"}
        The channels with the largest mean square activation, largest first (the Gram
        matrix's largest diagonal entries), or channels 0 .. k-1.
    model : VGG, FastVGG or any model with their interface, optional
        Default: the VGG of ``weights``, ``arch``, ``pooling`` and ``fast`` as for
        :func:`nst_numpy.stylize` (None: the shipped VGG19, the fast network).
    memory_limit : bytes, optional
        As for :func:`nst_numpy.stylize`.

    Returns
    -------
    LayerView
    """
    layers = layer_list("layer", layer)   # one line for a number or an unknown name
    if len(layers) != 1:
        raise OptionError(f"{{layer}} names one layer, got {len(layers)}", layer="layer")
    layer, channels = layers[0], integer("channels", channels, 1)
    choice("order", order, ORDERS)
    size = None if size is None else integer("size", size, 1)
    shape = output_shape(image, size)   # the header only: a bad file fails here
    for name, value in dict(arch=arch, pooling=pooling, fast=fast).items():
        OPTIONS[name].check(name, value)
    names = model.layer_names if model is not None else vgg_module.layer_names(arch or "vgg19")
    name = model.resolve(layer) if model is not None else vgg_module.canonical_name(layer)
    check_reachable(name, shape, names)
    # a forward pass takes less than a stylization's estimate: an upper bound
    network = getattr(model, "MEMORY", None) or network_class(fast).MEMORY
    H0, W0 = im.image_size(image)
    memory.check_fits(memory.estimate_run(network, shape[0] * shape[1], decoded=H0 * W0),
                      memory_limit, what=f"a {shape[1]}x{shape[0]} picture",
                      remedy="lower {size}", size="size")
    model = model or load_vgg(weights, arch=arch, pooling=pooling, fast=fast)
    rgb = im.resize(im.load_image(image), *shape)
    F = model.features(im.preprocess(rgb), [layer])[layer]          # (N_l, H_l, W_l)
    gram = gram_per_position(F)                                     # G / M_l, (N_l, N_l)
    energy = np.diag(gram).copy()
    k = min(channels, F.shape[0])
    shown = (np.argsort(-energy, kind="stable")[:k] if order == "strongest" else np.arange(k))
    return LayerView(rgb, name, shown, F[shown], gram, energy,
                     receptive_fields(model.layer_names)[name])


def show_layer(image, layer="relu3_1", path=None, **options):
    """Draw :func:`layer_view`'s feature maps and Gram matrix (needs matplotlib: the plot
    extra). ``options`` as there; ``path``: also write the figure there (PNG, JPEG, ... by
    the extension), atomically.

    Returns
    -------
    matplotlib.figure.Figure
        Left, the picture with one unit's receptive field drawn in its corner; middle, the
        feature maps, each scaled to its own maximum and titled with its channel and its
        root mean square; right, the Gram matrix per position (square-root colour scale for
        a layer after a ReLU, whose entries are >= 0).
    """
    from .plot import check_available
    check_available()
    view = layer_view(image, layer, **options)
    fig = draw(view)
    if path is not None:
        fig.canvas.draw()
        im.save_image(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy(), path)
    return fig


def draw(view):
    """The figure of a :class:`LayerView` (a matplotlib Figure of its own, no pyplot)."""
    from matplotlib import colors
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(13, 4.4))
    FigureCanvasAgg(fig)
    N, H_l, W_l = len(view.energy), *view.maps.shape[1:]
    fig.suptitle(f"{view.layer}: {N} channels on a {W_l}x{H_l} grid; one unit sees "
                 f"{view.field}x{view.field} px of the {view.picture.shape[1]}x"
                 f"{view.picture.shape[0]} picture")
    outer = fig.add_gridspec(1, 3, width_ratios=[1, 1.3, 1.1], wspace=0.3, left=0.02,
                             right=0.92)
    ax = fig.add_subplot(outer[0])
    ax.imshow(view.picture)
    side = min(view.field, *view.picture.shape[:2])
    ax.add_patch(Rectangle((0.5, 0.5), side - 1, side - 1, fill=False, edgecolor="white",
                           linewidth=1.5))
    ax.set_title(f"the picture; white square: the receptive field ({view.field} px)",
                 fontsize=9)
    ax.axis("off")
    columns = int(np.ceil(np.sqrt(len(view.channels))))
    rows = int(np.ceil(len(view.channels) / columns))
    grid = outer[1].subgridspec(rows, columns, wspace=0.05, hspace=0.3)
    for k, (channel, fmap) in enumerate(zip(view.channels, view.maps)):
        ax = fig.add_subplot(grid[k // columns, k % columns])
        ax.imshow(fmap, cmap="viridis", vmin=min(0.0, fmap.min()), vmax=max(fmap.max(), 1e-12))
        ax.set_title(f"#{channel} rms {np.sqrt(view.energy[channel]):.3g}", fontsize=7)
        ax.axis("off")
    ax = fig.add_subplot(outer[2])
    by_energy = np.argsort(-view.energy, kind="stable")
    gram = view.gram.astype(np.float64)[np.ix_(by_energy, by_energy)]
    after_relu = gram.min() >= 0
    # a square-root scale: the strongest channels' entries would leave the rest black
    norm = colors.PowerNorm(0.5, vmin=0, vmax=max(gram.max(), 1e-12)) if after_relu \
        else colors.CenteredNorm()
    shown = ax.imshow(gram, cmap="magma" if after_relu else "coolwarm", norm=norm)
    ax.set_title(f"Gram matrix per position, G/M ({N}x{N}),\nchannels by energy, the "
                 "strongest top left", fontsize=9)
    ax.set_xlabel("channel rank")
    ax.set_ylabel("channel rank")
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    return fig
