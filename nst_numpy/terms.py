"""The loss terms of the objective: each owns its layers, its targets and its default weight.

Equation (7) is a weighted sum of terms, ``L = alpha L_content + beta L_style`` (plus a
smoothness term on the pixels), and this module makes each term one object:

    Content(photo, "relu4_2")              L_content, eq (1)-(2)
    GramStyle([wave], STYLE_LAYERS)        L_style, eq (3)-(5)
    GuidedGramStyle([wave, sky], masks)    L_style with one region per style image
    MRFStyle([wave])                       the patch loss of Li and Wand (2016)
    W2Style([wave])                        Wasserstein-2 between Gaussian fits of the features
    TotalVariation(10)                     a smoothness prior on the pixels
    NormalizedGradients(term)              any term, its gradient rescaled layer by layer

A term is built from its images and options, which are checked there, once (an image's
header is read, no pixel is decoded). :class:`nst_numpy.objective.Objective` then asks each
term for three things:

- ``targets(model, shape, dtype)``: what the term compares against, computed once from its
  images for an output of ``shape`` (quiz Q11: the iterations never re-read an image);
- ``loss(F, targets)``: the term's value and ``{layer: dL/dF^l}`` at its layers, from the
  closed forms of :mod:`nst_numpy.losses` and :mod:`nst_numpy.mrf` (a pixel term, such as
  total variation, gets the pixels instead of ``F``);
- ``weight_at(setting)``: its weight in eq (7), the one given or its own default.

A term also says what it costs (``memory``), and whether L-BFGS-B may optimise it
(``lbfgs``: its gradient is the loss's, and the loss has no jumps). An option that a term
does not take is simply not among its parameters: there is no rule to check.
"""

import hashlib
import os
from typing import NamedTuple

import numpy as np

from . import image as im
from . import layers as L
from . import losses, mrf, wasserstein
from . import vgg as vgg_module
from ._blas import single_threaded_blas
from ._checks import OptionError, non_negative_number, positive_number

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
MRF_LAYERS = ("relu3_1", "relu4_1")

# The default weights (docs/features.md says how each was measured, with
# benchmarks/feature_defaults.py). Gram style: beta = ratio * M_l, M_l the positions of the
# first content layer, so that content and style stay balanced at every size (see
# GramStyle.default_weight); the ratio for the original VGG and for the normalised one.
STYLE_PER_POSITION = 0.3
NORMALIZED_STYLE_PER_POSITION = 1e4
MRF_WEIGHT = 1.0
MRF_ADAM_LR = 2.0          # Adam's step for the MRF loss (optim.adam's own default is 10)
W2_STYLE_PER_POSITION = 20.0  # beta / M_l for the Wasserstein-2 loss (W2Style.default_weight)
NORMALIZED_GRADIENTS_WEIGHT = 10.0
TV_WEIGHT = 10.0
NORMALIZED_TV_WEIGHT = 1e-4
NORMALIZED_GRADIENTS_TV_WEIGHT = 1e-5


class Setting(NamedTuple):
    """Where a term is used: the model, the output's (H, W) at this level and at full size
    (they differ at the coarse levels of a pyramid), and the objective's other terms."""
    model: object
    shape: tuple
    full_shape: tuple
    terms: tuple


class Term:
    """What every term shares: its weight, the layers it reads, its kind for the history
    ("content", "style" or "tv") and the defaults it brings."""

    kind = "content"
    on_pixels = False     # a term of the pixels x (True) or of the features F (False)
    gradient = True       # what it returns is its loss's gradient
    lbfgs = True          # ... and the loss is smooth enough for L-BFGS-B's line search
    adam_lr = None        # Adam's step it calls for, if not optim.adam's default
    layers = ()

    def __init__(self, weight=None):
        self.weight = None if weight is None else non_negative_number("weight", weight)

    def default_weight(self, setting):
        return 1.0

    def weight_at(self, setting):
        """The term's weight in eq (7): the one given, or :meth:`default_weight`."""
        return self.default_weight(setting) if self.weight is None else self.weight

    def memory(self, shape, itemsize, arch="vgg19"):
        """Bytes the term's targets hold through a run with an output of ``shape``."""
        return 0

    def check_model(self, model):
        """One line if the model lacks one of the term's layers (a VGG16 has no relu3_4)."""
        for layer in self.layers:
            model.resolve(layer)

    def active(self):
        """Whether the term can contribute at all (not every layer weight zero)."""
        return True

    def sources(self):
        """The images the term reads (paths, PIL images or arrays)."""
        return []

    def network_inputs(self, shape):
        """(H, W) of each image the term runs through the network for an output of
        ``shape``, besides the output itself."""
        return []

    def targets_key(self):
        """A hashable naming everything the term's targets depend on besides the model,
        the output's shape and the dtype, so that another run may reuse them
        (:mod:`nst_numpy.batch`); None: they are computed for each run."""
        return None

    def carried_targets(self, model, targets, shape, new_shape):
        """``targets``, computed for an output of ``shape``, made to fit an output of
        ``new_shape`` without the network; None where they cannot be (here: unless the
        shapes are the same)."""
        return targets if tuple(shape) == tuple(new_shape) else None

    def min_side(self, model):
        """(pixels, why): the shortest side an output needs for this term's layers: every
        pool up to the deepest, the layer itself if it is one, halves the sides."""
        if not self.layers:
            return 1, ""
        names = model.layer_names
        deepest = max((model.resolve(l) for l in self.layers), key=names.index)
        pools = sum(n.startswith("pool") for n in names[:names.index(deepest) + 1])
        return 2 ** pools, f"reach {deepest}"


# ---------------------------------------------------------------------------
# Content, eq (1)-(2)
# ---------------------------------------------------------------------------

def content_targets(model, x_content, layers):
    """P^l: {layer: activation (N_l, H_l, W_l)} of the preprocessed content image."""
    return model.features(x_content, list(layers))


class Content(Term):
    """``L_content = sum_l v_l 1/2 ||F^l - P^l||^2``, eq (1)-(2), with the content image's
    activations ``P^l`` as targets.

    Parameters
    ----------
    image : path, PIL image, uint8 RGB array (H, W, 3), or a network input (3, H, W)
        The content image, resized to the output's shape (a network input, a float array
        as :func:`nst_numpy.image.preprocess` returns, is used as it is).
    layers : str or sequence of str
        Content layers (default ``relu4_2``), each once.
    weight : float >= 0, optional
        alpha of eq (7) (default 1).
    layer_weights : dict or sequence, optional
        v_l >= 0 per layer (default 1 each).
    relative : bool
        Divide by ``||P||^2`` (the loss is then half the squared relative error, 1/2 for a
        blank image at any layer and size: :mod:`nst_numpy.inversion`).
    transform : callable, optional
        (uint8 RGB image, output shape) -> image, applied after resizing: colour
        preservation (:mod:`nst_numpy.transfer`).
    """

    def __init__(self, image, layers=CONTENT_LAYERS, weight=None, layer_weights=None,
                 relative=False, transform=None):
        super().__init__(weight)
        self.image = image
        image_shape(image)   # one line for an image that cannot be read, no pixel decoded
        self.layers = layer_list("layers", layers)
        self.layer_weights = _per_layer("layer_weights", layer_weights, self.layers, "layers")
        self.relative, self.transform = bool(relative), transform

    def targets(self, model, shape, dtype):
        if is_network_input(self.image):
            if self.image.shape[1:] != tuple(shape):
                raise ValueError(f"the content, a network input of shape {self.image.shape}, "
                                 f"does not fit an output of {shape[0]}x{shape[1]} (a network "
                                 "input is used at its own size)")
            x = self.image.astype(dtype, copy=False)
        else:
            rgb = im.resize(im.load_image(self.image), *shape)
            x = im.preprocess(self.transform(rgb, shape) if self.transform else rgb, dtype)
        P = content_targets(model, x, self.layers)
        if self.relative:
            norm2 = sum(float(np.sum(np.square(p, dtype=np.float64))) for p in P.values())
            if not norm2 > 0:
                raise ValueError(f"the image's activation at {', '.join(self.layers)} is zero "
                                 "everywhere: there is nothing to reconstruct; choose another "
                                 "layer or image")
            return P, 1.0 / norm2
        return P, 1.0

    def loss(self, F, targets):
        P, scale = targets
        value, grads = losses.content_loss(F, P, self.layer_weights)
        return scale * value, _scaled(grads, scale)

    def weights_per_layer(self):
        """v_l per layer: as given, or 1 each (eq (2))."""
        return self.layer_weights or {layer: 1.0 for layer in self.layers}

    def active(self):
        return any(v > 0 for v in self.weights_per_layer().values())

    def sources(self):
        return [self.image]


# ---------------------------------------------------------------------------
# Style: Gram matrices, eq (3)-(5)
# ---------------------------------------------------------------------------

def positions(model, shape, layers):
    """M_l = H_l * W_l at each layer for an input of spatial shape (H, W)."""
    H, W = shape
    out, names = {}, model.layer_names
    for name in names[:max(names.index(model.resolve(l)) for l in layers) + 1]:
        if name.startswith("pool"):
            H, W = H // 2, W // 2
        out[name] = H * W
    return {layer: out[model.resolve(layer)] for layer in layers}


def style_targets(model, x_styles, layers, blend=None, output_shape=None):
    """A^l: {layer: Gram matrix (N_l, N_l)}, the blend of the style images' Grams.

    x_styles: list of preprocessed style images (3, H_s, W_s), any sizes.
    blend: one weight per style image (normalised to sum 1), or None for equal.
    output_shape: (H, W) of the image being generated. G^l = F^l F^l^T sums over the
    M_l positions, so a style image with M_l^s positions is rescaled by M_l / M_l^s:
    the target then asks for the same per-position feature correlations at any size.
    """
    blend = normalised_blend(blend, len(x_styles))
    return blended_grams(model, x_styles, {layer: dict(enumerate(blend)) for layer in layers},
                         output_shape)


def blended_grams(model, x_styles, shares, output_shape=None):
    """A^l: {layer: Gram matrix (N_l, N_l)}, at each layer the weighted mean of the Grams of
    the style images that use it (:func:`style_targets` when every image uses every layer).

    shares: {layer: {s: c_sl >= 0}}, the weight of style image s at that layer, for the
    images s that use the layer; A^l = sum_s c_sl (M_l / M_l^s) G_s^l / sum_s c_sl, each
    image run through the network to its own layers only. (A layer whose weights are all 0
    carries no weight in the loss; its target is then the images' plain mean.)
    output_shape: as for :func:`style_targets`.
    """
    M = positions(model, output_shape, list(shares)) if output_shape else None
    parts = {layer: [] for layer in shares}
    for s, x_style in enumerate(x_styles):
        used = [layer for layer, c in shares.items() if s in c]
        acts = model.features(x_style, used) if used else {}
        for layer in used:
            F, c = acts[layer], shares[layer]
            share = c[s] / sum(c.values()) if sum(c.values()) > 0 else 1.0 / len(c)
            scale = M[layer] / (F.shape[1] * F.shape[2]) if M else 1.0
            # A^l = sum_s (c_sl / sum_s' c_s'l) (M_l / M_l^s) F_s F_s^T
            parts[layer].append(losses.gram_matrix(F) * F.dtype.type(share * scale))
    targets = {}
    for layer, grams in parts.items():   # in the layers' order, as the loss sums them
        targets[layer] = grams[0]
        for gram in grams[1:]:
            targets[layer] = targets[layer] + gram
    return targets


def normalised_blend(blend, n, name="blend"):
    """One weight per style image, >= 0 with a positive sum, scaled to sum 1 (None: equal)."""
    if blend is None:
        return [1.0 / n] * n
    blend = [non_negative_number(name, b) for b in blend]
    if len(blend) != n:
        raise OptionError(f"{{{name}}} has {len(blend)} weights for {n} style images; give "
                          "one each", **{name: name})
    if sum(blend) <= 0:
        raise OptionError(f"{{{name}}} weights {blend} must have a positive sum", **{name: name})
    return [b / sum(blend) for b in blend]


class GramStyle(Term):
    """``L_style = sum_l w_l E_l``, eq (4)-(5), against the blended Gram matrices ``A^l`` of
    one or more style images.

    Scale control (Gatys et al. 2017, sec. 5): each style image may have layers of its own,
    e.g. the fine texture of one image at relu1_1 and relu2_1 and the coarse structure of
    another at relu3_1 ... relu5_1. The loss is then that of each style image at its own
    layers, blended::

        L_style = sum_s b_s sum_{l in L_s} w_sl E_l(G^l, A_s^l)
                = sum_l W_l E_l(G^l, A^l) + const,   W_l = sum_{s uses l} c_sl,  c_sl = b_s w_sl,
                                                     A^l = sum_{s uses l} c_sl A_s^l / W_l

    (the constant, the spread of the targets about their mean, does not depend on the
    pixels: it is 0 where one image uses a layer). The term computes the second form: a
    layer that several images use gets the weighted mean of their Grams, and ``blend``
    shares beta between the images whatever their layers. With every image at every layer
    it is eq (5) against the blended Grams.

    Parameters
    ----------
    styles : image or list of images
        Each resized so that its longest side is ``scale`` times the output's (a network
        input (3, H, W) is used as it is).
    layers : str, sequence of str, or one sequence per style image
        Style layers (default relu1_1 ... relu5_1), each once in a list. One list is shared
        by every style image; one list per style image (in the images' order) gives each
        its own (scale control).
    weight : float >= 0, optional
        beta of eq (7); default :meth:`default_weight`.
    layer_weights : dict or sequence, optional
        w_l >= 0 per layer, one for each layer any style image uses (a sequence is in the
        order the layers first appear), the same for every image that uses it. Default:
        w_sl = 1 / (the number of style image s's layers), so that each image's layer
        weights sum to 1 and ``blend`` alone shares beta between the images (with one list
        of layers: 1 / the number of layers, Gatys et al.'s).
    blend : sequence of float, optional
        One weight b_s per style image (default equal), normalised to sum 1.
    scale : float > 0
        The style images' size relative to the output's.
    positions_layer : str
        The layer whose positions ``M_l`` the default weight is proportional to: the first
        content layer (relu4_2 by default).
    transform : callable, optional
        (uint8 RGB image, output shape) -> image, applied to each style image after
        resizing: colour preservation (:mod:`nst_numpy.transfer`).
    """

    kind = "style"

    def __init__(self, styles, layers=STYLE_LAYERS, weight=None, layer_weights=None, blend=None,
                 scale=1.0, positions_layer=CONTENT_LAYERS[0], transform=None):
        super().__init__(weight)
        self.styles = _images("styles", styles)
        self.layers, own = style_layer_lists("layers", layers)
        if own is not None and len(own) != len(self.styles):
            n = len(self.styles)
            raise OptionError(f"{{layers}} has {len(own)} lists of layers for {n} style "
                              f"image{'s' if n != 1 else ''}; give one list for every style "
                              "image, or one per style image", layers="layers")
        self.style_layers = own or [self.layers] * len(self.styles)
        self.layer_weights = _per_layer("layer_weights", layer_weights, self.layers, "layers")
        self.blend = normalised_blend(blend, len(self.styles))
        self.scale = positive_number("scale", scale)
        self.positions_layer = layer_list("positions_layer", positions_layer)[0]
        self.transform = transform
        self.shares = self._shares()

    def default_weight(self, setting):
        """beta = ratio * M_l at the output's full size, M_l = H_l W_l at ``positions_layer``.

        L_content = 1/2 sum (F - P)^2 sums over the M_l positions of the content layer, so
        it grows with the image's area, while E_l divides by M_l^2 and does not. Scaling
        beta with M_l keeps their balance, so one ratio suits every size: STYLE_PER_POSITION
        (0.3: at 256 px the turtle stays clear under the Great Wave's strokes; 1 and 5 bury
        it in waves), or NORMALIZED_STYLE_PER_POSITION for a normalised VGG. With normalised
        gradients (:class:`NormalizedGradients`) only the weights' ratio counts: a constant.
        """
        ratio = (NORMALIZED_STYLE_PER_POSITION if getattr(setting.model, "normalized", False)
                 else STYLE_PER_POSITION)
        return ratio * self._positions(setting.model, setting.full_shape)

    def weight_at(self, setting):
        """beta at this level: the full size's, times M_l(level) / M_l(full size), which
        keeps content and style in the same balance at every level of a pyramid."""
        beta = super().weight_at(setting)
        return beta * (self._positions(setting.model, setting.shape)
                       / self._positions(setting.model, setting.full_shape))

    def _positions(self, model, shape):
        return positions(model, shape, [self.positions_layer])[self.positions_layer]

    def style_images(self, shape, dtype):
        """The preprocessed style images (3, H_s, W_s) for an output of ``shape``: each
        resized (a network input is used at its own size), recoloured by ``transform``."""
        side = max(1, round(self.scale * max(shape)))
        return [s.astype(dtype, copy=False) if is_network_input(s) else
                im.preprocess(self._recoloured(im.resize_longest(im.load_image(s), side), shape),
                              dtype)
                for s in self.styles]

    def _recoloured(self, rgb, shape):
        return self.transform(rgb, shape) if self.transform else rgb

    def targets(self, model, shape, dtype):
        return blended_grams(model, self.style_images(shape, dtype), self.shares,
                             output_shape=shape)

    def loss(self, F, A):
        return losses.style_loss(F, A, self.weights_per_layer())

    def targets_key(self):
        """The term's class, style images, scale and layer shares; None for a style
        recoloured to each content (``transform``), an image without a key, or a subclass
        whose own ``targets`` may depend on more but that does not say so (it must define
        or adopt ``targets_key`` too)."""
        images = tuple(source_key(s) for s in self.styles)
        if self.transform is not None or None in images or not _says_its_key(type(self)):
            return None
        shares = tuple(sorted((layer, tuple(sorted(c.items())))
                              for layer, c in self.shares.items()))
        return (type(self), images, self.scale, shares)

    def carried_targets(self, model, A, shape, new_shape):
        """The style images depend only on the output's longest side, and ``A^l`` on its
        positions linearly (:func:`style_targets`): for the same longest side,
        ``A^l(new_shape) = A^l(shape) M_l(new_shape) / M_l(shape)``, whatever the aspect
        ratio."""
        if max(shape) != max(new_shape):
            return None
        M, M_before = (positions(model, s, self.layers) for s in (new_shape, shape))
        return {layer: a * a.dtype.type(M[layer] / M_before[layer]) for layer, a in A.items()}

    def _shares(self):
        """{layer: {s: c_sl}}: c_sl = b_s w_sl for each style image s that uses the layer
        (w_sl as given, or 1 / the number of image s's layers)."""
        shares = {layer: {} for layer in self.layers}
        for s, (b, own) in enumerate(zip(self.blend, self.style_layers)):
            for layer in own:
                w = self.layer_weights[layer] if self.layer_weights is not None else \
                    1.0 / len(own)
                shares[layer][s] = b * w
        return shares

    def weights_per_layer(self):
        """W_l per layer, eq (5)'s w_l: the sum of c_sl over the images that use the layer;
        with one list of layers, w_l as given or 1 / the number of layers (Gatys et al.)."""
        return {layer: sum(c.values()) for layer, c in self.shares.items()}

    def shared_layers(self):
        """Whether every style image uses every layer (no scale control)."""
        return all(len(c) == len(self.styles) for c in self.shares.values())

    def _one_set_of_layers(self, what):
        """One line if the style images have layers of their own, which ``what`` lacks."""
        if not self.shared_layers():
            raise OptionError(f"{{layers}} per style image (scale control) does not apply "
                              f"with {what}; give one list of layers for every style image",
                              layers="layers")

    def active(self):
        return any(w > 0 for w in self.weights_per_layer().values())

    def sources(self):
        return list(self.styles)

    def network_inputs(self, shape):
        return self.style_shapes(shape)

    def memory(self, shape, itemsize, arch="vgg19"):
        """The style images, as uint8 and as network inputs."""
        return sum(3 * (1 + itemsize) * h * w for h, w in self.style_shapes(shape))

    def style_shapes(self, shape):
        """(H_s, W_s) of each style image for an output of ``shape``, from the headers."""
        side = self.scale * max(shape)
        return [(h * side / max(h, w), w * side / max(h, w))
                if not is_network_input(s) else s.shape[1:]
                for s, (h, w) in zip(self.styles, map(image_shape, self.styles))]


# ---------------------------------------------------------------------------
# Spatial control: guided Gram matrices (Gatys et al. 2017)
# ---------------------------------------------------------------------------

def layer_guides(model, masks, layers):
    """{layer: [t_r (M_l,)]}: each region's mask (H, W), values in [0, 1] at the output's size,
    carried to every layer's grid. A 3x3 convolution with padding 1 keeps the grid, so only
    the pooling layers change it: each averages the mask over its 2x2 windows, as
    :func:`nst_numpy.layers.avg_pool_forward` does, which keeps grey levels as fractions
    of a window covered. A mask that is black at some layer's grid is refused in one line.
    """
    names, wanted = model.layer_names, {model.resolve(l): l for l in layers}
    grids, guides = np.stack([np.asarray(m, dtype=np.float64) for m in masks]), {}
    for name in names[:max(names.index(n) for n in wanted) + 1]:
        if name.startswith("pool"):
            grids, _ = L.avg_pool_forward(grids)
        if name in wanted:
            for r, grid in enumerate(grids, start=1):
                if not grid.any():
                    raise ValueError(f"mask {r} is black everywhere on {name}'s "
                                     f"{grid.shape[1]}x{grid.shape[0]} grid: its region gets "
                                     "no style; make it larger or drop that layer")
            guides[wanted[name]] = [grid.reshape(-1) for grid in grids]
    return guides


def guided_style_targets(model, x_styles, layers, guides):
    """{layer: [A_r]}: region r's target is style image r's Gram matrix, rescaled to the
    region's weight of positions ``M_r = sum_k t_rk^2`` on that layer (as
    :func:`style_targets` rescales to the output's M_l): the same per-position feature
    correlations, inside the region only. x_styles: one preprocessed image per region."""
    targets = {layer: [] for layer in layers}
    for r, x_style in enumerate(x_styles):
        acts = model.features(x_style, list(layers))
        for layer in layers:
            F = acts[layer]
            t = guides[layer][r]
            # A_r = (M_r / M_l^s) F_s F_s^T
            scale = F.dtype.type(np.sum(t * t) / (F.shape[1] * F.shape[2]))
            targets[layer].append(losses.gram_matrix(F) * scale)
    return targets


class GuidedGramStyle(GramStyle):
    """Spatial control: style image r paints where mask r is white. Each region's Gram
    matrices are guided by its mask (:func:`nst_numpy.losses.guided_style_loss`), the
    regions weighed by ``blend``; the parameters are :class:`GramStyle`'s and ``masks``.

    masks : list, one per style image
        Black-and-white or greyscale images of any size, or float (H, W) arrays in [0, 1]
        (:func:`nst_numpy.image.load_mask`), stretched to the output's size.
    """

    def __init__(self, styles, masks, layers=STYLE_LAYERS, weight=None, layer_weights=None,
                 blend=None, scale=1.0, positions_layer=CONTENT_LAYERS[0], transform=None):
        super().__init__(styles, layers, weight, layer_weights, blend, scale, positions_layer,
                         transform)
        self._one_set_of_layers("masks")
        # one mask alone (a path, a picture, an array) or a sequence of them
        self.masks = list(masks) if isinstance(masks, (list, tuple)) else [masks]
        if len(self.masks) != len(self.styles):
            n = len(self.masks)
            raise OptionError(f"{{masks}} has {n} mask{'s' if n != 1 else ''} for "
                              f"{len(self.styles)} style images; give one mask per style image, "
                              "in the same order", masks="masks")
        for mask in self.masks:   # a mask that cannot be read or used fails here
            im.load_mask(mask, 1, 1)

    def targets(self, model, shape, dtype):
        guides = layer_guides(model, [im.load_mask(m, *shape) for m in self.masks], self.layers)
        return (guided_style_targets(model, self.style_images(shape, dtype), self.layers, guides),
                guides)

    def loss(self, F, targets):
        A, guides = targets
        return losses.guided_style_loss(F, A, self.layer_weights, guides=guides,
                                        region_weights=self.blend)

    def sources(self):
        return [*self.styles, *self.masks]

    def targets_key(self):
        key, masks = super().targets_key(), tuple(source_key(m) for m in self.masks)
        return None if key is None or None in masks else (key, masks)

    carried_targets = Term.carried_targets   # the guides are the masks at the output's shape

    def memory(self, shape, itemsize, arch="vgg19"):
        """The style images; each mask and its grid at every layer (float64, at most
        8 * 4/3 bytes a pixel); one region's weighted features at relu1_1 at a time."""
        H, W = shape
        masks = len(self.masks) * 8 * (1 + 4 / 3) * H * W
        return super().memory(shape, itemsize, arch) + masks + 2 * 64 * itemsize * H * W


# ---------------------------------------------------------------------------
# Style: MRF patches (Li and Wand 2016)
# ---------------------------------------------------------------------------

class MRFStyle(GramStyle):
    """``L_mrf = sum_l w_l E_l``, each 3x3 patch of features pulled towards the style's
    nearest (:func:`nst_numpy.mrf.mrf_loss`); the patches of every style image alike.

    Parameters are :class:`GramStyle`'s without ``blend`` (patches are matched, not
    averaged); layers default to relu3_1 and relu4_1, the weight to :data:`MRF_WEIGHT`.
    The loss jumps where a patch's match changes, so L-BFGS-B's line search fails on it
    (at 128 px it gave up after 8 of 60 iterations): Adam, step :data:`MRF_ADAM_LR`.
    """

    lbfgs = False
    adam_lr = MRF_ADAM_LR

    def __init__(self, styles, layers=MRF_LAYERS, weight=None, layer_weights=None, scale=1.0,
                 transform=None):
        super().__init__(styles, layers, weight, layer_weights, None, scale, transform=transform)
        self._one_set_of_layers("the MRF loss")

    def default_weight(self, setting):
        """:data:`MRF_WEIGHT`: E_l sums over positions as the content loss does, so one
        weight keeps their balance at every size."""
        return MRF_WEIGHT

    def weight_at(self, setting):
        return Term.weight_at(self, setting)

    def min_side(self, model):
        """A 3x3 patch at the deepest layer: three times what reaching it takes."""
        pixels, why = super().min_side(model)
        return 3 * pixels, why.replace("reach", "hold a 3x3 patch of")

    def targets(self, model, shape, dtype):
        acts = [model.features(x, self.layers) for x in self.style_images(shape, dtype)]
        return {layer: mrf.mrf_target([a[layer] for a in acts]) for layer in self.layers}

    def loss(self, F, targets):
        return mrf.mrf_loss(F, targets, self.layer_weights)

    targets_key = GramStyle.targets_key   # its patches depend on what Grams depend on

    def carried_targets(self, model, targets, shape, new_shape):
        """The style's patches depend only on the output's longest side."""
        return targets if max(shape) == max(new_shape) else None

    def memory(self, shape, itemsize, arch="vgg19"):
        """The style images and every one's 3x3 patches at each layer, with their norms."""
        names = vgg_module.layer_names(arch)
        total = super().memory(shape, itemsize, arch)
        for layer in self.layers:
            name = vgg_module.canonical_name(layer)
            if name not in names:
                continue   # refused by the model, in one line, once it is loaded
            pools = sum(n.startswith("pool") for n in names[:names.index(name) + 1])
            channels = vgg_module.layer_channels(name)
            for h, w in self.style_shapes(shape):
                patches = max(0, int(h) // 2**pools - 2) * max(0, int(w) // 2**pools - 2)
                total += patches * (channels * 9 + 1) * itemsize
        return total


# ---------------------------------------------------------------------------
# Style: Wasserstein-2 between Gaussian fits of the features
# ---------------------------------------------------------------------------

class W2Style(GramStyle):
    """``L_w2 = sum_l w_l E_l``, ``E_l`` the squared Wasserstein-2 distance between the
    Gaussian fits (mean and covariance over positions) of the output's and the style's
    features (:func:`nst_numpy.wasserstein.w2_layer_loss`).

    Parameters are :class:`GramStyle`'s (several style images make one Gaussian, the fit of
    their blended features), and

    ridge : float > 0
        Both covariances get ``ridge * tr(C_s) / N_l`` added to their diagonal, which keeps
        a singular covariance differentiable (default :data:`nst_numpy.wasserstein.RIDGE`).
    """

    def __init__(self, styles, layers=STYLE_LAYERS, weight=None, layer_weights=None, blend=None,
                 scale=1.0, positions_layer=CONTENT_LAYERS[0], transform=None,
                 ridge=wasserstein.RIDGE):
        super().__init__(styles, layers, weight, layer_weights, blend, scale, positions_layer,
                         transform)
        self.ridge = positive_number("ridge", ridge)

    def default_weight(self, setting):
        """beta = :data:`W2_STYLE_PER_POSITION` * M_l, M_l the positions of
        ``positions_layer`` at full size. E_l is a mean squared displacement per position,
        so ``M_l E_l`` is a sum over positions, as the content loss is (docs/features.md)."""
        return W2_STYLE_PER_POSITION * self._positions(setting.model, setting.full_shape)

    def targets(self, model, shape, dtype):
        acts = [model.features(x, self.layers) for x in self.style_images(shape, dtype)]
        with single_threaded_blas():
            return {layer: wasserstein.w2_target([a[layer] for a in acts], self.blend,
                                                 self.ridge)
                    for layer in self.layers}

    def targets_key(self):
        key = super().targets_key()
        return None if key is None else (key, self.ridge)

    def carried_targets(self, model, targets, shape, new_shape):
        """The style's mean and covariance depend only on the output's longest side."""
        return targets if max(shape) == max(new_shape) else None

    def loss(self, F, targets):
        """:func:`nst_numpy.wasserstein.w2_loss`, its eigensolver on one BLAS thread: with
        more, it slowed down tenfold on a busy machine (docs/benchmarks.md)."""
        with single_threaded_blas():
            return wasserstein.w2_loss(F, targets, self.layer_weights)

    def memory(self, shape, itemsize, arch="vgg19"):
        """The style images, and the centred features of one layer at a time, the largest
        being the shallowest's (N_l H_l W_l values)."""
        names = vgg_module.layer_names(arch)
        H, W = shape
        centred = 0
        for layer in self.layers:
            name = vgg_module.canonical_name(layer)
            if name in names:   # else refused by the model, in one line, once it is loaded
                pools = sum(n.startswith("pool") for n in names[:names.index(name) + 1])
                centred = max(centred, vgg_module.layer_channels(name) * (H // 2**pools)
                              * (W // 2**pools) * itemsize)
        return super().memory(shape, itemsize, arch) + centred


# ---------------------------------------------------------------------------
# Total variation, on the pixels
# ---------------------------------------------------------------------------

class TotalVariation(Term):
    """``L_tv``, the squared differences of neighbouring pixels
    (:func:`nst_numpy.losses.total_variation_loss`), a smoothness prior.

    weight : float >= 0, optional
        Default :data:`TV_WEIGHT`; :data:`NORMALIZED_TV_WEIGHT` with a normalised VGG
        (whose content loss is some 1e5 times smaller), and
        :data:`NORMALIZED_GRADIENTS_TV_WEIGHT` beside normalised gradients (whose pixel
        gradients are some 1e8 times smaller); docs/features.md.
    per_pixel : bool
        Divide by the H W pixels (the TV sum grows with the area: a per-pixel weight suits
        every size, as :mod:`nst_numpy.inversion` needs).
    """

    kind = "tv"
    on_pixels = True

    def __init__(self, weight=None, per_pixel=False):
        super().__init__(weight)
        self.per_pixel = bool(per_pixel)

    def default_weight(self, setting):
        if any(isinstance(t, NormalizedGradients) for t in setting.terms):
            return NORMALIZED_GRADIENTS_TV_WEIGHT
        return NORMALIZED_TV_WEIGHT if getattr(setting.model, "normalized", False) else TV_WEIGHT

    def weight_at(self, setting):
        H, W = setting.shape
        return super().weight_at(setting) / (H * W if self.per_pixel else 1)

    def targets(self, model, shape, dtype):
        return None

    def loss(self, x, targets):
        return losses.total_variation_loss(x)


# ---------------------------------------------------------------------------
# Normalised gradients (Johnson's neural-style option)
# ---------------------------------------------------------------------------

class NormalizedGradients(Term):
    """``term`` with each layer's gradient rescaled to L1 norm ``v_l`` (its layer weight)
    before the backward pass (:func:`nst_numpy.losses.normalize_layer_gradients`), so that
    every layer pushes the pixels equally hard whatever the size of its loss.

    The result is no longer the loss's gradient: L-BFGS-B's line search cannot use it, and
    the loss need not fall (the run keeps its last picture, not the lowest loss). A style
    term's default weight becomes :data:`NORMALIZED_GRADIENTS_WEIGHT`.
    """

    gradient = lbfgs = False

    def __init__(self, term):
        if not isinstance(term, Term) or term.on_pixels:
            raise ValueError("NormalizedGradients wraps a term of the features (Content, "
                             f"GramStyle, ...), not {type(term).__name__}")
        self.term = term
        self.weight, self.kind, self.layers = term.weight, term.kind, term.layers
        self.adam_lr = term.adam_lr

    def default_weight(self, setting):
        return NORMALIZED_GRADIENTS_WEIGHT if self.kind == "style" else 1.0

    def targets(self, model, shape, dtype):
        return self.term.targets(model, shape, dtype)

    def loss(self, F, targets):
        value, grads = self.term.loss(F, targets)
        return value, losses.normalize_layer_gradients(grads, self.term.weights_per_layer())

    def memory(self, shape, itemsize, arch="vgg19"):
        return self.term.memory(shape, itemsize, arch)

    def targets_key(self):
        return self.term.targets_key()

    def carried_targets(self, model, targets, shape, new_shape):
        return self.term.carried_targets(model, targets, shape, new_shape)

    def active(self):
        return self.term.active()

    def sources(self):
        return self.term.sources()

    def network_inputs(self, shape):
        return self.term.network_inputs(shape)

    def min_side(self, model):
        return self.term.min_side(model)


# ---------------------------------------------------------------------------
# The style losses stylize offers (its style_loss option), without and with masks
# ---------------------------------------------------------------------------

STYLE_LOSSES = {"gram": GramStyle, "mrf": MRFStyle, "w2": W2Style}
GUIDED_STYLE_LOSSES = {"gram": GuidedGramStyle}


# ---------------------------------------------------------------------------
# Argument helpers
# ---------------------------------------------------------------------------

def _images(name, images):
    """A list of at least one image from one image or a sequence of them, each readable."""
    images = list(images) if isinstance(images, (list, tuple)) else [images]
    if not images:
        raise OptionError(f"give at least one image in {{{name}}}", **{name: name})
    for image in images:
        image_shape(image)   # one line for an image that cannot be read, no pixel decoded
    return images


def is_network_input(image):
    """Whether ``image`` is already a network input: a float array (3, H, W), as the
    notebooks' random images are (:func:`nst_numpy.image.preprocess` makes one)."""
    return (isinstance(image, np.ndarray) and image.dtype.kind == "f" and image.ndim == 3
            and image.shape[0] == 3)


def source_key(image):
    """A hashable naming an image's content: a path with its size and time of change, or
    the digest of an array's or a PIL image's pixels; None for a path that cannot be read."""
    if isinstance(image, (str, os.PathLike)):
        try:
            stat = os.stat(image)
        except OSError:
            return None
        return os.path.abspath(image), stat.st_size, stat.st_mtime_ns
    if isinstance(image, np.ndarray):
        pixels, described = np.ascontiguousarray(image), (image.shape, str(image.dtype))
    else:   # a PIL image; a palette image's pixels are indices into its palette
        pixels = image.tobytes() + bytes(image.getpalette() or [])
        described = (image.mode, image.size)
    return described, hashlib.sha256(pixels).hexdigest()


def _says_its_key(cls):
    """Whether ``cls``'s ``targets_key`` comes from the class of its ``targets`` or a class
    derived from it (not from a parent whose ``targets`` it replaced)."""
    def owner(name):
        return next(i for i, c in enumerate(cls.__mro__) if name in vars(c))
    return owner("targets_key") <= owner("targets")


def image_shape(image):
    """(H, W) of an image a term reads, from its header alone, or of a network input."""
    return image.shape[1:] if is_network_input(image) else im.image_size(image)


def _per_layer(name, weights, layers, layers_name):
    """{layer: weight >= 0} from a dict (one entry per layer) or a sequence (in layer order);
    None stays None (the loss's own default)."""
    if weights is None:
        return None
    if not isinstance(weights, dict):
        weights = list(weights)
        if len(weights) != len(layers):
            raise OptionError(f"{{{name}}} has {len(weights)} values for {len(layers)} layers "
                              f"in {{{layers_name}}}; give one per layer",
                              **{name: name, layers_name: layers_name})
        weights = dict(zip(layers, weights))
    if set(weights) != set(layers):
        raise OptionError(f"{{{name}}} has layers {sorted(weights)} but {{{layers_name}}} are "
                          f"{list(layers)}; give one weight per layer",
                          **{name: name, layers_name: layers_name})
    return {layer: non_negative_number(name, w, where=f"[{layer!r}]")
            for layer, w in weights.items()}


def layer_list(name, layers):
    """A list of layer names from one name or a sequence of them: each a layer of VGG19
    (paper or Keras names; a VGG16 lacks a few, which the model refuses once loaded), and
    each once (an alias names the same layer as its paper name)."""
    if not isinstance(layers, (str, list, tuple)):
        raise OptionError(f"{{{name}}} must be layer names such as 'relu4_2' (a str or a list "
                          f"of them), got {OptionError.literal(_shown(layers))}", **{name: name})
    layers = [layers] if isinstance(layers, str) else list(layers)
    if not layers:
        raise OptionError(f"{{{name}}} is empty; name at least one layer", **{name: name})
    known, seen = vgg_module.layer_names("vgg19"), {}
    for layer in layers:
        if not isinstance(layer, str):
            raise OptionError(f"{{{name}}} must be layer names such as 'relu4_2', got "
                              f"{OptionError.literal(repr(layer))}", **{name: name})
        canonical = vgg_module.canonical_name(layer)
        if canonical not in known:
            raise OptionError(f"{{{name}}}: no layer {OptionError.literal(repr(layer))}; layers "
                              "are conv1_1, relu1_1, ..., pool1, ..., relu5_4, pool5 (or Keras "
                              "names such as block3_conv1)", **{name: name})
        if canonical in seen:
            raise OptionError(f"{{{name}}} names {canonical} twice "
                              f"({OptionError.literal(repr(seen[canonical]))} and "
                              f"{OptionError.literal(repr(layer))}); name each layer once",
                              **{name: name})
        seen[canonical] = layer
    return layers


def style_layer_lists(name, layers):
    """(every layer, per image): style layers from one list (shared by every style image, in
    :func:`layer_list`'s forms; per image: None) or one list per style image, each checked
    by :func:`layer_list` (one list inside a list is shared too). ``every layer``: each
    layer any image uses, once, in the order they first appear; a layer that two lists
    name by different aliases takes its first spelling in both."""
    if isinstance(layers, (list, tuple)) and len(layers) > 1 and \
            all(isinstance(own, (list, tuple)) for own in layers):
        for k, own in enumerate(layers, start=1):
            if not own:
                raise OptionError(f"{{{name}}}: the list of style image {k} is empty; name at "
                                  "least one layer for each style image", **{name: name})
        lists = [layer_list(name, own) for own in layers]
        spelled = {}
        for own in lists:
            for layer in own:
                spelled.setdefault(vgg_module.canonical_name(layer), layer)
        return (list(spelled.values()),
                [[spelled[vgg_module.canonical_name(layer)] for layer in own] for own in lists])
    if isinstance(layers, (list, tuple)) and len(layers) == 1 and \
            isinstance(layers[0], (list, tuple)):
        layers = layers[0]
    return layer_list(name, layers), None


def _shown(value):
    """A value as a message may show it: short (an array is not printed whole)."""
    import reprlib
    return reprlib.repr(value)


def _scaled(grads, scale):
    """{layer: scale * g}, each in its own dtype."""
    if scale == 1.0:
        return grads
    return {layer: g * g.dtype.type(scale) for layer, g in grads.items()}
