"""Feature inversion (nst_numpy.inversion, nst-numpy invert): the normalised objective, a
reconstruction that beats its noise start, layer names, and one-line errors before any work."""

import numpy as np
import pytest

from nst_numpy import gradcheck, image as im, inversion, transfer
from nst_numpy.cli import main
from nst_numpy.vgg import VGG, random_weights

TURTLE = im.quiz_images()[0]
# Not a weight file: a run that read it before refusing a bad option would say so instead.
NO_WEIGHTS = "/nonexistent/weights.h5"


@pytest.fixture
def max_vgg(random_vgg):
    """A VGG19 with random weights and max pooling: the inversion needs no trained network
    to be tested."""
    return random_vgg(pooling="max")


def turtle(size):
    return im.resize_longest(im.load_image(TURTLE), size)


def test_content_term_is_half_the_relative_squared_error(max_vgg):
    rgb = turtle(16)                                     # 12 x 16
    layer, tv_weight = "relu2_1", 3e-4
    objective = inversion.inversion_objective(
        max_vgg, inversion.inversion_terms(rgb, layer, tv_weight), rgb.shape[:2], np.float64)
    x = im.preprocess(np.random.default_rng(0).integers(0, 256, rgb.shape, dtype=np.uint8),
                      np.float64)
    loss, _ = objective(x)
    # measured afresh: e = ||F - P|| / ||P|| at the layer, TV as a mean over the H W pixels
    P = max_vgg.features(im.preprocess(rgb, np.float64), [layer])[layer]
    F = max_vgg.features(x, [layer])[layer]
    e = np.linalg.norm(F - P) / np.linalg.norm(P)
    H, W = rgb.shape[:2]
    tv = (np.sum(np.diff(x, axis=1) ** 2) + np.sum(np.diff(x, axis=2) ** 2)) / (H * W)
    parts = objective.last
    assert parts.content == pytest.approx(e ** 2 / 2, rel=1e-12)
    assert parts.tv == pytest.approx(tv_weight * tv, rel=1e-12)
    assert parts.style == 0.0
    # the optimiser sees the same loss times OPTIMIZER_SCALE * H * W
    assert loss == pytest.approx(inversion.OPTIMIZER_SCALE * H * W * parts.total, rel=1e-12)


def test_the_scaled_gradient_matches_finite_differences(max_vgg):
    rgb = turtle(12)
    objective = inversion.inversion_objective(
        max_vgg, inversion.inversion_terms(rgb, "relu2_1", 1e-4), rgb.shape[:2], np.float64)
    x = np.random.default_rng(1).normal(0, 40, (3,) + rgb.shape[:2])
    loss, grad = objective(x)
    assert objective.last.tv > 0.05 * objective.last.total   # both terms enter the gradient
    check = gradcheck.check_gradient(lambda v: objective(v)[0], x, grad, num_samples=24)
    assert check.passed, check


def test_a_shallow_layer_gives_the_picture_back_and_the_loss_falls(max_vgg):
    rgb = turtle(32)                                     # 24 x 32
    result = inversion.invert(rgb, "relu1_1", model=max_vgg, size=None, iterations=30)
    total = result.history["total"]
    # L-BFGS may stop early once float32 cannot see the loss fall any more
    assert result.stopped in (None, "converged") and len(total) == result.iterations > 5
    assert total[-1] < 0.01 * total[0] and result.best_loss <= min(total)
    noise = im.deprocess(transfer.starting_image("noise", rgb, [], rgb.shape[:2], 0,
                                                 np.float32))
    error = np.abs(result.best_image.astype(float) - rgb).mean()
    start = np.abs(noise.astype(float) - rgb).mean()
    # the noise is ~80 grey levels off; the reconstruction is within a few
    assert error < 0.1 * start, (error, start)
    assert result.best_image.shape == rgb.shape and result.best_image.dtype == np.uint8


def test_aliases_name_the_same_layer_and_any_layer_kind_is_accepted(max_vgg):
    run = dict(model=max_vgg, size=16, iterations=2)
    a = inversion.invert(TURTLE, "relu2_1", **run)
    b = inversion.invert(TURTLE, "block2_conv1", **run)   # Keras: a conv includes its ReLU
    np.testing.assert_array_equal(a.x, b.x)
    assert a.history == b.history
    for layer in ("conv1_2", "pool1", "block1_pool"):
        assert inversion.invert(TURTLE, layer, **run).iterations == 2


def test_the_same_seed_gives_the_same_run_and_another_seed_another(max_vgg):
    run = dict(model=max_vgg, size=16, iterations=2, optimizer="adam")
    a, b = (inversion.invert(TURTLE, "relu1_1", seed=3, **run) for _ in range(2))
    np.testing.assert_array_equal(a.x, b.x)
    c = inversion.invert(TURTLE, "relu1_1", seed=4, **run)
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize("optimizer", ["adam", "gd"])
def test_first_order_optimizers_lower_the_loss_with_their_default_steps(max_vgg, optimizer):
    result = inversion.invert(TURTLE, "relu2_1", model=max_vgg, size=24, iterations=5,
                              optimizer=optimizer)
    assert result.history["total"][-1] < result.history["total"][0]


def test_a_callback_stops_the_run(max_vgg):
    seen = []
    result = inversion.invert(TURTLE, "relu1_1", model=max_vgg, size=16, iterations=10,
                              callback=lambda state: seen.append(state.iteration) or
                              state.iteration == 3)
    assert seen == [1, 2, 3] and result.stopped == "callback" and result.iterations == 3


def test_a_layer_the_given_network_lacks_is_refused(max_vgg):
    vgg16 = VGG.vgg16(random_weights("vgg16"))
    with pytest.raises(ValueError, match="has no layer 'relu3_4'"):
        inversion.invert(TURTLE, "relu3_4", model=vgg16, size=16)
    assert inversion.invert(TURTLE, "relu3_4", model=max_vgg, size=16,
                            iterations=1).iterations == 1


# --- the command ---------------------------------------------------------------------

CHEAP = ["--size", "24", "--iterations", "3", "--quiet"]


def one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("nst-numpy invert: error: ") and "\n" not in err, err
    return err


def test_invert_writes_the_reconstruction_and_its_loss_plot(tmp_path, capsys):
    out, plot = tmp_path / "relu2_1.png", tmp_path / "losses.png"
    code = main(["invert", TURTLE, "--layer", "relu2_1", "-o", str(out), "--tv-weight", "1e-5",
                 "--plot", str(plot), "--print-every", "1", "--size", "24", "--iterations", "3"])
    assert code == 0
    assert im.load_image(out).shape == (18, 24, 3)
    assert im.load_image(plot).shape == (400, 700, 3)
    shown = capsys.readouterr()
    last = shown.out.strip().splitlines()[-1]
    assert last.startswith(f"wrote {out}") and last.endswith(f"; losses drawn in {plot}"), last
    # inversion has no style term, and its progress says so by leaving it out
    assert "content" in shown.err and "style" not in shown.err, shown.err


def test_invert_help_lists_every_option(capsys):
    assert main(["invert", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--output", "--layer", "--size", "--iterations", "--tv-weight", "--seed",
                   "--optimizer", "--lr", "--keep", "--memory-limit", "--quiet",
                   "--print-every", "--pooling", "--weights", "--arch", "--plain", "--plot"):
        assert option in text, option


def test_output_equal_to_the_input_is_refused_before_the_network_loads(tmp_path, capsys):
    picture = tmp_path / "photo.png"
    im.save_image(turtle(24), picture)
    before = picture.read_bytes()
    code = main(["invert", str(picture), "-o", str(tmp_path / "." / "photo.png"),
                 "--weights", str(tmp_path / "missing.h5"), *CHEAP])
    assert code == 2 and "is the input file" in one_line_error(capsys)
    assert picture.read_bytes() == before
