"""The fast path, beside the lesson: the same network as :mod:`nst_numpy.vgg`, faster.

- :mod:`nst_numpy.fast.winograd`: the 3x3 convolution by Winograd's F(2x2, 3x3), which
  must equal :func:`nst_numpy.layers.conv2d_forward` and its backward to round-off;
- :mod:`nst_numpy.fast.parallel`: bands of one layer in one thread per core, with BLAS held
  to one thread meanwhile;
- :mod:`nst_numpy.fast.pooling`: 2x2 max pooling in a few passes over memory, equal to
  :func:`nst_numpy.layers.max_pool_forward`;
- :class:`FastVGG` (:mod:`nst_numpy.fast.vgg`): :class:`nst_numpy.vgg.VGG` with those
  convolutions and the ReLU and max pool after each fused in; equal to it to round-off.

Nothing in the teaching modules (layers, vgg, losses, gradcheck, optim) or the algorithm
(terms, objective, loop, pyramid, transfer) imports this package; tests/test_layout.py says so.
"""

from .vgg import FastVGG

__all__ = ["FastVGG"]
