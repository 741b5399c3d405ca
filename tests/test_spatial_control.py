"""Spatial control (guided Gram matrices, Gatys et al. 2017) through stylize: masks carried
to every layer's grid, the region targets, the objective's gradient, and bad masks."""

import numpy as np
import pytest

from nst_numpy import gradcheck, image as im, load_vgg19, losses, terms, transfer
from nst_numpy.cli import main
from nst_numpy.objective import Objective
from nst_numpy.terms import Content, GramStyle, GuidedGramStyle, TotalVariation

CONTENT, STYLE = im.demo_images()
TURTLE, WAVE = im.quiz_images()
FAST = ["--size", "24", "--iterations", "2", "--quiet"]


def halves(H, W):
    left = np.zeros((H, W))
    left[:, : W // 2] = 1.0
    return [left, 1.0 - left]


def test_masks_are_averaged_over_each_pooling_window(random_vgg):
    # Independent of the layer code: a 2x2 block mean by reshaping, once per pool before
    # the layer (relu1_1: none; relu2_1: one; relu3_1: two); odd sides drop the last row,
    # as the network's pooling does.
    rng = np.random.default_rng(0)
    mask = rng.uniform(size=(17, 12))
    guides = terms.layer_guides(random_vgg(pooling="max"), [mask], ["relu1_1", "relu2_1", "block3_conv1"])

    def block_mean(m):
        H, W = m.shape[0] // 2 * 2, m.shape[1] // 2 * 2
        return m[:H, :W].reshape(H // 2, 2, W // 2, 2).mean(axis=(1, 3))

    np.testing.assert_allclose(guides["relu1_1"][0], mask.ravel())
    np.testing.assert_allclose(guides["relu2_1"][0], block_mean(mask).ravel())
    np.testing.assert_allclose(guides["block3_conv1"][0], block_mean(block_mean(mask)).ravel())


def test_a_mask_black_on_a_layers_grid_is_refused_naming_it(random_vgg):
    mask = np.zeros((16, 16))
    mask[0, 0] = 1.0            # one pixel: averaged to 1/4, 1/16, ... but never to zero
    other = np.zeros((16, 16))  # black everywhere
    with pytest.raises(ValueError, match=r"mask 2 is black everywhere on relu1_1's 16x16 grid"):
        terms.layer_guides(random_vgg(pooling="max"), [mask, other], ["relu1_1", "relu2_1"])


def test_region_targets_are_each_styles_gram_per_position_times_the_regions_weight(random_vgg):
    model = random_vgg(pooling="max")
    rng = np.random.default_rng(1)
    styles = [rng.normal(0, 50, (3, 8, 8)), rng.normal(0, 50, (3, 12, 16))]
    guides = terms.layer_guides(model, halves(8, 8), ["relu1_1", "relu2_1"])
    A = terms.guided_style_targets(model, styles, ["relu1_1", "relu2_1"], guides)
    for r, x in enumerate(styles):
        for layer in ("relu1_1", "relu2_1"):
            F = model.features(x, [layer])[layer]
            M_s, M_r = F.shape[1] * F.shape[2], np.sum(guides[layer][r] ** 2)
            np.testing.assert_allclose(A[layer][r], losses.gram_matrix(F) * M_r / M_s, rtol=1e-12)


def test_one_white_mask_is_the_unguided_objective(random_vgg):
    model = random_vgg(pooling="max")
    rng = np.random.default_rng(2)
    content, style = (rng.integers(0, 256, (12, 12, 3), dtype=np.uint8) for _ in range(2))
    white = np.full((5, 7, 3), 255, np.uint8)   # any size: stretched to the output's
    layers = ["relu1_1", "relu2_1"]
    plain = Objective(model, [Content(content, "relu2_2"), GramStyle(style, layers),
                              TotalVariation()], (12, 12), np.float64)
    guided = Objective(model, [Content(content, "relu2_2"),
                               GuidedGramStyle(style, [white], layers), TotalVariation()],
                       (12, 12), np.float64)
    x = im.preprocess(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8), np.float64)
    (L0, g0), (L1, g1) = plain(x), guided(x)
    assert L1 == pytest.approx(L0, rel=1e-12)
    np.testing.assert_allclose(g1, g0, rtol=1e-9, atol=1e-12 * np.abs(g0).max())


def test_guided_objective_gradient_matches_finite_differences(random_vgg):
    # float64, 12x12, random weights, two grey overlapping masks and two style images, each
    # region weighted: dL/dx through guides, targets and the network. check_gradient's own
    # tolerance (nst_numpy/gradcheck.py).
    model = random_vgg(pooling="max")
    rng = np.random.default_rng(3)
    content, s1, s2 = (rng.integers(0, 256, (12, 12, 3), dtype=np.uint8) for _ in range(3))
    masks = [rng.uniform(0.2, 1, (12, 12)), rng.uniform(0, 0.8, (12, 12))]
    masks = [(m[..., None] * 255).repeat(3, axis=2).astype(np.uint8) for m in masks]
    objective = Objective(model, [
        Content(content, "relu2_1"),
        GuidedGramStyle([s1, s2], masks, ["relu1_1", "relu2_1"], weight=10.0, blend=[1, 3]),
        TotalVariation(1.0)], (12, 12), np.float64)
    x = im.preprocess(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8), np.float64)
    loss, grad = objective(x)
    assert objective.last.style > 0.1 * loss and objective.last.content > 0.1 * loss
    check = gradcheck.check_gradient(lambda v: objective(v)[0], x, grad, num_samples=24)
    assert check.passed, check


def test_each_region_takes_its_own_style():
    # Left half: the Great Wave; right half: the demo style. After a short run, each half's
    # guided style loss against its own style is lower than against the other's.
    result = transfer.stylize(TURTLE, [WAVE, STYLE], masks=halves(*im.image_size(TURTLE)),
                              size=48, iterations=15, fast=False)
    model = load_vgg19()
    layers = ["relu1_1", "relu2_1", "relu3_1"]
    H, W = result.image.shape[:2]
    guides = terms.layer_guides(model, halves(H, W), layers)
    x = im.preprocess(result.image)
    F = model.features(x, layers)

    def region_loss(region, style):
        s = im.preprocess(im.resize_longest(im.load_image(style), max(H, W)))
        A = terms.guided_style_targets(model, [s], layers, {l: [guides[l][region]] for l in layers})
        return sum(losses.guided_style_layer_loss(F[l], A[l], [guides[l][region]])[0] for l in layers)

    assert region_loss(0, WAVE) < region_loss(0, STYLE)
    assert region_loss(1, STYLE) < region_loss(1, WAVE)


def test_cli_masks(tmp_path, capsys):
    H, W = im.image_size(CONTENT)
    paths = []
    for k, mask in enumerate(halves(H // 3, W // 3)):   # any size: resized to the output
        paths.append(tmp_path / f"mask{k}.png")
        im.save_image((mask[..., None] * 255).repeat(3, axis=2).astype(np.uint8), paths[-1])
    out = tmp_path / "out.png"
    assert main(["stylize", CONTENT, STYLE, WAVE, "-o", str(out), "--masks",
                 *map(str, paths), *FAST]) == 0
    assert im.load_image(out).shape == (16, 24, 3)
    assert main(["stylize", CONTENT, STYLE, WAVE, "-o", str(out), "--masks", str(paths[0]),
                 *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--masks has 1 mask for 2 style images; give one mask per style "
                        "image, in the same order") and "\n" not in err
    assert main(["stylize", CONTENT, STYLE, "-o", str(paths[0]), "--masks", str(paths[0]),
                 *FAST]) == 2
    assert "is the input file" in capsys.readouterr().err


def test_masks_follow_every_level_of_a_pyramid():
    # Each level resizes the masks to its own size: a coarse-to-fine run with masks ends at
    # the full size, its last level's objective guided like a single-scale run's.
    H, W = im.image_size(CONTENT)
    result = transfer.stylize(CONTENT, [STYLE, WAVE], masks=halves(H, W), size=64, scales=2,
                              iterations=[2, 2], style_layers=["relu1_1", "relu2_1"])
    assert [level["shape"][1] for level in result.levels] == [32, 64]
    assert result.image.shape[:2] == result.levels[-1]["shape"] and not result.failed


def test_one_mask_may_be_given_alone(tmp_path):
    # masks="mask.png" (or one array) is a list of one mask, as style="style.png" is.
    mask = tmp_path / "mask.png"
    im.save_image(np.full((6, 9, 3), 255, np.uint8), mask)
    alone = transfer.stylize(CONTENT, STYLE, masks=str(mask), size=24, iterations=1)
    listed = transfer.stylize(CONTENT, STYLE, masks=[str(mask)], size=24, iterations=1)
    assert alone.history == listed.history
