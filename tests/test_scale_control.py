"""Scale control (Gatys et al. 2017, sec. 5): each style image with layers of its own.

The term (:class:`nst_numpy.terms.GramStyle` given one list of layers per style image) must
be the blend of each image's own loss at its own layers,

    L_style = sum_s b_s sum_{l in L_s} w_sl E_l(G^l, A_s^l),

up to a constant that does not depend on the pixels, with the default w_sl = 1 / |L_s|. The
tests check that against losses.style_layer_loss written out per image, its gradient
against finite differences through the network, that one list per image equal to a shared
list changes nothing, and how the option is given (the command line appends one list per
--style-layers).
"""

import numpy as np
import pytest

from nst_numpy import gradcheck, image as im, losses, terms
from nst_numpy.objective import Objective
from nst_numpy.options import Config, given_options
from nst_numpy.terms import Content, GramStyle, TotalVariation

FINE, COARSE = ["relu1_1", "relu2_1"], ["relu2_1", "relu3_1"]   # relu2_1 shared by both


def network_inputs(seed, *shapes):
    """Random float64 network inputs (3, H, W): style images used at their own sizes."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 50, (3, *shape)) for shape in shapes]


def per_image_loss(model, x, styles, own_layers, blend, layer_weights=None):
    """sum_s b_s sum_{l in L_s} w_sl E_l(G^l(x), A_s^l) and its dL/dF^l, written out image
    by image from losses.py (w_sl as given, else 1 / |L_s|), independent of the term."""
    every = list(dict.fromkeys(layer for own in own_layers for layer in own))
    F = model.features(x, every)
    total, grads = 0.0, {layer: 0.0 for layer in every}
    b = np.asarray(blend, dtype=float) / sum(blend)
    for style, own, b_s in zip(styles, own_layers, b):
        A = terms.style_targets(model, [style], own, output_shape=x.shape[1:])
        for layer in own:
            w = layer_weights[layer] if layer_weights else 1.0 / len(own)
            E, dE = losses.style_layer_loss(F[layer], A[layer])
            total += b_s * w * E
            grads[layer] = grads[layer] + b_s * w * dE
    return total, grads


@pytest.mark.parametrize("layer_weights", [None, {"relu1_1": 0.5, "relu2_1": 2.0,
                                                  "relu3_1": 1.0}])
def test_the_term_is_each_images_loss_at_its_own_layers(random_vgg, layer_weights):
    """Its gradient at every layer equals the per-image form's (float64; measured ~1e-16
    relative, allowed 1e-10), and its value differs from it by the same constant at three
    different pictures: the spread of the two targets at the shared layer relu2_1."""
    model = random_vgg()
    styles = network_inputs(0, (12, 16), (20, 14))
    blend = [1.0, 3.0]
    term = GramStyle(styles, [FINE, COARSE], layer_weights=layer_weights, blend=blend)
    A = term.targets(model, (16, 16), np.float64)
    differences = []
    for x in network_inputs(1, (16, 16), (16, 16), (16, 16)):
        F = model.features(x, term.layers)
        value, grads = term.loss(F, A)
        expected, expected_grads = per_image_loss(model, x, styles, [FINE, COARSE], blend,
                                                  layer_weights)
        for layer in term.layers:
            scale = np.abs(expected_grads[layer]).max()
            assert np.abs(grads[layer] - expected_grads[layer]).max() < 1e-10 * scale, layer
        differences.append(expected - value)
    assert differences[0] > 1e-3 * abs(value)   # relu2_1's targets differ: a real constant
    np.testing.assert_allclose(differences, differences[0], rtol=1e-9)


def test_disjoint_layers_are_exactly_the_per_image_loss(random_vgg):
    """No layer shared: no constant, and each layer's target is one image's Gram matrix."""
    model = random_vgg()
    styles = network_inputs(2, (12, 16), (20, 14))
    own = [["relu1_1"], ["relu2_1", "relu3_1"]]
    term = GramStyle(styles, own, blend=[2, 1])
    A = term.targets(model, (16, 16), np.float64)
    assert term.weights_per_layer() == pytest.approx(
        {"relu1_1": 2 / 3, "relu2_1": 1 / 6, "relu3_1": 1 / 6}, rel=1e-15)
    x = network_inputs(3, (16, 16))[0]
    value, _ = term.loss(model.features(x, term.layers), A)
    expected, _ = per_image_loss(model, x, styles, own, [2, 1])
    assert value == pytest.approx(expected, rel=1e-12)


def test_default_layer_weights_share_beta_by_the_blend(random_vgg):
    """w_sl = 1 / |L_s|: each image's weights sum to 1, so the blend alone splits beta;
    a layer two images use adds their shares."""
    styles = network_inputs(4, (8, 8), (8, 8))
    term = GramStyle(styles, [["relu1_1", "relu2_1"], ["relu2_1", "relu3_1", "relu4_1"]])
    assert term.weights_per_layer() == pytest.approx(
        {"relu1_1": 1 / 4, "relu2_1": 1 / 4 + 1 / 6, "relu3_1": 1 / 6, "relu4_1": 1 / 6},
        rel=1e-15)
    assert sum(term.weights_per_layer().values()) == pytest.approx(1.0)


def test_per_image_layers_gradient_matches_finite_differences(random_vgg):
    """dL/dx through the network (float64, 16x16, random weights) with content, the two
    images at their own layers (relu2_1 shared) and TV, each term of a similar size:
    check_gradient's own step and tolerance (nst_numpy/gradcheck.py)."""
    rng = np.random.default_rng(5)
    content = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    styles = network_inputs(6, (12, 16), (20, 14))
    x = im.preprocess(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), np.float64)
    objective = Objective(random_vgg(), [
        Content(content, "relu2_2", weight=3.0),
        GramStyle(styles, [FINE, COARSE], weight=30.0, blend=[1, 2]),
        TotalVariation(0.7)], shape=(16, 16), dtype=np.float64)
    loss, grad = objective(x)
    parts = objective.last
    assert min(parts.content, parts.style, parts.tv) > 0.1 * parts.total, parts
    check = gradcheck.check_gradient(lambda v: objective(v)[0], x, grad, num_samples=24)
    assert check.passed, check


def test_one_list_per_image_alike_is_the_shared_list(random_vgg):
    model = random_vgg()
    styles = network_inputs(7, (12, 16), (20, 14))
    shared = GramStyle(styles, FINE, blend=[1, 3])
    alike = GramStyle(styles, [FINE, list(reversed(FINE))], blend=[1, 3])
    assert alike.shared_layers() and alike.layers == FINE
    A, B = (t.targets(model, (16, 16), np.float64) for t in (shared, alike))
    for layer in FINE:
        np.testing.assert_allclose(B[layer], A[layer], rtol=1e-14)
    x = network_inputs(8, (16, 16))[0]
    F = model.features(x, FINE)
    assert alike.loss(F, B)[0] == pytest.approx(shared.loss(F, A)[0], rel=1e-14)


def test_an_alias_names_one_layer_across_the_lists():
    styles = network_inputs(9, (8, 8), (8, 8))
    term = GramStyle(styles, [["relu1_1"], ["block1_conv1", "relu2_1"]])
    assert term.layers == ["relu1_1", "relu2_1"]
    assert term.style_layers == [["relu1_1"], ["relu1_1", "relu2_1"]]


def test_the_command_line_appends_one_list_per_flag():
    from nst_numpy.cli import build_parser

    def parsed(*flags):
        args = build_parser().parse_args(["stylize", "c.jpg", "a.jpg", "b.jpg", "-o", "o.png",
                                          *flags])
        return Config(given_options(args)).style_layers

    assert parsed("--style-layers", "relu1_1,relu2_1") == ["relu1_1", "relu2_1"]
    assert parsed("--style-layers", "relu1_1,relu2_1", "--style-layers", "relu3_1") == \
        [["relu1_1", "relu2_1"], ["relu3_1"]]
    assert parsed() is None   # the term's own default
    # the Python caller's forms: one list inside a list is shared too
    assert Config({"style_layers": [["relu3_1"]]}).style_layers == ["relu3_1"]


def test_geometric_weights_count_every_layer_once():
    config = Config({"style_layers": [FINE, COARSE], "style_layer_weight_exp": 2.0})
    assert config.style_weights(config.style_layers) == pytest.approx([1 / 7, 2 / 7, 4 / 7])
