"""The networks with their ImageNet weights: :func:`load_vgg19`, :func:`load_vgg16`, and
:func:`load_vgg`, which takes the architecture from the file.

``load_vgg19()`` and ``VGG`` give the plain network that the docs derive and the gradient
checks use; ``stylize`` and the ``nst-numpy`` command use the fast one
(``load_vgg19(fast=True)``), which computes the same function to round-off in less time.
"""

from .fast import FastVGG
from .vgg import VGG
from .weights import load_weights


def load_vgg19(path=None, pooling="max", fast=False):
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

    Returns
    -------
    VGG or FastVGG
    """
    _, weights = load_weights(path, arch="vgg19")
    return (FastVGG if fast else VGG).vgg19(weights, pooling=pooling)


def load_vgg16(path, pooling="max", fast=False):
    """VGG16 from a Keras notop file (``nst-numpy weights download vgg16`` fetches one).

    Parameters
    ----------
    path : str or Path
        A Keras VGG16 notop ``.h5`` file (the project ships no VGG16 weights).
    pooling : {"max", "avg"}
    fast : bool
        False: the plain :class:`nst_numpy.vgg.VGG`; True: :class:`nst_numpy.fast.FastVGG`
        (see :func:`load_vgg19`).

    Returns
    -------
    VGG or FastVGG
    """
    _, weights = load_weights(path, arch="vgg16")
    return (FastVGG if fast else VGG).vgg16(weights, pooling=pooling)


def load_vgg(path=None, arch=None, pooling="max", fast=False):
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
    fast : bool
        See :func:`load_vgg19`.

    Returns
    -------
    VGG or FastVGG
    """
    if path is None and arch == "vgg16":
        raise ValueError("the project ships VGG19 weights only; fetch VGG16's with "
                         "`nst-numpy weights download vgg16` and give that file")
    found, weights = load_weights(path, arch=arch)
    return (FastVGG if fast else VGG)(weights, arch=found, pooling=pooling)
