"""Measuring a stylised picture: which scales changed, and how close its style came.

Quiz question 12 asks which of two pictures used 3 style layers and which 5. Looking is not
measuring, and measuring at the layers a run optimised only tells us that the optimiser
worked. The functions here measure with what an optimisation did not see:

- the **power spectrum** of the change a stylisation made (result minus content, in
  luminance), which says at what spatial frequencies, that is, at what sizes of structure,
  the picture changed: :func:`radial_power_spectrum`, :func:`low_frequency_share`;
- the **share of the content-to-style gap closed** in Gram statistics at any layer, in
  particular at layers that were not style layers: :func:`gram_per_position`,
  :func:`style_distance`, :func:`gap_closed`;
- the **receptive field** of each layer, to say which measurements mean anything at a given
  image size: :func:`receptive_fields`.

Notebook 6 (``notebooks/06_q12_style_layers.ipynb``) uses them on question 12.
"""

from collections import namedtuple

import numpy as np

from . import image as im
from . import losses


def luminance(rgb):
    """The luminance Y (NTSC/YIQ weights) of an RGB image.

    Parameters
    ----------
    rgb : array_like, (H, W, 3)
        Pixels on the 0-255 scale (uint8 or float).

    Returns
    -------
    Y : ndarray, (H, W), float64
        ``0.299 R + 0.587 G + 0.114 B``, on the 0-255 scale.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"luminance: image has shape {rgb.shape}; expected (H, W, 3) RGB")
    return rgb.astype(np.float64) @ im.RGB_TO_YIQ[0]


def luminance_difference(result, content):
    """What a stylisation changed, in luminance: ``Y(result) - Y(content)``.

    Parameters
    ----------
    result, content : array_like, (H, W, 3)
        RGB pictures of the same size, 0-255.

    Returns
    -------
    D : ndarray, (H, W), float64
    """
    result, content = np.asarray(result), np.asarray(content)
    if result.shape != content.shape:
        raise ValueError(f"luminance_difference: the result is {result.shape} but the content "
                         f"is {content.shape}; resize one to the other first")
    return luminance(result) - luminance(content)


RadialSpectrum = namedtuple("RadialSpectrum", "frequency energy count")
RadialSpectrum.__doc__ = """A power spectrum summed over rings of equal spatial frequency (from
:func:`radial_power_spectrum`): three arrays of one length, one entry per ring."""
RadialSpectrum.frequency.__doc__ = """ndarray (K,): each ring's radius in cycles per pixel, from 0
(the mean) up to about 0.707 (the corners of the spectrum, 0.5 cycles per pixel on both axes)."""
RadialSpectrum.energy.__doc__ = """ndarray (K,): the energy of the image's Fourier components in
the ring, ``sum |X_k|^2 / (H W)``; by Parseval's theorem the rings together hold ``sum x^2``."""
RadialSpectrum.count.__doc__ = """ndarray (K,): the number of Fourier components in each ring
(none is empty); ``energy / count`` is the radially averaged power."""


def radial_power_spectrum(image, ring_width=None):
    """The power spectrum of a 2-D image, summed over rings of spatial frequency.

    Parameters
    ----------
    image : array_like, (H, W)
        One channel (a luminance, or a difference of two), float.
    ring_width : float, optional
        Width of a ring in cycles per pixel; default ``1 / max(H, W)``, the spacing of the
        discrete Fourier frequencies along the longer side.

    Returns
    -------
    RadialSpectrum
        ``frequency`` (ring centres, cycles per pixel), ``energy`` and ``count`` per ring;
        rings holding no Fourier frequency are left out.

    Notes
    -----
    The discrete Fourier transform ``X = fft2(x)`` has the frequencies ``(k_y / H, k_x / W)``
    (``numpy.fft.fftfreq``), whose radius is ``f = sqrt((k_y / H)^2 + (k_x / W)^2)``. A
    component goes to the ring whose centre ``n * ring_width`` is nearest to ``f``.
    Parseval: ``sum_k |X_k|^2 / (H W) = sum x^2``, so ``energy.sum()`` is the image's
    energy. The transform treats the image as periodic: where its left and right (or top and
    bottom) edges differ, that jump spreads some energy over all frequencies.
    """
    x = np.asarray(image, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"radial_power_spectrum: image has shape {x.shape}; expected one "
                         "channel (H, W)")
    if not np.all(np.isfinite(x)):
        raise ValueError("radial_power_spectrum: the image holds NaN or infinite values")
    H, W = x.shape
    width = 1.0 / max(H, W) if ring_width is None else float(ring_width)
    if not width > 0:
        raise ValueError(f"radial_power_spectrum: ring_width must be positive, got {width}")
    power = np.abs(np.fft.fft2(x)) ** 2 / (H * W)
    radius = np.hypot(np.fft.fftfreq(H)[:, None], np.fft.fftfreq(W)[None, :])
    ring = np.rint(radius / width).astype(int).ravel()
    energy = np.bincount(ring, weights=power.ravel())
    count = np.bincount(ring)
    kept = count > 0
    return RadialSpectrum(np.flatnonzero(kept) * width, energy[kept], count[kept])


def low_frequency_share(spectrum, cutoff):
    """The share of an image's varying energy at spatial frequencies below ``cutoff``.

    Low frequencies are large structures: a pattern repeating every ``p`` pixels has the
    frequency ``1 / p`` cycles per pixel.

    Parameters
    ----------
    spectrum : RadialSpectrum
        From :func:`radial_power_spectrum`.
    cutoff : float
        In cycles per pixel, > 0.

    Returns
    -------
    share : float in [0, 1]
        ``energy(0 < f < cutoff) / energy(f > 0)``. The ring at ``f = 0`` (the image's mean,
        not a structure of any size) is left out of both; an image with no varying energy
        gives NaN.
    """
    if not cutoff > 0:
        raise ValueError(f"low_frequency_share: cutoff must be positive, got {cutoff}")
    frequency, energy = np.asarray(spectrum.frequency), np.asarray(spectrum.energy)
    varying = frequency > 0
    total = energy[varying].sum()
    if total == 0:
        return float("nan")
    return float(energy[varying & (frequency < cutoff)].sum() / total)


def gram_per_position(F):
    """A layer's Gram matrix divided by its number of positions, ``G / M_l``.

    Parameters
    ----------
    F : ndarray, (N_l, M_l) or (C, H, W)
        A layer's activation.

    Returns
    -------
    ndarray, (N_l, N_l)
        The mean co-activation of each pair of filters per position: independent of the
        image's size, so images of different sizes can be compared (docs/conventions.md).
    """
    G = losses.gram_matrix(F)          # validates F: (N, M) or (C, H, W), float32/64
    F = np.asarray(F)
    M = F.shape[1] if F.ndim == 2 else F.shape[1] * F.shape[2]
    return G / G.dtype.type(M)


def style_distance(F, F_style):
    """How far an image's style statistics at one layer are from a style image's.

    Parameters
    ----------
    F, F_style : ndarray, (N_l, M_l) or (C, H, W)
        The two images' activations at the same layer; their sizes (``M_l``) may differ.

    Returns
    -------
    float
        ``1/4 mean_ij (G_ij / M - S_ij / M_s)^2`` over the ``N_l^2`` filter pairs, with
        ``G = F F^T`` and ``S`` the style image's Gram matrix. For images of one size this
        is eq (4)'s ``E_l`` with the target rescaled as ``terms.style_targets`` does.
    """
    G, S = gram_per_position(F), gram_per_position(F_style)
    if G.shape != S.shape:
        raise ValueError(f"style_distance: {G.shape[0]} filters against {S.shape[0]}; "
                         "pass the same layer of both images")
    difference = G.astype(np.float64) - S.astype(np.float64)
    return float(np.mean(difference ** 2) / 4)


def gap_closed(F_result, F_content, F_style):
    """The share of the content-to-style gap in Gram statistics that a result closed.

    Parameters
    ----------
    F_result, F_content, F_style : ndarray, (N_l, M_l) or (C, H, W)
        The same layer's activation of the result, the content image and the style image
        (any sizes).

    Returns
    -------
    float
        ``1 - d(result, style) / d(content, style)``, ``d`` = :func:`style_distance`: 1 when
        the result's per-position Gram matrix is the style's, 0 when it is as far from it as
        the content image's, negative when it is farther.
    """
    gap = style_distance(F_content, F_style)
    if gap == 0:
        raise ValueError("gap_closed: the content and style images have the same Gram "
                         "statistics at this layer; there is no gap to close")
    return 1.0 - style_distance(F_result, F_style) / gap


def receptive_fields(layer_names):
    """The receptive field of every layer of a VGG stack, in input pixels.

    Parameters
    ----------
    layer_names : sequence of str
        Layer names from input to output (``VGG.layer_names``): ``conv*`` are 3x3
        convolutions with stride 1, ``pool*`` 2x2 poolings with stride 2, ``relu*`` change
        nothing.

    Returns
    -------
    dict
        ``{layer: side of the square patch of input pixels one unit depends on}``.

    Notes
    -----
    Let ``s`` be the distance in input pixels between neighbouring units (1 at the input).
    A 3x3 convolution widens the field by ``2 s``; a 2x2 pooling by ``s``, and doubles ``s``.
    For VGG19 this gives 3, 10, 24, 68 and 156 px at ``relu1_1`` ... ``relu5_1``.
    """
    field, step, out = 1, 1, {}
    for name in layer_names:
        if name.startswith("conv"):
            field += 2 * step
        elif name.startswith("pool"):
            field += step
            step *= 2
        out[name] = field
    return out
