"""Style transfer end to end: the objective's gradient, the targets, the lecture's three
steps against stylize, a small real run, reproducibility, and the ways a run can end early."""

import numpy as np
import pytest

import nst_numpy as nst
from nst_numpy import gradcheck, image as im, load_vgg19, loop, losses, pyramid, terms, transfer
from nst_numpy.objective import Losses, Objective
from nst_numpy.terms import Content, GramStyle, TotalVariation

CONTENT, STYLE = im.demo_images()


@pytest.fixture(scope="module")
def vgg19():
    """The shipped ImageNet VGG19 (im2col: the plain path, independent of Winograd)."""
    return load_vgg19()


def test_objective_gradient_matches_finite_differences(random_vgg):
    # float64, a 12x12 image, random weights: content at relu2_2, style at relu1_1 and
    # relu2_1, and TV, so alpha, beta, w_l and the TV weight all enter dL/dx, each term
    # of a similar size. check_gradient's own step and tolerance (nst_numpy/gradcheck.py):
    # its round-off floor follows |L| ~ 3e6.
    rng = np.random.default_rng(1)
    content, style = (rng.integers(0, 256, (12, 12, 3), dtype=np.uint8) for _ in range(2))
    x = im.preprocess(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8), np.float64)
    objective = Objective(random_vgg(), [
        Content(content, "relu2_2", weight=0.7),
        GramStyle(style, ["relu1_1", "relu2_1"], weight=24.0,
                  layer_weights={"relu1_1": 0.25, "relu2_1": 0.75}),
        TotalVariation(0.14)], shape=(12, 12), dtype=np.float64)
    loss, grad = objective(x)
    parts = objective.last
    assert parts.total == pytest.approx(parts.content + parts.style + parts.tv)
    assert min(parts.content, parts.style, parts.tv) > 0.1 * parts.total, parts
    check = gradcheck.check_gradient(lambda v: objective(v)[0], x, grad, num_samples=24)
    assert check.passed, check


def test_style_targets_blend_and_rescale_to_the_output_size(random_vgg):
    model = random_vgg()
    rng = np.random.default_rng(2)
    small, big = rng.normal(0, 50, (3, 8, 8)), rng.normal(0, 50, (3, 16, 24))
    layers = ["relu1_1", "relu2_1"]
    only_small = terms.style_targets(model, [small, big], layers, blend=[1, 0],
                                     output_shape=(8, 8))
    F_small = model.features(small, layers)
    for layer in layers:
        np.testing.assert_allclose(only_small[layer], losses.gram_matrix(F_small[layer]))
    # A Gram sums over positions: a 16x24 style image is scaled by M / M_s = 64 / 384.
    F_big = model.features(big, layers)
    both = terms.style_targets(model, [small, big], layers, blend=[3, 1], output_shape=(8, 8))
    for layer in layers:
        expected = 0.75 * losses.gram_matrix(F_small[layer]) + \
            0.25 * losses.gram_matrix(F_big[layer]) * (64 / 384)
        np.testing.assert_allclose(both[layer], expected, rtol=1e-12)
    with pytest.raises(ValueError, match="blend"):
        terms.style_targets(model, [small], layers, blend=[1, 1])


def test_the_lectures_three_steps_are_stylize(vgg19):
    # The objective a student writes from the lecture, run by nst.run, gives the same loss
    # history as the equivalent stylize call: the same terms, the same targets, the same
    # optimiser. Both compute the same float32 operations in the same order: exactly equal.
    H, W = transfer.output_shape(CONTENT, 48)
    photo, wave = im.resize(im.load_image(CONTENT), H, W), im.load_image(STYLE)
    objective = nst.Objective(vgg19, [nst.terms.Content(photo, "relu4_2"),
                                      nst.terms.GramStyle([wave], nst.STYLE_LAYERS),
                                      nst.terms.TotalVariation(10)], shape=(H, W))
    x0 = im.preprocess(photo)
    lecture = nst.run(objective, x0, optimizer="lbfgs", iterations=5)
    stylized = nst.stylize(photo, wave, model=vgg19, size=None, iterations=5, tv_weight=10)
    assert lecture.history == stylized.history and len(lecture.history["total"]) == 5
    np.testing.assert_array_equal(lecture.best_image, stylized.best_image)


def style_losses_per_layer(model, rgb, style_rgb, layers):
    """E_l of an image against a style image's Grams (independent of stylize)."""
    A = terms.style_targets(model, [im.preprocess(style_rgb)], layers,
                            output_shape=rgb.shape[:2])
    F = model.features(im.preprocess(rgb), layers)
    return {layer: losses.style_layer_loss(F[layer], A[layer])[0] for layer in layers}


def test_small_stylization_with_the_real_vgg19(vgg19):
    result = transfer.stylize(CONTENT, STYLE, model=vgg19, size=64, iterations=6)
    content = im.load_image(CONTENT, size=64)
    total = result.history["total"]
    assert result.image.shape == content.shape == (42, 64, 3) and result.image.dtype == np.uint8
    assert result.iterations == 6 and len(total) == 6 and result.stopped is None
    assert total[-1] < total[0]
    assert np.abs(result.image.astype(int) - content).mean() > 5
    # The style loss at each style layer, measured afresh, falls from the content image's.
    style = im.resize_longest(im.load_image(STYLE), 64)
    before = style_losses_per_layer(vgg19, content, style, nst.STYLE_LAYERS)
    after = style_losses_per_layer(vgg19, result.image, style, nst.STYLE_LAYERS)
    assert sum(after.values()) < 0.5 * sum(before.values())
    assert all(after[layer] < before[layer] for layer in nst.STYLE_LAYERS), (before, after)


def test_same_seed_gives_a_bit_identical_run(vgg19):
    kwargs = dict(model=vgg19, size=40, iterations=3, init="noise", seed=7)
    a = transfer.stylize(CONTENT, STYLE, **kwargs)
    b = transfer.stylize(CONTENT, STYLE, **kwargs)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.history == b.history
    c = transfer.stylize(CONTENT, STYLE, **{**kwargs, "seed": 8})
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize("optimizer, lr", [("adam", 5.0), ("gd", 1e-10)])
def test_first_order_optimizers_lower_the_loss(vgg19, optimizer, lr):
    result = transfer.stylize(CONTENT, STYLE, model=vgg19, size=32, iterations=4,
                              optimizer=optimizer, lr=lr, init="noise")
    assert result.history["total"][-1] < result.history["total"][0]


def test_texture_synthesis_takes_the_style_images_shape(vgg19):
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, ::4] = [200, 30, 30]
    result = nst.texture([wide, STYLE], model=vgg19, size=32, iterations=2,
                         style_blend=[2, 1], style_layers=["relu1_1", "relu2_1"])
    assert result.image.shape == (16, 32, 3)
    assert result.history["content"] == [0.0, 0.0]
    # stylize(None, ...) is the same texture
    again = transfer.stylize(None, [wide, STYLE], model=vgg19, size=32, iterations=2,
                             style_blend=[2, 1], style_layers=["relu1_1", "relu2_1"])
    assert again.history == result.history


def blue_stripes():
    blue = np.zeros((32, 32, 3), np.uint8)
    blue[:, :, 2] = 230
    blue[::4, :, :2] = 90                 # stripes: a strongly blue style with a texture
    return blue


def test_luminance_transfer_keeps_the_content_colours(vgg19):
    content = im.load_image(CONTENT, size=32)
    result = transfer.stylize(content, blue_stripes(), model=vgg19, size=32, iterations=5,
                              preserve_color="luminance")
    IQ, IQ_content = im.rgb_to_yiq(result.image)[..., 1:], im.rgb_to_yiq(content)[..., 1:]
    # The output's I, Q are the content's, up to uint8 rounding and clipping to the RGB cube.
    assert np.abs(IQ - IQ_content).mean() < 1.0
    assert np.abs(result.image.astype(int) - content).mean() > 5   # yet it did change


def test_histogram_matching_transfers_the_recoloured_style(vgg19):
    # With preserve_color="histogram" the targets are the style recoloured to the content's
    # colour statistics: the result must match that recoloured style better than a plain run.
    content, blue = im.load_image(CONTENT, size=32), blue_stripes()
    runs = {mode: transfer.stylize(content, blue, model=vgg19, size=32, iterations=5,
                                   preserve_color=mode) for mode in (None, "histogram")}
    recoloured = im.match_colour(blue, content)
    layers = nst.STYLE_LAYERS

    def style_error(rgb):
        return sum(style_losses_per_layer(vgg19, rgb, recoloured, layers).values())

    assert style_error(runs["histogram"].image) < 0.5 * style_error(runs[None].image)


def test_callback_progress_and_early_stop(vgg19, capsys):
    import io
    seen, stream = [], io.StringIO()

    def callback(state):
        seen.append((state.iteration, state.losses.total, state.image().shape))
        return state.iteration == 2

    result = transfer.stylize(CONTENT, STYLE, model=vgg19, size=24, iterations=10,
                              callback=callback, progress=loop.Progress(10, stream=stream, every=1))
    assert [s[0] for s in seen] == [1, 2] and seen[0][2] == result.image.shape
    assert result.stopped == "callback" and result.iterations == 2
    text = stream.getvalue()
    assert text.count("\n") == 2 and "content" in text and "style" in text and "tv" in text


class NaNAfter:
    """A VGG whose activations turn NaN from the n-th forward pass on."""

    def __init__(self, model, n):
        self.model, self.n, self.calls = model, n, 0
        self.layer_names, self.resolve = model.layer_names, model.resolve

    def forward(self, x, layers):
        self.calls += 1
        out, tape = self.model.forward(x, layers)
        return ({k: v * np.nan for k, v in out.items()} if self.calls >= self.n else out), tape

    def features(self, x, layers):
        return self.forward(x, layers)[0]

    def backward(self, grads, tape, to=None):
        return self.model.backward(grads, tape, to)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_image(vgg19):
    seen = []
    model = NaNAfter(vgg19, n=6)   # 2 target passes, then the optimizer's evaluations
    with pytest.warns(RuntimeWarning, match="nan"):
        result = transfer.stylize(CONTENT, STYLE, model=model, size=24, iterations=20,
                                  optimizer="adam", callback=lambda s: seen.append(s.image()))
    assert result.stopped == "nonfinite" and "nan" in result.message
    # calls 1-2: the targets; 3: Adam at x0; 4, 5: after steps 1 and 2; 6: NaN.
    assert result.iterations == len(seen) == 2
    np.testing.assert_array_equal(result.image, seen[-1])


def test_ctrl_c_returns_the_best_image_so_far(vgg19):
    def callback(state):
        if state.iteration == 2:
            raise KeyboardInterrupt

    result = transfer.stylize(CONTENT, STYLE, model=vgg19, size=24, iterations=10, callback=callback)
    assert result.stopped == "interrupted" and result.iterations == 2
    assert result.best_image.shape == result.image.shape


def test_progress_rewrites_one_line_on_a_terminal():
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = loop.Progress(3, stream=stream)
    for k, total in ((1, 12345.0), (2, 9.0), (3, 8.0)):
        progress(loop.IterationState(k, Losses(total, 1.0, 2.0, 3.0), None))
    progress.close()
    lines = stream.getvalue().split("\r")[1:]
    assert len(lines) == 3 and stream.getvalue().count("\n") == 1
    assert "iter 3/3" in lines[-1] and "loss 8 " in lines[-1]
    assert len(lines[1]) >= len(lines[0])      # a shorter line is padded over the longer one


def test_stalled_is_the_mean_relative_fall_over_the_window():
    falling = [100.0 - k for k in range(12)]   # falls by 1 per iteration: 1/100 .. relative
    assert not loop.stalled(falling[:10], tol=1.0, window=10)     # no whole window yet
    # over the last 10: (L_1 - L_11) / (10 L_1) = 10 / (10 * 99) = 0.0101...
    assert loop.stalled(falling, tol=0.0102, window=10)
    assert not loop.stalled(falling, tol=0.0101, window=10)
    assert not loop.stalled([5.0] * 20, tol=0.0)                  # tol 0: never
    assert loop.stalled([5.0] * 20, tol=1e-12)                    # a flat loss has stalled


def test_tol_ends_the_run_where_the_rule_says_on_the_same_iterates(vgg19):
    n = loop.STOP_WINDOW + 6
    every = transfer.stylize(CONTENT, STYLE, model=vgg19, size=24, iterations=n, tol=0)
    assert every.iterations == n and every.stopped is None     # tol 0 runs every iteration
    losses = every.history["total"]
    # a tol that the rule meets within the run: the fall of the run's last window
    tol = (losses[-1 - loop.STOP_WINDOW] - losses[-1]) / (loop.STOP_WINDOW *
                                                          losses[-1 - loop.STOP_WINDOW]) * 1.01
    expected = next(k for k in range(1, n + 1) if loop.stalled(losses[:k], tol))
    stopped = transfer.stylize(CONTENT, STYLE, model=vgg19, size=24, iterations=n, tol=tol)
    assert stopped.iterations == expected <= n
    assert stopped.history["total"] == losses[:expected]        # a prefix of the whole run
    assert stopped.stopped == "converged" and "tol" in stopped.message
    with pytest.raises(ValueError, match="tol"):
        transfer.stylize(CONTENT, STYLE, model=vgg19, size=24, iterations=2, tol=-1)


def test_progress_in_a_log_starts_at_once_and_says_the_time_left():
    import io

    stream = io.StringIO()
    progress = loop.Progress(300, stream=stream)
    progress.begin(1, 1, (24, 32))
    assert stream.getvalue().startswith("32x24: the targets, then at most 300 iterations")
    for k in (1, 2, 30):   # the first iteration 20 s (the setup), then 2.0 s per iteration
        progress(loop.IterationState(k, Losses(10.0, 1.0, 2.0, 3.0), None,
                                     seconds=20.0 + 2.0 * (k - 1)))
    lines = stream.getvalue().splitlines()
    # the begin line, iteration 1 (before the first tenth), then every tenth
    assert [line.split("/")[0] for line in lines[1:]] == ["iter   1", "iter  30"]
    assert lines[1].endswith("(the first iteration, with the setup; the time left from the "
                             "next line)")
    assert lines[-1].endswith("(2.00s/it, 9m00s left)")        # 270 iterations x 2 s
    # with a stopping rule the run may end sooner; a finer level counts four times
    stream = io.StringIO()
    progress = loop.Progress([50, 300], stream=stream, every=50)
    progress(loop.IterationState(50, Losses(10.0, 1.0, 2.0, 3.0), np.zeros((3, 12, 16)),
                                 level=1, levels=2, seconds=50.0, tol=1e-3))
    assert stream.getvalue().rstrip().endswith("(1.00s/it, at most 20m00s left)")
    assert loop.duration(59.6) == "1m00s" and loop.duration(3725) == "1h02m"


# --- coarse-to-fine ----------------------------------------------------------------------

def test_the_last_level_optimises_exactly_the_single_scale_objective(vgg19):
    # The loss the pyramid's last level reports at its final picture is the single-scale
    # objective's there: the same targets and weights at full size (the same float32
    # computation, so exactly equal).
    kwargs = dict(model=vgg19, size=48, tv_weight=3.0, beta=2e4)
    result = transfer.stylize(CONTENT, STYLE, iterations=[2, 1], scales=2, **kwargs)
    assert [level["shape"] for level in result.levels] == [(16, 24), (32, 48)]
    single = Objective(vgg19, [Content(CONTENT), GramStyle(STYLE, weight=2e4),
                               TotalVariation(3.0)], shape=(32, 48))
    assert single(result.x)[0] == result.history["total"][-1]


def test_a_coarse_level_keeps_content_and_style_in_balance(vgg19):
    # beta at a level is beta at full size times M_l(level) / M_l(full size), M_l the
    # positions of the first content layer (the content loss sums over them).
    style = GramStyle(STYLE, weight=2e4)
    M = {shape: terms.positions(vgg19, shape, ["relu4_2"])["relu4_2"]
         for shape in ((16, 24), (32, 48))}
    coarse = Objective(vgg19, [style], shape=(16, 24), full_shape=(32, 48))
    full = Objective(vgg19, [style], shape=(32, 48))
    assert full.weights == [2e4]
    assert coarse.weights[0] == pytest.approx(2e4 * M[(16, 24)] / M[(32, 48)])


def test_coarse_to_fine_starts_each_level_from_the_last_and_says_which_level_runs(vgg19):
    import io
    seen, stream = [], io.StringIO()
    result = transfer.stylize(CONTENT, STYLE, model=vgg19, size=128, iterations=[3, 2, 2],
                              scales=3, callback=lambda s: seen.append(
                                  (s.level, s.levels, s.iteration, s.step, s.x.shape)),
                              progress=loop.Progress([3, 2, 2], stream=stream, every=1))
    assert seen == [(1, 3, 1, 1, (3, 21, 32)), (1, 3, 2, 2, (3, 21, 32)), (1, 3, 3, 3, (3, 21, 32)),
                    (2, 3, 1, 4, (3, 42, 64)), (2, 3, 2, 5, (3, 42, 64)),
                    (3, 3, 1, 6, (3, 85, 128)), (3, 3, 2, 7, (3, 85, 128))]
    assert result.iterations == 7 and len(result.history["total"]) == len(result.times) == 7
    assert [level["shape"] for level in result.levels] == [(21, 32), (42, 64), (85, 128)]
    assert result.image.shape == (85, 128, 3) and result.times == sorted(result.times)
    assert result.best_loss == min(result.history["total"][-2:])   # the full-size level's
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("level 1/3 32x21  iter 1/3") and "first iteration" in lines[0]
    assert lines[1].startswith("level 1/3 32x21  iter 2/3") and "s/it" in lines[1]
    assert lines[-1].startswith("level 3/3 128x85  iter 2/2")


def test_upsample_keeps_the_picture_and_the_bounds():
    rgb = np.zeros((8, 12, 3), np.uint8)
    rgb[:, 6:] = 255                                       # half black, half white
    x = im.preprocess(rgb)
    up = pyramid.upsample(x, (16, 24))
    assert up.shape == (3, 16, 24) and up.dtype == x.dtype
    low, high = im.pixel_bounds(up.shape)
    assert np.all(up >= low) and np.all(up <= high)       # bicubic overshoot clipped
    back = im.deprocess(up)
    assert back[:, :10].max() <= 2 and back[:, 14:].min() >= 253


def test_ctrl_c_at_a_coarse_level_returns_a_picture_of_the_outputs_size(vgg19):
    # Stopped at level 1 of 2, the run still returns a picture of the full size (the coarse
    # level's, upsampled), and says so: -o and --resume expect the output's size.
    def stop_at_level_1(state):
        if state.level == 1 and state.iteration == 2:
            raise KeyboardInterrupt

    result = transfer.stylize(CONTENT, STYLE, model=vgg19, size=64, iterations=[5, 5],
                              scales=2, callback=stop_at_level_1)
    assert result.stopped == "interrupted" and result.iterations == 2
    assert result.image.shape == result.best_image.shape == (42, 64, 3)   # the demo is 3:2
    assert result.x.shape == (3, 42, 64)
    assert "upsampled to 64x42" in result.message


def test_ctrl_c_between_two_levels_keeps_the_first(vgg19):
    # A KeyboardInterrupt while the next level's targets are computed ends the run with the
    # levels before it, instead of losing them.
    terms_ = [Content(CONTENT), GramStyle(STYLE), TotalVariation()]
    built = []

    def objective_at(shape):
        built.append(shape)
        if len(built) == 2:
            raise KeyboardInterrupt
        return Objective(vgg19, terms_, shape, full_shape=(42, 64))

    x0 = transfer.starting_image("content", CONTENT, [STYLE], (21, 32), 0, np.float32)
    result = pyramid.pyramid(objective_at, x0, [(21, 32), (42, 64)], [3, 3])
    assert result.stopped == "interrupted" and result.iterations == 3
    assert result.image.shape == (42, 64, 3) and "level 1 of 2" in result.message
