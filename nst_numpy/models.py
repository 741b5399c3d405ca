"""The networks with their ImageNet weights: :func:`load_vgg19`, :func:`load_vgg16`, and
:func:`load_vgg`, which takes the architecture from the file. Each builds, on request
(``normalized=True``), the normalised network of Gatys et al. (:mod:`nst_numpy.normalize`).

``load_vgg19()`` and ``VGG`` give the plain network that the docs derive and the gradient
checks use; ``stylize`` and the ``nst-numpy`` command use the fast one
(``load_vgg19(fast=True)``), which computes the same function to round-off in less time.
"""

from .fast import FastVGG
from .normalize import normalize_weights, reference_means
from .vgg import POOLING, VGG
from .weights import ArchitectureMismatch, WeightFileError, load_weights


def network_class(fast):
    """The class of the network the loaders build: :class:`nst_numpy.fast.FastVGG` (fast)
    or the plain :class:`nst_numpy.vgg.VGG`; each says what it needs (``MEMORY``)."""
    return FastVGG if fast else VGG


def _build(path, arch, pooling, fast, normalized):
    """Read the file, normalise its weights if asked, and build the plain or fast network."""
    if pooling not in POOLING:   # before the seconds the means take
        raise ValueError(f"unknown pooling {pooling!r}; choose 'max' or 'avg'")
    found, weights = load_weights(path, arch=arch)
    if normalized:
        # The means come from the original network with max pooling; the factors they give
        # hold for average pooling too (both commute with a positive per-channel scale).
        weights = normalize_weights(weights, reference_means(path, found), found)
    model = network_class(fast)(weights, arch=found, pooling=pooling)
    if normalized:
        model.normalized = True
    return model


def _fixed_arch(path, arch, pooling, fast, normalized):
    """_build for load_vgg19 and load_vgg16, which take no ``arch``: a file of the other
    network is refused naming the loader that reads it."""
    if path is None and arch == "vgg16":
        raise ValueError("the project ships VGG19 weights only; fetch VGG16's with `nst-numpy "
                         "weights download vgg16`, then name it as the weights: vgg16")
    try:
        return _build(path, arch, pooling, fast, normalized)
    except ArchitectureMismatch as error:
        raise WeightFileError(f"{error.path}: holds {error.found} weights, not {arch}; use "
                              f"load_{error.found}(path), or load_vgg(path), which reads "
                              "either") from None


def load_vgg19(path=None, pooling="max", fast=False, normalized=False):
    """VGG19 with ImageNet weights: the embedded file by default (no network), or ``path``.

    Parameters
    ----------
    path : str or Path, optional
        A Keras notop ``.h5`` file or the project's quantized file; None for the shipped one.
    pooling : {"max", "avg"}
        Max pooling as trained, or average pooling (Gatys et al.'s choice for synthesis).
    fast : bool
        False: the plain :class:`nst_numpy.vgg.VGG`; True: :class:`nst_numpy.fast.FastVGG`.
        ``load_vgg19()`` and ``VGG`` give the plain network that the docs derive and the
        gradient checks use; ``stylize`` and the ``nst-numpy`` command use the fast one
        (``load_vgg19(fast=True)``), which computes the same function to round-off in less
        time.
    normalized : bool
        True: the normalised network (:mod:`nst_numpy.normalize`), each filter rescaled so
        that its mean activation over the shipped images is 1, every layer's loss on one
        scale; its ``normalized`` attribute is True. The means are computed on the first
        such load of a file (a few seconds) and kept for the rest of the process.

    Returns
    -------
    VGG or FastVGG
    """
    return _fixed_arch(path, "vgg19", pooling, fast, normalized)


def load_vgg16(path, pooling="max", fast=False, normalized=False):
    """VGG16 from a Keras notop file (``nst-numpy weights download vgg16`` fetches one).

    Parameters
    ----------
    path : str or Path
        A Keras VGG16 notop ``.h5`` file (the project ships no VGG16 weights).
    pooling : {"max", "avg"}
    fast : bool
        False: the plain :class:`nst_numpy.vgg.VGG`; True: :class:`nst_numpy.fast.FastVGG`
        (see :func:`load_vgg19`).
    normalized : bool
        See :func:`load_vgg19`.

    Returns
    -------
    VGG or FastVGG
    """
    return _fixed_arch(path, "vgg16", pooling, fast, normalized)


def load_vgg(path=None, arch=None, pooling="max", fast=False, normalized=False):
    """VGG16 or VGG19, whichever the weight file holds (or ``arch``, checked against it).

    Parameters
    ----------
    path : str or Path, optional
        A Keras notop ``.h5`` file of either network, or the project's quantized file;
        None for the shipped VGG19.
    arch : {None, "vgg16", "vgg19"}
        None: the file's architecture; else the one required (a file holding the other is
        refused in one line).
    pooling : {"max", "avg"}
    fast, normalized : bool
        See :func:`load_vgg19`.

    Returns
    -------
    VGG or FastVGG
    """
    if path is None and arch == "vgg16":
        raise ValueError("the project ships VGG19 weights only; fetch VGG16's with "
                         "`nst-numpy weights download vgg16`, then name it as the weights: vgg16")
    return _build(path, arch, pooling, fast, normalized)
