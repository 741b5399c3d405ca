"""Shared test helpers: a VGG with small random weights, for fast float64 checks."""

import pytest

from nst_numpy import vgg


@pytest.fixture
def small_vgg():
    """Factory: small_vgg(arch="vgg19", pooling="avg", seed=0) -> VGG with random weights
    (:func:`nst_numpy.vgg.random_weights`, float64)."""
    def make(arch="vgg19", pooling="avg", seed=0):
        return vgg.VGG(vgg.random_weights(arch, seed), arch=arch, pooling=pooling)
    return make
