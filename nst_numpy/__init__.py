"""nst_numpy: neural style transfer (Gatys et al. 2015) in NumPy, gradients derived by hand."""

from . import gradcheck, image, layers, losses, terms, vgg
from .vgg import VGG
from .fast import FastVGG
from .models import load_vgg, load_vgg16, load_vgg19
from .objective import Objective
from .loop import run
from .terms import CONTENT_LAYERS, MRF_LAYERS, STYLE_LAYERS
from .transfer import stylize, texture
from .inversion import invert

__version__ = "0.1.0"

__all__ = ["VGG", "FastVGG", "load_vgg", "load_vgg16", "load_vgg19", "Objective", "run",
           "stylize", "texture", "invert", "CONTENT_LAYERS", "STYLE_LAYERS", "MRF_LAYERS",
           "gradcheck", "image", "layers", "losses", "terms", "vgg"]
