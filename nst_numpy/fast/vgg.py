"""FastVGG: the network of :mod:`nst_numpy.vgg`, computed faster, equal to it to round-off.

:class:`FastVGG` has the interface of :class:`nst_numpy.vgg.VGG` (``forward``,
``backward`` with ``to=``, ``layer_names``, ``resolve``) and inherits its checks; only the
two passes differ, in four ways that leave the function unchanged:

1. every 3x3 convolution with at least :data:`WINOGRAD_MIN_CHANNELS` input channels runs by
   Winograd's F(2x2, 3x3) (:func:`nst_numpy.fast.winograd.conv2d_forward`, which must equal
   :func:`nst_numpy.layers.conv2d_forward`);
2. the ReLU after such a convolution, and a max pool after that, run inside the
   convolution's own passes over memory (fused), forward and backward, unless their own
   input is asked for or receives a gradient; every ReLU caches its mask, not its output,
   and gradients are summed in place (memory);
3. each convolution's bands run in ``threads`` threads, with BLAS held to one thread for
   the whole pass (:mod:`nst_numpy.fast.parallel`);
4. a max pool that does not run inside a convolution takes a few fast passes
   (:mod:`nst_numpy.fast.pooling`), not the plain layer's reshape and argmax.

``tests/test_fast.py`` checks features and gradients against the plain network across
sizes, poolings, dtypes, sets of injected gradients and ``to=``.
"""

import numpy as np

from .. import layers as L
from ..vgg import VGG, Tape, _backward_arguments, _forward_arguments
from . import pooling, winograd
from .parallel import single_threaded_blas, usable_cores

# The pools that do not run inside a conv's passes: max pooling in fast passes
# (pooling.py), average pooling as the plain network has it.
POOLING = {"max": (pooling.max_pool_forward, pooling.max_pool_backward),
           "avg": (L.avg_pool_forward, L.avg_pool_backward)}
# Winograd's transforms cost more than they save on the 3-channel first layer
# (benchmarks/bench_layers.py): conv1_1 stays im2col, which is cheap there (27-row cols).
WINOGRAD_MIN_CHANNELS = 16


class FastVGG(VGG):
    """The same network as :class:`nst_numpy.vgg.VGG`, faster; its ``forward`` and
    ``backward`` must equal ``VGG.forward`` and ``VGG.backward`` to round-off.

    Parameters
    ----------
    weights, arch, pooling
        As for :class:`nst_numpy.vgg.VGG`.
    threads : int, optional
        Band threads of each convolution; default: the cores this process may use.
    """

    #: Peak resident bytes of a whole float32 L-BFGS stylization, a + b * pixels, fitted by
    #: benchmarks/bench_memory.py --fit (docs/benchmarks.md, "Memory of a whole run").
    MEMORY = (559 * 2**20, 3038)

    def __init__(self, weights, arch="vgg19", pooling="max", threads=None):
        super().__init__(weights, arch=arch, pooling=pooling)
        threads = usable_cores() if threads is None else threads
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        self.threads = threads
        self._winograd = {name for name, (k, _) in self.params.items()
                          if k.shape[1] >= WINOGRAD_MIN_CHANNELS}

    def _params(self, dtype):
        """VGG's (kernel, bias) per dtype, plus for a Winograd conv its transformed kernel
        and the transformed flipped kernel of its backward, computed once."""
        if dtype not in self._params_by_dtype:
            params = dict(super()._params(dtype))
            for name in self._winograd:
                k, b = params[name]
                params[name] = (k, b, winograd.kernel_transform(k),
                                winograd.kernel_transform(winograd.flip_kernel(k)))
            self._params_by_dtype[dtype] = params
        return self._params_by_dtype[dtype]

    def forward(self, x, layers):
        """:meth:`nst_numpy.vgg.VGG.forward`, with the fused Winograd layers."""
        x, wanted, last = _forward_arguments(self, x, layers)
        params = self._params(x.dtype)
        names = self.layer_names[:last + 1]
        activations, caches = {}, []
        with single_threaded_blas():
            for index, name in enumerate(names):
                if name.startswith("conv"):
                    x, cache, fused, pooled = self._conv_forward(x, name, params[name],
                                                                 names[index:], wanted.values())
                elif name.startswith("relu"):
                    # Every ReLU caches the mask out > 0, all its backward needs, in a
                    # quarter of the memory of layers.relu_forward's cache (its output);
                    # a fused ReLU's output came from the conv.
                    x = x if fused else L.relu_forward(x)[0]
                    cache = x > 0
                elif pooled is not None:
                    x, cache = pooled
                else:
                    x, cache = POOLING[self.pooling][0](x)
                caches.append((name, cache, x.shape))
                if name in wanted.values():
                    activations[name] = x
        return {given: activations[name] for given, name in wanted.items()}, Tape(caches, x.dtype)

    def _conv_forward(self, x, name, params, following, wanted):
        """One conv of the forward pass (``following``: its name and the layers after it):
        (output, cache, whether the ReLU after it is fused in, (pooled, pool cache) when the
        max pool after that is fused in too, else None)."""
        if name not in self._winograd:
            return (*L.conv2d_forward(x, *params[:2]), False, None)
        if name in wanted:   # its own output is asked for: no ReLU inside
            return (*winograd.conv2d_forward(x, *params, threads=self.threads), False, None)
        if (self.pooling == "max" and len(following) > 2 and following[2].startswith("pool")
                and min(x.shape[1:]) >= 2):
            (out, cache), pooled = winograd.conv_relu_pool_forward(x, *params, threads=self.threads)
            return out, cache, True, pooled
        return (*winograd.conv2d_forward(x, *params, relu=True, threads=self.threads), True, None)

    def backward(self, grads, tape, to=None):
        """:meth:`nst_numpy.vgg.VGG.backward`, with the fused Winograd layers."""
        injected, stop = _backward_arguments(self, grads, tape, to)
        caches = tape.steps
        dout = None
        # A ReLU's (and a max pool's) backward left to the Winograd conv below, which
        # applies it on its way in: the ReLU's mask, the pool's cache.
        relu_mask, pool_cache = None, None
        with single_threaded_blas():
            for index in reversed(range(len(caches))):
                name, cache, out_shape = caches[index]
                if name in injected:   # summed in place: dout is always this pass's own array
                    dout = (injected[name].copy() if dout is None
                            else np.add(dout, injected[name], out=dout))
                if name == stop:
                    return dout if dout is not None else np.zeros(out_shape, tape.dtype)
                if dout is None:
                    continue
                if name.startswith("conv"):
                    dout = self._conv_backward(dout, name, cache, relu_mask, pool_cache)
                    relu_mask, pool_cache = None, None
                elif name.startswith("relu") and self._conv_below_takes_over(index, injected, stop):
                    relu_mask = cache
                elif name.startswith("relu"):
                    dout = L.relu_backward(dout, cache)
                elif self.pooling == "max" and self._conv_below_takes_over(index, injected, stop):
                    pool_cache = cache
                else:
                    dout = POOLING[self.pooling][1](dout, cache)
        return dout

    def _conv_backward(self, dout, name, cache, relu_mask, pool_cache):
        """One conv's input gradient, with the ReLU and pool above it when they were left."""
        if name not in self._winograd:
            return L.conv2d_backward_input(dout, cache)
        if pool_cache is not None:
            return winograd.conv_relu_pool_backward(dout, cache, relu_mask, pool_cache)
        return winograd.conv2d_backward_input(dout, cache, relu_out=relu_mask)

    def _conv_below_takes_over(self, index, injected, stop):
        """Whether layer ``index`` of the last forward (a ReLU, or a pool after conv and
        ReLU) may leave its backward to the conv below: a Winograd conv, with no gradient
        injected at the layers in between and ``to`` not stopping there."""
        n_below = 2 if self.layer_names[index].startswith("pool") else 1
        below = self.layer_names[index - n_below:index]
        return (below[0] in self._winograd
                and not any(name in injected or name == stop for name in below))
