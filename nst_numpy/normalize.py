"""The normalised VGG of Gatys et al.: every filter rescaled to a mean activation of 1.

Gatys, Ecker and Bethge released, beside their papers, a VGG19 whose filters were rescaled
so that each one's mean activation (after its ReLU) over a set of images and over the
positions is 1. The network computes the same features up to one positive factor per
channel, but every layer's activations, and so every layer's Gram matrices and losses, now
have the same order of magnitude: a style weight no longer has to make up for the raw
network's layers differing by orders of magnitude.

Why a rescaling by weights alone is possible: ReLU and both poolings are *positively
homogeneous*, ``relu(s z) = s relu(z)``, ``max(s a, s b) = s max(a, b)`` and
``avg(s a) = s avg(a)`` for ``s > 0``. Write ``m_l[c] > 0`` for the mean of channel ``c``
of ``relu_l`` in the original network. If the normalised layer ``l - 1`` outputs
``a_{l-1}[i] / m_{l-1}[i]`` (with ``m_0 = 1``: the pixels are not rescaled), then the
normalised conv

    sum_i W'_l[o, i] * (a_{l-1}[i] / m_{l-1}[i]) + b'_l[o]

equals ``conv_l[o] / m_l[o]`` exactly when ``W'_l[o, i] = W_l[o, i] m_{l-1}[i] / m_l[o]`` and
``b'_l[o] = b_l[o] / m_l[o]`` (:func:`normalize_weights`). The ReLU and any pool after it
keep the factor ``1 / m_l[o]``, so by induction every conv, relu and pool layer of the
normalised network is the original one divided by ``m_l`` per channel, and over the
normalisation images its relu means are ``m_l / m_l = 1``. The same factors serve max and
average pooling, since both commute with a positive per-channel scale; they are measured
with max pooling, the network as trained.

A channel whose ReLU output is 0 at every position of every normalisation image (mean
exactly 0: "dead" on these images) cannot be brought to mean 1; it keeps the scale 1.

The images are the four JPEGs shipped in ``nst_numpy/data/`` (:data:`NORMALIZATION_IMAGES`,
licences in ``data/LICENSES.md``), each resized to :data:`NORMALIZATION_SIZE` px on its
longest side; :func:`nst_numpy.models.load_vgg19` with ``normalized=True`` builds the
network from the means (:func:`reference_means`): those of the embedded weight file are
shipped (:data:`SHIPPED_MEANS`, made by ``data/make_relu_means.py``), any other file's are
computed once per process.
"""

import functools
import os
from pathlib import Path

import numpy as np

from .image import DATA_DIR, load_image, preprocess
from .vgg import VGG, conv_shapes, layer_names
from .weights import default_weights_path, file_digest, load_weights

# The shipped images the means are taken over (see data/LICENSES.md): two photographs
# (turtle, cat) and two paintings (the Great Wave, the procedural brush strokes).
NORMALIZATION_IMAGES = ("great_wave.jpg", "green_sea_turtle.jpg", "demo_content.jpg",
                        "demo_style.jpg")
# Longest side, px. VGG19 was trained on 224 px crops of photographs rescaled to a shorter
# side of 256-512, so at 256 px objects are at about the scale the filters learned; the two
# demo images are already 256 px (no upsampling); pool5 is still 5x8 or larger; and one
# float64 pass over the four images takes a few seconds.
NORMALIZATION_SIZE = 256
# The embedded VGG19's means over those images at that size, in nst_numpy/data/ (made by
# data/make_relu_means.py; read only when its recorded provenance matches).
SHIPPED_MEANS = "vgg19_q_relu_means.npz"


def normalization_images(size=NORMALIZATION_SIZE, dtype=np.float64):
    """The shipped normalisation images, resized and caffe-preprocessed.

    Parameters
    ----------
    size : int
        Longest side in pixels (Lanczos resampling, deterministic).
    dtype : numpy dtype
        Of the returned arrays.

    Returns
    -------
    list of ndarray
        One ``(3, H, W)`` network input per name of :data:`NORMALIZATION_IMAGES`, in order.
    """
    return [preprocess(load_image(os.path.join(DATA_DIR, name), size=size), dtype)
            for name in NORMALIZATION_IMAGES]


def relu_layers(arch="vgg19"):
    """The relu layers of an architecture, input to output (one per conv)."""
    return [name.replace("conv", "relu") for name in conv_shapes(arch)]


def channel_means(model, images):
    """Mean activation of every channel of every relu layer, over positions and images.

    ``m_l[c] = (1 / K) sum_k (1 / M_l^k) sum_j F^l_{cj}(x_k)``: the mean over the
    ``M_l^k`` positions of image ``k``, then over the ``K`` images, each image counting
    once whatever its size.

    Parameters
    ----------
    model : VGG
        The network to measure (for the normalisation: the original one, max pooling).
    images : sequence of ndarray
        Caffe-preprocessed images ``(3, H, W)``; computed in their own dtype (float64 for
        reproducible means), accumulated in float64.

    Returns
    -------
    dict
        ``{relu name: float64 array (C_l,)}``, every relu layer of ``model``, input to output.
    """
    names = relu_layers(model.arch)
    images = list(images)
    if not images:
        raise ValueError("channel_means: give at least one image")
    sums = {name: np.zeros(model.params[name.replace("relu", "conv")][0].shape[0])
            for name in names}
    for x in images:
        activations = model.features(x, names)
        for name in names:
            sums[name] += activations[name].mean(axis=(1, 2), dtype=np.float64)
    return {name: total / len(images) for name, total in sums.items()}


def scales_from_means(means):
    """The factor each channel is divided by: its mean, or 1 where the mean is 0 (dead).

    Parameters
    ----------
    means : dict
        ``{relu name: array (C,)}`` from :func:`channel_means` (non-negative: ReLU outputs).

    Returns
    -------
    dict
        ``{relu name: float64 array (C,)}`` of positive scales.
    """
    scales = {}
    for name, m in means.items():
        m = np.asarray(m, dtype=np.float64)
        if not np.all(np.isfinite(m)) or np.any(m < 0):
            raise ValueError(f"{name}: channel means must be finite and >= 0")
        scales[name] = np.where(m > 0, m, 1.0)
    return scales


def layer_scales(means, arch="vgg19"):
    """Every layer's factor: the normalised activation is the original one divided by it.

    ``conv{b}_{i}`` and ``relu{b}_{i}`` share ``relu{b}_{i}``'s scale; ``pool{b}`` takes
    the scale of the last relu of block ``b`` (pooling keeps a positive per-channel factor).

    Parameters
    ----------
    means : dict
        ``{relu name: (C,)}`` from :func:`channel_means`.
    arch : {"vgg19", "vgg16"}

    Returns
    -------
    dict
        ``{layer name: float64 array (C_l,)}`` for every layer, input to output.
    """
    scales = scales_from_means(means)
    by_layer, last = {}, None
    for name in layer_names(arch):
        if name.startswith("pool"):
            by_layer[name] = last
        else:
            last = by_layer[name] = scales[name.replace("conv", "relu")]
    return by_layer


def dead_channels(means):
    """``{relu name: number of channels whose mean is exactly 0}``."""
    return {name: int(np.count_nonzero(np.asarray(m) == 0)) for name, m in means.items()}


def normalize_weights(weights, means, arch="vgg19"):
    """The weights of the normalised network: each conv rescaled by the relu means.

    Parameters
    ----------
    weights : dict
        ``{conv name: (kernel (out, in, 3, 3), bias (out,))}`` of the original network
        (paper or Keras names).
    means : dict
        ``{relu name: (out,)}`` per-channel means of the original network's relu layers
        (:func:`channel_means`); a mean of 0 (dead channel) is treated as 1.
    arch : {"vgg19", "vgg16"}

    Returns
    -------
    dict
        ``{conv name: (kernel, bias)}`` in the dtype of the given kernels and biases.
    """
    params = VGG(weights, arch=arch).params   # checked against the architecture, paper names
    scales = scales_from_means(means)
    normalized = {}
    previous = np.ones(3)   # m_0 = 1: the pixels are not rescaled
    for conv in conv_shapes(arch):
        kernel, bias = params[conv]
        relu = conv.replace("conv", "relu")
        if relu not in scales or scales[relu].shape != bias.shape:
            raise ValueError(f"means lack {relu} or have the wrong length; "
                             f"expected {bias.shape[0]} channels")
        m = scales[relu]
        # Layer l-1 now outputs a / m_{l-1} per channel; for conv_l to output conv_l / m_l:
        #   W'_l[o, i] = W_l[o, i] * m_{l-1}[i] / m_l[o],   b'_l[o] = b_l[o] / m_l[o]
        # (computed in float64, stored in the weights' own dtype).
        k = kernel.astype(np.float64) * previous[None, :, None, None] / m[:, None, None, None]
        b = bias.astype(np.float64) / m
        normalized[conv] = (k.astype(kernel.dtype), b.astype(bias.dtype))
        previous = m
    return normalized


def normalize_on_images(weights, arch="vgg19", images=None):
    """Normalise a network's weights over images: :func:`channel_means` (of the original
    network, max pooling) then :func:`normalize_weights`.

    Parameters
    ----------
    weights : dict
        ``{conv name: (kernel, bias)}`` of the original network.
    arch : {"vgg19", "vgg16"}
    images : sequence of ndarray, optional
        Caffe-preprocessed ``(3, H, W)`` images; None for :func:`normalization_images`.

    Returns
    -------
    weights : dict
        The normalised ``{conv name: (kernel, bias)}``.
    means : dict
        ``{relu name: float64 (C,)}``, the original network's means ``m_l``.
    """
    images = normalization_images() if images is None else images
    means = channel_means(VGG(weights, arch=arch, pooling="max"), images)
    return normalize_weights(weights, means, arch), means


def reference_means(path=None, arch="vgg19", size=NORMALIZATION_SIZE):
    """The relu means of a weight file's network over the shipped images.

    Read from :data:`SHIPPED_MEANS` when the file is the embedded VGG19 (by its SHA-256)
    and the images and ``size`` are those recorded there; otherwise computed once per file
    (its resolved path, modification time and size), architecture and image size in each
    process, in float64 with the plain network and max pooling. Either way a second call
    returns the same arrays (read-only).

    Parameters
    ----------
    path : str or Path, optional
        A weight file (:func:`nst_numpy.weights.load_weights`); None for the embedded VGG19.
    arch : {"vgg19", "vgg16"}
    size : int
        Longest side of the images (:func:`normalization_images`); the loaders use the
        default, :data:`NORMALIZATION_SIZE`.

    Returns
    -------
    dict
        ``{relu name: float64 array (C,)}``; :func:`dead_channels` counts its zeros.
    """
    path = Path(path).resolve() if path is not None else default_weights_path().resolve()
    if not path.is_file():
        load_weights(path, arch=arch)   # its one-line error for a missing or odd path
    stat = path.stat()
    return _reference_means(str(path), stat.st_mtime_ns, stat.st_size, arch, int(size))


@functools.lru_cache(maxsize=4)
def _reference_means(path, mtime_ns, file_size, arch, size):
    means = shipped_means(file_digest(path), size) if arch == "vgg19" else None
    if means is None:
        found, weights = load_weights(path, arch=arch)
        model = VGG(weights, arch=found, pooling="max")
        means = channel_means(model, normalization_images(size))
    for m in means.values():
        m.flags.writeable = False   # shared by every later call: nobody may change it
    return means


def _provenance(weights_sha256, size):
    """What the shipped means depend on, as text: the weight file, the size, the images."""
    images = [os.path.join(DATA_DIR, name) for name in NORMALIZATION_IMAGES]
    return {"weights_sha256": weights_sha256, "size": str(size),
            "images": "\n".join(NORMALIZATION_IMAGES),
            "image_sha256": "\n".join(file_digest(path) for path in images)}


def write_means(path, means, weights_sha256, size=NORMALIZATION_SIZE):
    """Save ``{relu name: (C,)}`` means with their provenance (data/make_relu_means.py)."""
    arrays = {name: np.asarray(m, dtype=np.float64) for name, m in means.items()}
    provenance = {key: np.array(value) for key, value in _provenance(weights_sha256,
                                                                    size).items()}
    np.savez_compressed(path, **arrays, **provenance)


def shipped_means(weights_sha256, size=NORMALIZATION_SIZE):
    """The shipped means (:data:`SHIPPED_MEANS`) if they were computed for the weight file
    of SHA-256 ``weights_sha256``, these images and ``size``; else None.

    Returns
    -------
    dict or None
        ``{relu name: float64 array (C,)}``, VGG19's relu layers in order.
    """
    path = Path(DATA_DIR) / SHIPPED_MEANS
    if not path.is_file():
        return None
    with np.load(path) as stored:   # plain arrays: np.load refuses pickled objects
        recorded = {key: str(stored[key]) for key in _provenance("", size)}
        if recorded != _provenance(weights_sha256, size):
            return None
        return {name: stored[name].copy() for name in relu_layers("vgg19")}
