"""Feature inversion: which picture does one layer's activation describe?

Mahendran & Vedaldi (2015) and Gatys et al. (2015, Fig. 1) look inside the network by
turning the question around: given the activation ``P = Phi_l(x0)`` of an image ``x0`` at
one layer ``l``, find an image ``x`` whose activation there is the same. Starting from
noise, the pixels are optimised against the content loss alone (eq (1) at that layer, no
style term: beta = 0), plus a total-variation prior that keeps them smooth. What survives
is what the layer keeps: the shallow layers give back the photograph almost exactly; the
deep ones keep the layout and the objects' shapes and lose the fine detail and colour.

The pieces are style transfer's: an :class:`~nst_numpy.objective.Objective` of two terms,
:class:`~nst_numpy.terms.Content` at the layer (its target computed once) and
:class:`~nst_numpy.terms.TotalVariation`, optimised by :func:`~nst_numpy.loop.run`. Only the
weights are new (see :func:`invert`): normalised, so that one default suits every layer and
every size.
"""

import numpy as np

from . import image as im
from . import memory
from . import vgg as vgg_module
from ._checks import non_negative_number
from .models import load_vgg, network_class
from .objective import Objective
from .options import OPTIONS
from .loop import optimizer_options, run
from .terms import Content, TotalVariation, layer_list
from .transfer import output_shape

# tv_weight: lambda of invert's objective, per pixel on the 0-255 scale. Chosen by
# reconstructing the shipped turtle at 256 px from relu1_1 ... relu5_1 with 0, 1e-6, 1e-5,
# 3e-5 and 1e-4 (docs/annotated/inversion.md): 1e-5 kept relu1_1 and relu2_1 within ~3.5
# grey levels of the photo, wiped the noise that relu2_1 and relu3_1 cannot see, and gave
# the lowest mean pixel error over the five layers; 1e-4 blurred the shallow ones.
TV_WEIGHT = 1e-5
# The optimiser minimises OPTIMIZER_SCALE * H * W * L (see inversion_objective).
OPTIMIZER_SCALE = 100.0
# Gradient descent's step on that scaled loss when none is given: at 64 px, 30 steps of 10
# lowered the relative error at relu1_1, relu3_1 and relu5_1; 20 diverged at relu3_1.
GD_LR = 10.0


def invert(image, layer="relu3_1", *, model=None, size=256, iterations=200,
           tv_weight=TV_WEIGHT, seed=0, optimizer="lbfgs", lr=None, weights=None, arch=None,
           pooling="max", fast=True, callback=None, progress=False, dtype=np.float32,
           memory_limit=None):
    r"""Reconstruct ``image`` from its activation at one ``layer``, starting from noise.

    The objective, for the activation :math:`P` of the image at layer :math:`l`, with
    :math:`N_l M_l` entries, and the generated image :math:`x` (3 channels, H x W pixels,
    0-255 scale)::

        L(x) = 1/2 ||Phi_l(x) - P||^2 / ||P||^2
               + tv_weight / (H W) * sum_{c,i,j} [ (x[c,i+1,j] - x[c,i,j])^2
                                                  + (x[c,i,j+1] - x[c,i,j])^2 ]

    The first term is eq (1) with the weight :math:`\alpha = 1 / \|P\|^2`: half the squared
    *relative* error :math:`e = \|\Phi_l(x) - P\| / \|P\|`. The second is the squared total
    variation (:func:`nst_numpy.losses.total_variation_loss`) averaged over the pixels.

    Why this scaling (Mahendran & Vedaldi 2015, sec. 3): eq (1) sums over the :math:`N_l M_l`
    entries of the layer, whose typical size differs by orders of magnitude from ``relu1_1``
    to ``relu5_1`` and whose number grows with the image's area :math:`M_l \propto HW`.
    Dividing by :math:`\|P\|^2`, a sum over the same entries, cancels both: :math:`e^2/2` is
    1/2 for the blank image :math:`\Phi_l(x) = 0` at every layer and every size. The TV sum
    has one term per pixel, channel and direction, so it grows as :math:`HW`; divided by
    :math:`HW` it is a per-pixel mean, size-free too. Both terms' gradients then shrink as
    :math:`1/(HW)` alike, so the balance between them, set by ``tv_weight``, does not
    depend on the layer or the size. On the 0-255 scale, an image whose neighbouring pixels
    differ by :math:`\delta` in each channel and direction pays about
    :math:`6\,\delta^2\,\lambda_{tv}`: at the default ``tv_weight`` (:data:`TV_WEIGHT`,
    1e-5), the shipped turtle photo at 256 px (a mean of 1400 per pixel, :math:`\delta
    \approx 15`) would pay 0.014, what a relative error :math:`e` of 17% costs.

    Parameters
    ----------
    image : path, PIL image or uint8 RGB array (H, W, 3)
        The picture whose features are inverted.
    layer : str
        Any layer of the model, paper names (``conv3_1``, ``relu3_1``, ``pool3``) or Keras
        aliases (``block3_conv1``).
    model : VGG, FastVGG or any model with their interface, optional
        Default: the VGG of ``weights`` (None: the shipped VGG19; ``arch`` checked against
        the file) with ``pooling``, the fast network unless ``fast=False``
        (:func:`nst_numpy.load_vgg`).
    size : int or None
        Longest side of the reconstruction in pixels (None keeps the image's size).
    iterations : int
        Optimizer iterations.
    tv_weight : float >= 0
        :math:`\lambda_{tv}` above, per pixel on the 0-255 scale.
    seed : int >= 0
        Seed of the uniform noise the run starts from.
    optimizer : {"lbfgs", "adam", "gd"}
        As for :func:`nst_numpy.transfer.stylize`. ``lr`` is Adam's step in pixels (default
        10) or gradient descent's step per unit of the gradient the optimiser sees (that of
        :func:`inversion_objective`, default :data:`GD_LR`).
    callback, progress, dtype, memory_limit
        As for :func:`nst_numpy.transfer.stylize`.

    Returns
    -------
    StylizeResult
        ``image``, ``best_image`` (the lowest loss seen), ``history`` (``"content"`` holds
        :math:`e^2/2` at each iteration, ``"style"`` zeros), ``stopped`` and the rest as
        described there. :math:`e` of the final picture is ``sqrt(2 * history["content"][-1])``.

    Raises
    ------
    ValueError
        In one line, before the network is loaded or any pixel decoded: an unknown layer, a
        size too small to reach it, a missing or unreadable image, an option out of range,
        a run that would not fit in memory.
    """
    for name, value in dict(size=size, iterations=iterations, seed=seed, optimizer=optimizer,
                            lr=lr, arch=arch, pooling=pooling, fast=fast, callback=callback,
                            progress=progress, memory_limit=memory_limit).items():
        OPTIONS[name].check(name, value)   # one line naming the option, before any work
    dtype = OPTIONS["dtype"].check("dtype", dtype)
    terms = inversion_terms(image, layer, tv_weight)
    if lr is None and optimizer == "gd":
        lr = GD_LR
    optimizer_options(terms, optimizer, lr)   # lr with L-BFGS: refused now, not after loading
    names = model.layer_names if model is not None else vgg_module.layer_names(arch or "vgg19")
    shape = output_shape(image, size)   # the header only: a bad file fails here
    layer = terms[0].layers[0]
    check_reachable(model.resolve(layer) if model is not None else
                    vgg_module.canonical_name(layer), shape, names)
    check_memory(shape, fast if model is None else getattr(model, "MEMORY", None),
                 im.image_size(image), memory_limit, np.dtype(dtype).itemsize)

    if model is None:
        model = load_vgg(weights, arch=arch, pooling=pooling, fast=fast)
    objective = inversion_objective(model, terms, shape, dtype)
    x0 = im.preprocess(np.random.default_rng(seed).uniform(0, 255, size=(*shape, 3)), dtype)
    return run(objective, x0, optimizer, iterations, lr=lr, callback=callback, progress=progress)


def inversion_terms(image, layer, tv_weight=TV_WEIGHT):
    """The two terms of :func:`invert`: the content loss at ``layer`` relative to its target,
    ``1/2 ||F - P||^2 / ||P||^2``, and the TV term divided by the H W pixels."""
    return [Content(image, layer_list("layer", [layer]), relative=True),
            TotalVariation(non_negative_number("tv_weight", tv_weight), per_pixel=True)]


def inversion_objective(model, terms, shape, dtype=np.float32):
    """The objective of :func:`invert` for its ``terms`` (:func:`inversion_terms`), the
    target ``P`` computed once, what the optimiser sees scaled by :data:`OPTIMIZER_SCALE`
    H W. A layer where the picture's activation is zero everywhere has nothing to invert
    (and no ``||P||``): one-line ValueError.

    Why the scale: L-BFGS-B's first step, before it has any curvature to go by, is at most
    the plain gradient step ``x - dL/dx`` (SciPy's bounded line search caps it there). The
    normalised loss's gradient is of order 1e-7 per pixel at 256 px, so that step would move
    the pixels by 1e-7 and change the float32 loss by less than its round-off: the run would
    stop at once. Times OPTIMIZER_SCALE * H W (which undoes the gradient's 1 / (H W)) the
    first step moves the pixels by about one grey level. Adam is unaffected (it divides the
    scale out) but for its eps; gradient descent's ``lr`` is per unit of the scaled gradient.
    """
    H, W = shape
    # L = 1/2 ||F - P||^2 / ||P||^2  +  (tv_weight / (H W)) L_tv
    return Objective(model, terms, shape, dtype, scale=OPTIMIZER_SCALE * H * W)


def check_reachable(layer, shape, names):
    """One line if an image of ``shape`` (H, W) is too small to reach ``layer`` (its paper
    name, among the network's ``names``): every pool on the way, the layer itself if it is
    one, halves the sides, and each pool needs at least 2 pixels."""
    pools = sum(name.startswith("pool") for name in names[:names.index(layer) + 1])
    needed = 2 ** pools
    if min(shape) < needed:
        H, W = shape
        raise ValueError(f"a {W}x{H} image is too small to reach {layer}, which needs at "
                         f"least {needed} px on the shorter side; use a larger size or a "
                         "shallower layer")


def check_memory(shape, network=True, image_shape=(0, 0), limit=None, itemsize=4):
    """Refuse, in one line, an inversion of ``shape`` (H, W) that would not fit in ``limit``
    bytes (None: the memory available). network: the fast (True) or plain (False) network,
    or a model's ``MEMORY``. The estimate is a stylization's of the same size
    (:func:`nst_numpy.memory.estimate_run`, no style image): an upper bound, since that
    network runs to ``relu5_1``."""
    H, W = shape
    if not isinstance(network, tuple):
        network = network_class(bool(network)).MEMORY
    memory.check_fits(memory.estimate_run(network, H * W, itemsize,
                                          decoded=image_shape[0] * image_shape[1]),
                      limit, what=f"a {W}x{H} inversion", remedy="lower {size}", size="size")
