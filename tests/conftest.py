"""Shared test helpers: the one random-weight VGG the fast float64 checks use."""

import pytest

from nst_numpy import vgg


@pytest.fixture(scope="session")
def random_vgg():
    """Factory: random_vgg(arch="vgg19", pooling="avg") -> the plain VGG with random float64
    weights (:func:`nst_numpy.vgg.random_weights`, seed 0), one per (arch, pooling) for the
    whole session: a network keeps nothing between its passes, so every test may share it."""
    made = {}

    def make(arch="vgg19", pooling="avg"):
        if (arch, pooling) not in made:
            made[arch, pooling] = vgg.VGG(vgg.random_weights(arch, 0), arch=arch, pooling=pooling)
        return made[arch, pooling]
    return make
