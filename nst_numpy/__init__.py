"""nst_numpy: neural style transfer (Gatys et al. 2015) in NumPy, gradients derived by hand."""

from . import gradcheck, layers, losses, vgg
from .vgg import VGG
from .fast import FastVGG
from .models import load_vgg, load_vgg16, load_vgg19
from .transfer import stylize
from .inversion import invert

__version__ = "0.1.0"

__all__ = ["VGG", "FastVGG", "load_vgg", "load_vgg16", "load_vgg19", "stylize", "invert",
           "gradcheck", "layers", "losses", "vgg"]
