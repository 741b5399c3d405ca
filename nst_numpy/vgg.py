"""VGG16 and VGG19 convolutional stacks (no classifier), forward and backward.

Layers are named as in Gatys et al.: ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, ...``.
The Keras names are accepted as aliases: ``block1_conv1`` is ``relu1_1`` (a Keras conv
layer includes its ReLU) and ``block1_pool`` is ``pool1``.

``features, tape = forward(x, layers)`` runs the stack up to the deepest requested layer,
one layer of :mod:`nst_numpy.layers` at a time, and records every layer's cache on the tape.
``backward(grads, tape)`` then sweeps from that layer back to the pixels, adding each
injected ``dL/d(activation)`` as it passes its layer: this is how several content and style
layers feed one image gradient, and how the *total* derivative at a shallow layer picks up
what flows back from the deeper ones (clarification 1 of docs/quiz.md). The network itself
keeps nothing between the two passes, as no layer does (cs231n's ``(out, cache)``, one
level up): the tape is all a backward pass needs.

This is the plain network, the one the docs derive and the gradient checks use.
:class:`nst_numpy.fast.FastVGG` computes the same function faster and is tested equal to it.
"""

from typing import NamedTuple

import numpy as np

from . import layers as L
from ._checks import float_array

# Number of 3x3 conv layers in each of the five blocks; every block ends in a 2x2 pool.
ARCHITECTURES = {
    "vgg16": (2, 2, 3, 3, 3),
    "vgg19": (2, 2, 4, 4, 4),
}
BLOCK_CHANNELS = (64, 128, 256, 512, 512)
POOLING = {
    "max": (L.max_pool_forward, L.max_pool_backward),
    "avg": (L.avg_pool_forward, L.avg_pool_backward),
}


def layer_names(arch="vgg19"):
    """All layer names of an architecture, input to output."""
    names = []
    for block, n_convs in enumerate(ARCHITECTURES[arch], start=1):
        for i in range(1, n_convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


def conv_shapes(arch="vgg19"):
    """{conv name: kernel shape (out, in, 3, 3)} of an architecture."""
    shapes, in_channels = {}, 3
    for block, (n_convs, out_channels) in enumerate(zip(ARCHITECTURES[arch], BLOCK_CHANNELS), 1):
        for i in range(1, n_convs + 1):
            shapes[f"conv{block}_{i}"] = (out_channels, in_channels, 3, 3)
            in_channels = out_channels
    return shapes


def layer_channels(name, arch="vgg19"):
    """The number of channels of a layer's activation (paper names): its block's."""
    block = int(name[len("pool"):]) if name.startswith("pool") else int(name[4])
    return BLOCK_CHANNELS[block - 1]


def canonical_name(name):
    """Map a Keras alias (``block1_conv1``, ``block1_pool``) to the paper name."""
    if name.startswith("block"):
        block, _, kind = name[len("block"):].partition("_")
        if kind == "pool":
            return f"pool{block}"
        if kind.startswith("conv"):
            return f"relu{block}_{kind[len('conv'):]}"
    return name


def random_weights(arch="vgg19", seed=0, dtype=np.float64):
    """{conv name: (kernel (out, in, 3, 3), bias (out,))}: random weights of the real shapes.

    He-initialised kernels, ``N(0, 2 / (9 C_in))``, keep activations of order 1 through the
    whole stack; biases ``N(0, 0.1)``. For tests, exercises and timing: the forward and
    backward passes work with any weights, and small float64 networks make fast checks.
    """
    rng = np.random.default_rng(seed)
    return {name: (rng.normal(0.0, np.sqrt(2.0 / (shape[1] * 9)), size=shape).astype(dtype),
                   rng.normal(0.0, 0.1, size=shape[0]).astype(dtype))
            for name, shape in conv_shapes(arch).items()}


class Tape(NamedTuple):
    """What a forward pass recorded for its backward pass: one (layer name, cache, output
    shape) per layer run, input to output, and the activations' dtype."""
    steps: list
    dtype: type


class VGG:
    """A VGG conv stack with fixed weights: forward to named layers, backward from any of them.

    Parameters
    ----------
    weights : dict
        ``{conv name: (kernel (out, in, 3, 3), bias (out,))}``, paper names (``conv1_1``) or
        Keras names (``block1_conv1``). Kernels act on caffe-preprocessed images: BGR
        channel order, 0-255 scale, ImageNet mean subtracted (:func:`nst_numpy.image.preprocess`).
    arch : {"vgg19", "vgg16"}
    pooling : {"max", "avg"}
        Max pooling as trained, or average pooling (Gatys et al.'s choice for synthesis).

    Attributes
    ----------
    layer_names : list of str
        Every layer, input to output: ``conv1_1, relu1_1, ..., pool5``.
    params : dict
        ``{conv name: (kernel, bias)}`` as given, checked against the architecture.

    Notes
    -----
    ``load_vgg19()`` and ``VGG`` give the plain network that the docs derive and the gradient
    checks use; ``stylize`` and the ``nst-numpy`` command use the fast one
    (``load_vgg19(fast=True)``), which computes the same function to round-off in less time.
    """

    #: Whether the weights are the normalised ones (each filter's mean activation 1 over a
    #: set of images, :mod:`nst_numpy.normalize`): False here, set True on the instance by
    #: the loaders when they build a network with ``normalized=True``.
    normalized = False
    #: Peak resident bytes of a whole float32 L-BFGS stylization, a + b * pixels, fitted by
    #: benchmarks/bench_memory.py --fit (docs/benchmarks.md, "Memory of a whole run").
    MEMORY = (213 * 2**20, 6010)

    def __init__(self, weights, arch="vgg19", pooling="max"):
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
        if pooling not in POOLING:
            raise ValueError(f"unknown pooling {pooling!r}; choose 'max' or 'avg'")
        self.arch = arch
        self.pooling = pooling
        self.layer_names = layer_names(arch)
        self.params = _checked_weights(weights, arch)
        self._params_by_dtype = {}

    @classmethod
    def vgg19(cls, weights, pooling="max", **options):
        return cls(weights, arch="vgg19", pooling=pooling, **options)

    @classmethod
    def vgg16(cls, weights, pooling="max", **options):
        return cls(weights, arch="vgg16", pooling=pooling, **options)

    def resolve(self, name):
        """Paper name of a layer, for a paper name or a Keras alias; error if unknown."""
        canonical = canonical_name(name)
        if canonical not in self.layer_names:
            raise ValueError(f"{self.arch} has no layer {name!r}; layers are {self.layer_names}")
        return canonical

    def forward(self, x, layers):
        """Activations of ``x`` at the requested layers, and the tape for :meth:`backward`.

        x: (3, H, W) caffe-preprocessed image, float32 or float64 (the output follows).
        layers: names (paper or Keras), or one name. Returns ({name as given: activation
        (C_l, H_l, W_l)}, :class:`Tape`); stops at the deepest requested layer.
        """
        x, wanted, last = _forward_arguments(self, x, layers)
        params = self._params(x.dtype)
        pool_forward = POOLING[self.pooling][0]
        activations, steps = {}, []
        for name in self.layer_names[:last + 1]:
            if name.startswith("conv"):
                # F = W * x + b: im2col and one matrix product (layers.conv2d_forward)
                x, cache = L.conv2d_forward(x, *params[name])
            elif name.startswith("relu"):
                x, cache = L.relu_forward(x)
            else:
                x, cache = pool_forward(x)
            steps.append((name, cache, x.shape))
            if name in wanted.values():
                activations[name] = x   # keep only what was asked for: memory
        return {given: activations[name] for given, name in wanted.items()}, Tape(steps, x.dtype)

    def features(self, x, layers):
        """The activations alone: ``forward(x, layers)[0]``, for targets that need no
        gradient."""
        return self.forward(x, layers)[0]

    def backward(self, grads, tape, to=None):
        """Back-propagate injected gradients to the pixels.

        grads: {layer name: dL/d(activation at that layer)}, any set of layers the forward
        pass of ``tape`` reached, each real floating point. to: optionally a layer name;
        then return the total derivative dL/d(activation of ``to``) instead of dL/dx.
        Returns dL/dx: (3, H, W) (or the activation's shape), in the activations' dtype.
        """
        injected, stop = _backward_arguments(self, grads, tape, to)
        pool_backward = POOLING[self.pooling][1]
        dout = None
        for name, cache, out_shape in reversed(tape.steps):
            if name in injected:
                # The total derivative at this layer: what flowed back from the deeper
                # layers plus the loss's own dL/dF^l here (clarification 1).
                dout = injected[name] if dout is None else dout + injected[name]
            if name == stop:
                # Nothing injected at or beyond `to`: the loss does not depend on it.
                return dout if dout is not None else np.zeros(out_shape, tape.dtype)
            if dout is None:
                continue   # deeper than every injected gradient: nothing flows yet
            if name.startswith("conv"):
                # dL/dx = col2im(W^T dL/dF)   (layers.conv2d_backward_input)
                dout = L.conv2d_backward_input(dout, cache)
            elif name.startswith("relu"):
                dout = L.relu_backward(dout, cache)
            else:
                dout = pool_backward(dout, cache)
        return dout

    def _params(self, dtype):
        """Each conv's (kernel, bias) in the input's dtype, converted once per dtype."""
        if dtype not in self._params_by_dtype:
            self._params_by_dtype[dtype] = {
                name: (k.astype(dtype, copy=False), b.astype(dtype, copy=False))
                for name, (k, b) in self.params.items()}
        return self._params_by_dtype[dtype]


# --- the checks at the network's boundary (the passes above hold only the lesson) -----------

def _checked_weights(weights, arch):
    """{conv name: (kernel, bias)} in paper names, each of the architecture's shape."""
    by_name = {}
    for key, value in weights.items():
        # A Keras key block1_conv1 names relu1_1's conv: conv1_1.
        name = canonical_name(key).replace("relu", "conv")
        by_name[name] = value
    params = {}
    for name, shape in conv_shapes(arch).items():
        if name not in by_name:
            raise ValueError(f"{arch} weights lack layer {name}; got {sorted(by_name)}")
        kernel, bias = (np.asarray(a) for a in by_name[name])
        if kernel.shape != shape or bias.shape != shape[:1]:
            raise ValueError(
                f"{arch} layer {name}: kernel {kernel.shape} and bias {bias.shape} do not "
                f"match the expected kernel {shape} (out, in, 3, 3) and bias {shape[:1]}")
        params[name] = (kernel, bias)
    return params


def _forward_arguments(model, x, layers):
    """x as a checked array, {name as given: paper name}, the deepest layer's index; one
    line for an image of the wrong shape or dtype, an unknown layer, or an image too small
    to reach the deepest layer (each pool halves the sides and needs 2 pixels)."""
    where = f"{type(model).__name__}.forward"
    x = float_array(x, "x", where)
    kernel = model.params["conv1_1"][0]
    if x.ndim != 3 or x.shape[0] != kernel.shape[1]:
        raise ValueError(f"{where}: image of shape {x.shape} does not fit the first kernel "
                         f"{kernel.shape}; expected ({kernel.shape[1]}, H, W)")
    layers = [layers] if isinstance(layers, str) else layers
    wanted = {name: model.resolve(name) for name in layers}
    if not wanted:
        raise ValueError(f"{where}: ask for at least one layer")
    last = max(model.layer_names.index(n) for n in wanted.values())
    side = min(x.shape[1:])
    for name in model.layer_names[:last + 1]:
        if name.startswith("pool"):
            if side < 2:
                raise ValueError(f"{where}: the image is too small to reach {name} (its sides "
                                 f"are {side} px before it); use a larger image or a "
                                 "shallower layer")
            side //= 2
    return x, wanted, last


def _backward_arguments(model, grads, tape, to):
    """{paper name: summed gradient in the forward's dtype}, and the paper name of ``to``
    (or None); one-line errors for what does not fit the tape."""
    where = f"{type(model).__name__}.backward"
    if not isinstance(tape, Tape):
        raise ValueError(f"{where}: pass the tape that forward returned, "
                         "features, tape = model.forward(x, layers)")
    if not grads:
        raise ValueError(f"{where}: no gradient given")
    shapes = {name: shape for name, _, shape in tape.steps}
    injected = {}
    for given, g in grads.items():
        name = model.resolve(given)
        if name not in shapes:
            raise ValueError(f"{where}: gradient given at {given!r} but the forward pass "
                             f"stopped at {tape.steps[-1][0]!r}")
        g = np.asarray(g)
        if g.dtype.kind != "f":
            raise ValueError(f"{where}: gradient at {given!r} has dtype {g.dtype}; "
                             "pass a floating-point array")
        if g.shape != shapes[name]:
            raise ValueError(f"{where}: gradient at {given!r} has shape {g.shape}; "
                             f"the activation has shape {shapes[name]}")
        g = g.astype(tape.dtype, copy=False)
        injected[name] = injected[name] + g if name in injected else g
    stop = model.resolve(to) if to is not None else None
    if stop is not None and stop not in shapes:
        raise ValueError(f"{where}: to={to!r} lies beyond the forward pass "
                         f"({tape.steps[-1][0]!r})")
    return injected, stop
