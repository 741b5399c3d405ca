"""Shared test helpers: a VGG with small random weights, for fast float64 checks."""

import numpy as np
import pytest

from nst_numpy import vgg


def random_vgg_weights(arch="vgg19", seed=0, dtype=np.float64):
    """He-initialised kernels (activations stay O(1) through the stack), small random biases."""
    rng = np.random.default_rng(seed)
    return {
        name: (rng.normal(0.0, np.sqrt(2.0 / (shape[1] * 9)), size=shape).astype(dtype),
               rng.normal(0.0, 0.1, size=shape[0]).astype(dtype))
        for name, shape in vgg.conv_shapes(arch).items()
    }


@pytest.fixture
def small_vgg():
    """Factory: small_vgg(arch="vgg19", pooling="avg", seed=0) -> VGG with random weights."""
    def make(arch="vgg19", pooling="avg", seed=0):
        return vgg.VGG(random_vgg_weights(arch, seed), arch=arch, pooling=pooling)
    return make
