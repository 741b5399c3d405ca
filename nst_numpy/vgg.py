"""VGG16 and VGG19 convolutional stacks (no classifier), forward and backward.

Layers are named as in Gatys et al.: ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, ...``.
The Keras names are accepted as aliases: ``block1_conv1`` is ``relu1_1`` (a Keras conv
layer includes its ReLU) and ``block1_pool`` is ``pool1``.

``forward(x, layers)`` runs the stack up to the deepest requested layer and keeps every
layer's cache. ``backward(grads)`` then sweeps from that layer back to the pixels,
adding each injected ``dL/d(activation)`` as it passes its layer: this is how several
content and style layers feed one image gradient, and how the *total* derivative at a
shallow layer picks up what flows back from the deeper ones (quiz erratum 5).
"""

import functools
import threading

import numpy as np

from . import layers as L
from ._checks import FLOAT_DTYPES, float_array
from . import winograd
from .parallel import single_threaded_blas

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
# The same convolution two ways: "im2col" is the one the docs derive (and the default);
# "winograd" does 4 multiply-adds per output instead of 9 (docs/benchmarks.md).
CONV_IMPLS = {
    "im2col": (L.conv2d_forward, L.conv2d_backward_input),
    "winograd": (winograd.conv2d_forward, winograd.conv2d_backward_input),
}
# Winograd's transforms cost more than they save on the 3-channel first layer (measured
# by benchmarks/bench_layers.py): conv1_1 stays im2col, which is cheap there (27-row cols).
WINOGRAD_MIN_CHANNELS = 16


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


def canonical_name(name):
    """Map a Keras alias (``block1_conv1``, ``block1_pool``) to the paper name."""
    if name.startswith("block"):
        block, _, kind = name[len("block"):].partition("_")
        if kind == "pool":
            return f"pool{block}"
        if kind.startswith("conv"):
            return f"relu{block}_{kind[len('conv'):]}"
    return name


def _cores_to_the_bands(method):
    """Run a pass with single-threaded BLAS when the Winograd convolutions are in use.

    They put every core to work themselves (bands in threads, :mod:`nst_numpy.parallel`);
    BLAS threads left spinning between layers would only compete with them (measured
    about 7% slower at 256 px). The im2col convolutions rely on multithreaded BLAS.
    """
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        if self.conv_impl == "im2col":
            return method(self, *args, **kwargs)
        with single_threaded_blas():
            return method(self, *args, **kwargs)
    return run


class VGG:
    """A VGG conv stack with fixed weights.

    weights: dict conv name -> (kernel (out, in, 3, 3), bias (out,)). Keras names
    (``block1_conv1``) are accepted as keys too. Kernels act on caffe-preprocessed
    images: BGR channel order, 0-255 scale, ImageNet mean subtracted.
    pooling: "max" (as trained) or "avg" (Gatys et al.'s choice for synthesis).
    conv_impl: "im2col" (the plain convolution of :mod:`layers`) or "winograd" (the fast
    one of :mod:`winograd`, ReLUs and max pools fused in; equal up to round-off).

    Threads: one model may be shared by several threads. Each thread's :meth:`forward`
    keeps its caches for that thread's :meth:`backward` only (thread-local state), so
    passes in different threads never see each other's.
    """

    def __init__(self, weights, arch="vgg19", pooling="max", conv_impl="im2col"):
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
        if pooling not in POOLING:
            raise ValueError(f"unknown pooling {pooling!r}; choose 'max' or 'avg'")
        if conv_impl not in CONV_IMPLS:
            raise ValueError(f"unknown conv_impl {conv_impl!r}; choose one of {sorted(CONV_IMPLS)}")
        self.arch = arch
        self.pooling = pooling
        self.conv_impl = conv_impl
        self.layer_names = layer_names(arch)
        self.params = self._check_weights(weights, arch)
        self._impl_of = {  # conv name -> the implementation it runs with
            name: "im2col" if k.shape[1] < WINOGRAD_MIN_CHANNELS else conv_impl
            for name, (k, _) in self.params.items()}
        self._params_by_dtype = {}
        self._thread = threading.local()   # .caches: this thread's last forward

    @classmethod
    def vgg19(cls, weights, pooling="max", conv_impl="im2col"):
        return cls(weights, arch="vgg19", pooling=pooling, conv_impl=conv_impl)

    @classmethod
    def vgg16(cls, weights, pooling="max", conv_impl="im2col"):
        return cls(weights, arch="vgg16", pooling=pooling, conv_impl=conv_impl)

    @staticmethod
    def _check_weights(weights, arch):
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

    def _params(self, dtype):
        """Each conv's arguments after x, in the input's dtype, prepared once per dtype:
        (kernel, bias), plus for Winograd the transformed kernel and flipped kernel."""
        if dtype not in self._params_by_dtype:
            params = {name: (k.astype(dtype, copy=False), b.astype(dtype, copy=False))
                      for name, (k, b) in self.params.items()}
            for name, (k, b) in params.items():
                if self._impl_of[name] == "winograd":
                    params[name] = (k, b, winograd.kernel_transform(k),
                                    winograd.kernel_transform(winograd.flip_kernel(k)))
            self._params_by_dtype[dtype] = params
        return self._params_by_dtype[dtype]

    def _winograd_conv_takes_over(self, index, injected, stop):
        """Whether layer ``index`` of the last forward, a ReLU or a pool after one, may leave
        its backward to the conv below: a Winograd conv, with no gradient injected at the
        layers in between and ``to`` not stopping there."""
        # (the caches follow self.layer_names from its start)
        n_below = 2 if self.layer_names[index].startswith("pool") else 1   # (conv, ReLU) or conv
        below = self.layer_names[index - n_below:index]
        return (self._impl_of[below[0]] == "winograd"
                and not any(name in injected or name == stop for name in below))

    def resolve(self, name):
        """Paper name of a layer, for a paper name or a Keras alias; error if unknown."""
        canonical = canonical_name(name)
        if canonical not in self.layer_names:
            raise ValueError(f"{self.arch} has no layer {name!r}; layers are {self.layer_names}")
        return canonical

    @_cores_to_the_bands
    def forward(self, x, layers):
        """Activations of ``x`` at the requested layers.

        x: (3, H, W) caffe-preprocessed image, float32 or float64 (the output follows).
        layers: names (paper or Keras). Returns {name as given: activation (C_l, H_l, W_l)}.
        Stops at the deepest requested layer and keeps the caches for :meth:`backward`.
        """
        x = float_array(x, "x", "VGG.forward")
        in_channels = self.params["conv1_1"][0].shape[1]
        if x.ndim != 3 or x.shape[0] != in_channels:
            raise ValueError(
                f"VGG.forward: image of shape {x.shape} does not fit the first kernel "
                f"{self.params['conv1_1'][0].shape}; expected ({in_channels}, H, W)")
        layers = [layers] if isinstance(layers, str) else layers
        wanted = {name: self.resolve(name) for name in layers}
        if not wanted:
            raise ValueError("VGG.forward: ask for at least one layer")
        last = max(self.layer_names.index(n) for n in wanted.values())
        params = self._params(x.dtype)
        pool_forward = POOLING[self.pooling][0]

        activations, caches = {}, []
        names = self.layer_names[:last + 1]
        for index, name in enumerate(names):
            if name.startswith("conv"):
                conv_forward = CONV_IMPLS[self._impl_of[name]][0]
                # A Winograd conv takes over the ReLU after it, and a max pool after that,
                # in its own passes over memory, unless the conv's output itself is wanted.
                relu_fused = self._impl_of[name] == "winograd" and name not in wanted.values()
                pool_fused = (relu_fused and self.pooling == "max" and min(x.shape[1:]) >= 2
                              and index + 2 < len(names) and names[index + 2].startswith("pool"))
                if pool_fused:
                    (x, cache), pooled = winograd.conv_relu_pool_forward(x, *params[name])
                elif relu_fused:
                    x, cache = conv_forward(x, *params[name], relu=True)
                else:
                    x, cache = conv_forward(x, *params[name])
            elif name.startswith("relu"):
                # A ReLU's cache is its output, as in layers.relu_forward; a fused one's is
                # the mask out > 0, all its backward needs, in a quarter of the memory
                # (the output itself is freed once the next layer has read it).
                x, cache = (x, x > 0) if relu_fused else L.relu_forward(x)
            elif pool_fused:
                x, cache = pooled
            else:
                if min(x.shape[1:]) < 2:
                    raise ValueError(
                        f"VGG.forward: the image is too small to reach {name} "
                        f"(activation {x.shape} before it); use a larger image or a shallower layer")
                x, cache = pool_forward(x)
            caches.append((name, cache, x.shape))
            if name in wanted.values():
                activations[name] = x   # keep only what was asked for: memory
        self._thread.caches, self._thread.dtype = caches, params["conv1_1"][0].dtype
        return {given: activations[name] for given, name in wanted.items()}

    @_cores_to_the_bands
    def backward(self, grads, to=None):
        """Back-propagate injected gradients to the pixels.

        grads: {layer name: dL/d(activation at that layer)}, any set of layers reached
        by this thread's last :meth:`forward`, each real floating point (computed in the
        forward pass's dtype). to: optionally a layer name; then return the total
        derivative dL/d(activation of ``to``) instead of dL/dx.
        Returns dL/dx: (3, H, W) (or the activation's shape), in the activations' dtype.
        """
        caches = getattr(self._thread, "caches", None)
        if caches is None:
            raise RuntimeError("VGG.backward: call forward first (in this thread)")
        if not grads:
            raise ValueError("VGG.backward: no gradient given")
        shapes = {name: shape for name, _, shape in caches}
        dtype = self._thread.dtype
        reached = list(shapes)
        injected = {}
        for given, g in grads.items():
            name = self.resolve(given)
            if name not in shapes:
                raise ValueError(
                    f"VGG.backward: gradient given at {given!r} but the last forward "
                    f"stopped at {reached[-1]!r}")
            g = np.asarray(g)
            if g.dtype.kind != "f":
                raise ValueError(f"VGG.backward: gradient at {given!r} has dtype {g.dtype}; "
                                 "pass a floating-point array")
            if g.shape != shapes[name]:
                raise ValueError(
                    f"VGG.backward: gradient at {given!r} has shape {g.shape}; "
                    f"the activation has shape {shapes[name]}")
            g = g.astype(dtype, copy=False)
            injected[name] = injected[name] + g if name in injected else g
        stop = self.resolve(to) if to is not None else None
        if stop is not None and stop not in reached:
            raise ValueError(f"VGG.backward: to={to!r} lies beyond the last forward ({reached[-1]!r})")
        pool_backward = POOLING[self.pooling][1]

        dout = None
        # The backward of a ReLU, and of a max pool after it, left to the Winograd conv below
        # them, which applies it on its way in (winograd.conv3x3)
        relu_out, pool_cache = None, None
        for index in reversed(range(len(caches))):
            name, cache, out_shape = caches[index]
            if name in injected:
                g = injected[name]
                dout = g if dout is None else dout + g
            if name == stop:
                # No gradient injected at or beyond `to`: the loss does not depend on it.
                return dout if dout is not None else np.zeros(out_shape, dtype)
            if dout is None:
                continue  # deeper than any injected gradient: nothing flows yet
            if name.startswith("conv"):
                conv_backward = CONV_IMPLS[self._impl_of[name]][1]
                if pool_cache is not None:
                    dout = winograd.conv_relu_pool_backward(dout, cache, relu_out, pool_cache)
                elif relu_out is not None:
                    dout = conv_backward(dout, cache, relu_out=relu_out)
                else:
                    dout = conv_backward(dout, cache)
                relu_out, pool_cache = None, None
            elif name.startswith("relu"):
                if self._winograd_conv_takes_over(index, injected, stop):
                    relu_out = cache
                else:
                    dout = L.relu_backward(dout, cache)
            elif self.pooling == "max" and self._winograd_conv_takes_over(index, injected, stop):
                pool_cache = cache
            else:
                dout = pool_backward(dout, cache)
        return dout
