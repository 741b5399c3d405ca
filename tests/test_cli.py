"""The nst-numpy command, through nst_numpy.cli.main([...]): stylize and demo."""

import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

import nst_numpy
from nst_numpy import image as im
from nst_numpy import optim, pyramid, terms, transfer
from nst_numpy.cli import main

CONTENT, STYLE = im.demo_images()
FAST = ["--size", "24", "--iterations", "2", "--quiet"]


def test_stylize_writes_the_picture_and_intermediates(tmp_path, capsys):
    out = tmp_path / "out.png"
    code = main(["stylize", CONTENT, STYLE, STYLE, "-o", str(out), "--save-every", "1",
                 "--style-blend", "2,1", "--tv-weight", "1", *FAST])
    assert code == 0
    assert im.load_image(out).shape == (16, 24, 3)
    assert (tmp_path / "out_0001.png").exists() and (tmp_path / "out_0002.png").exists()
    assert f"wrote {out}" in capsys.readouterr().out


def test_stylize_texture_mode(tmp_path):
    out = tmp_path / "texture.jpg"
    assert main(["stylize", "--texture", STYLE, "-o", str(out), "--style-layers",
                 "relu1_1,relu2_1", "--layer-weights", "0.5,0.5", "--plain",
                 *FAST]) == 0
    assert im.load_image(out).shape == (24, 24, 3)


def test_texture_starts_from_noise_or_from_the_style_as_asked(tmp_path):
    # --texture --init style starts from the first style image, as the API's init="style"
    # does; the default is noise (once, --init style was silently noise).
    paths = {init: tmp_path / f"{init}.png" for init in ("default", "noise", "style")}
    for init, path in paths.items():
        options = [] if init == "default" else ["--init", init]
        assert main(["stylize", "--texture", STYLE, "-o", str(path), *options, *FAST]) == 0
    pictures = {init: im.load_image(path) for init, path in paths.items()}
    np.testing.assert_array_equal(pictures["default"], pictures["noise"])
    assert not np.array_equal(pictures["style"], pictures["noise"])
    api = transfer.stylize(None, STYLE, init="style", size=24, iterations=2)
    np.testing.assert_array_equal(pictures["style"], api.best_image)


def test_help_lists_every_option(capsys):
    assert main(["stylize", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--output", "--size", "--iterations", "--optimizer", "--lr", "--init",
                   "--seed", "--save-every", "--print-every", "--lbfgs-memory", "--keep",
                   "--init-image", "--style-layer-weight-exp", "--plot", "--arch",
                   "--content-layers", "--style-layers", "--content-layer-weights", "--style-loss",
                   "--masks", "--normalize-gradients", "--normalized-vgg", "--resume",
                   "--layer-weights", "--alpha", "--beta", "--tv-weight", "--style-blend",
                   "--style-scale", "--preserve-color", "--pooling", "--weights",
                   "--plain", "--texture", "--quiet", "--scales", "--coarse-iterations", "--memory-limit",
                   "--tol"):
        assert option in text, option


def one_line_error(capsys, command="stylize"):
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"nst-numpy {command}: error: ") and "\n" not in err, err
    return err


def test_output_equal_to_an_input_is_refused_and_untouched(tmp_path, capsys):
    content = tmp_path / "photo.png"
    im.save_image(im.load_image(CONTENT, size=24), content)
    before = content.read_bytes()
    code = main(["stylize", str(content), STYLE, "-o", str(tmp_path / "." / "photo.png"), *FAST])
    assert code == 2 and "is the input file" in one_line_error(capsys)
    assert content.read_bytes() == before


def test_nonfinite_loss_fails_in_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "o.png"
    # alpha = 1e38 overflows float32: the first loss or its gradient is infinite (which one
    # depends on NumPy's scalar promotion rules), no image was made.
    code = main(["stylize", CONTENT, STYLE, "-o", str(out), "--alpha", "1e38",
                 "--init", "noise", *FAST])
    assert code == 2
    err = one_line_error(capsys)
    assert re.search(r"the (loss|gradient) became (inf|NaN or infinite)", err), err
    assert "nothing was written" in err
    assert not out.exists()


def test_demo_writes_into_the_current_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", *FAST]) == 0
    out = tmp_path / "nst_demo.png"
    assert os.path.abspath(out) in capsys.readouterr().out
    rgb = im.load_image(out)
    assert rgb.shape == (16, 24, 3) and rgb.std() > 5


def test_demo_refuses_to_overwrite_its_own_images(capsys):
    assert main(["demo", "-o", CONTENT, *FAST]) == 2
    assert "is the input file" in one_line_error(capsys, "demo")


def test_stylize_coarse_to_fine_numbers_intermediates_over_all_levels(tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--size", "64", "--scales", "2",
                 "--coarse-iterations", "2", "--iterations", "1", "--save-every", "1",
                 "--quiet"]) == 0
    # the count run is the count said: the coarse level's on top of --iterations
    assert "3 iterations, 2 + 1 by level, coarse to fine," in capsys.readouterr().out
    assert im.load_image(out).shape == (42, 64, 3)
    # two coarse pictures, then the full-size one: OUT_0001 .. OUT_0003
    shapes = [im.load_image(tmp_path / f"out_000{k}.png").shape for k in (1, 2, 3)]
    assert shapes == [(21, 32, 3), (21, 32, 3), (42, 64, 3)]


def test_help_says_how_many_iterations_scales_runs(capsys):
    assert main(["stylize", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"--scales 2 --iterations 6 runs {pyramid.COARSE_ITERATIONS} + 6" in text
    assert f"on top of --iterations (default {pyramid.COARSE_ITERATIONS})" in text
    assert pyramid.level_iterations(6, 2) == [pyramid.COARSE_ITERATIONS, 6]


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"nst-numpy {nst_numpy.__version__}"


def test_print_every_prints_a_line_every_n_iterations(tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--size", "24",
                 "--iterations", "6", "--print-every", "2"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "iter" in line]
    assert [line.split()[1] for line in lines] == ["2/6", "4/6", "6/6"]
    assert not any("\r" in line for line in lines)


# Adam at lr 25 from the demo content at 24 px: its second iterate is worse than its first
# (and still below the start, so the run counts as a success): best and last differ.
ADAM_BEST_FIRST = ["--size", "24", "--iterations", "2", "--optimizer", "adam", "--lr", "25",
                   "--quiet"]


def test_the_best_image_is_written_unless_keep_last(tmp_path):
    result = transfer.stylize(CONTENT, STYLE, size=24, iterations=2, optimizer="adam", lr=25)
    assert result.history["total"][0] < result.history["total"][1] < result.initial.total
    assert not np.array_equal(result.best_image, result.image)
    assert result.best_loss == min(result.history["total"])
    best, last = tmp_path / "best.png", tmp_path / "last.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(best), *ADAM_BEST_FIRST]) == 0
    assert main(["stylize", CONTENT, STYLE, "-o", str(last), *ADAM_BEST_FIRST,
                 "--keep", "last"]) == 0
    np.testing.assert_array_equal(im.load_image(best), result.best_image)
    np.testing.assert_array_equal(im.load_image(last), result.image)


def test_a_run_whose_loss_ends_above_its_start_writes_its_best_image(tmp_path, capsys):
    # Adam with too large a step: below the start at iteration 2, above it at the end.
    adam = ["--size", "24", "--iterations", "5", "--optimizer", "adam", "--lr", "50"]
    result = transfer.stylize(CONTENT, STYLE, size=24, iterations=5, optimizer="adam", lr=50)
    assert result.stopped == "diverged" and result.loss > result.initial.total
    assert result.best_loss < result.initial.total
    out = tmp_path / "out.png"
    for keep in ("best", "last"):   # the last is worse than the start: the best either way
        assert main(["stylize", CONTENT, STYLE, "-o", str(out), *adam, "--quiet",
                     "--keep", keep]) == 0
        err = capsys.readouterr().err
        assert "the loss rose" in err and "wrote the best image" in err, err
        assert f"{result.best_loss:.4g}" in err
        np.testing.assert_array_equal(im.load_image(out), result.best_image)


def test_lbfgs_memory_reaches_the_optimizer():
    # One past step instead of the default's: the same start, a different curvature model,
    # another path; the default's number given explicitly is the default run.
    kwargs = dict(size=24, iterations=6)
    default = transfer.stylize(CONTENT, STYLE, **kwargs)
    short = transfer.stylize(CONTENT, STYLE, lbfgs_memory=1, **kwargs)
    same = transfer.stylize(CONTENT, STYLE, lbfgs_memory=optim.LBFGS_MEMORY, **kwargs)
    assert same.history["total"] == default.history["total"]
    assert short.history["total"] != default.history["total"]


def test_init_image_starts_from_that_image(tmp_path):
    # The content file as --init-image is resized exactly as the content is: the same run.
    # Another image is another start, and another picture.
    default, same, other = (tmp_path / f"{name}.png" for name in ("default", "same", "other"))
    assert main(["stylize", CONTENT, STYLE, "-o", str(default), *FAST]) == 0
    assert main(["stylize", CONTENT, STYLE, "-o", str(same), "--init-image", CONTENT, *FAST]) == 0
    assert main(["stylize", CONTENT, STYLE, "-o", str(other), "--init-image", STYLE, *FAST]) == 0
    np.testing.assert_array_equal(im.load_image(same), im.load_image(default))
    assert not np.array_equal(im.load_image(other), im.load_image(default))


def test_init_accepts_an_array_resized_to_the_output():
    kwargs = dict(size=24, iterations=2)
    default = transfer.stylize(CONTENT, STYLE, **kwargs)
    from_array = transfer.stylize(CONTENT, STYLE, init=im.load_image(CONTENT), **kwargs)
    assert from_array.history["total"] == default.history["total"]


def test_style_layer_weight_exp_is_the_normalised_geometric_weights(tmp_path):
    # E = 2 over two layers: weights 1/3, 2/3, the same run as giving them by hand.
    layers = ["--style-layers", "relu1_1,relu2_1"]
    by_exp, by_hand = tmp_path / "exp.png", tmp_path / "hand.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(by_exp), *layers,
                 "--style-layer-weight-exp", "2", *FAST]) == 0
    assert main(["stylize", CONTENT, STYLE, "-o", str(by_hand), *layers,
                 "--layer-weights", f"{1 / 3!r},{2 / 3!r}", *FAST]) == 0
    np.testing.assert_array_equal(im.load_image(by_exp), im.load_image(by_hand))


def test_plot_draws_the_loss_history(tmp_path, capsys):
    out, plot = tmp_path / "out.png", tmp_path / "losses.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--plot", str(plot), *FAST]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"; losses drawn in {plot}")
    picture = im.load_image(plot)
    assert picture.shape == (400, 700, 3)          # 7 x 4 inches at 100 dpi
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 10   # lines drawn, not a blank


def test_plot_without_matplotlib_says_what_to_install_before_the_run(tmp_path, capsys,
                                                                     monkeypatch):
    import importlib.util
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a))
    monkeypatch.setattr(transfer, "stylize", _must_not_run)
    out = tmp_path / "out.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--plot",
                 str(tmp_path / "l.png"), *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install "nst-numpy[plot]"' in err
    assert not out.exists()


def _must_not_run(*args, **kwargs):
    raise AssertionError("the run started although its options were refused")


def test_result_plot_draws_into_given_axes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    result = transfer.stylize(CONTENT, STYLE, size=48, iterations=3, scales=2)
    fig, ax = plt.subplots()
    assert result.plot(ax=ax) is ax
    assert {line.get_label() for line in ax.get_lines()} >= {"total", "content", "style"}
    assert len(ax.get_lines()[0].get_xdata()) == len(result.history["total"])
    plt.close(fig)


def test_a_vgg16_file_runs_as_vgg16(tmp_path, capsys):
    from test_weights import write_keras_file   # the Keras notop layout, random weights

    weights = tmp_path / "vgg16_notop.h5"
    write_keras_file(weights, "vgg16")
    assert nst_numpy.load_vgg(str(weights)).arch == "vgg16"   # read from the file
    out = tmp_path / "out.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--weights", str(weights),
                 *FAST]) == 0
    assert im.load_image(out).shape == (16, 24, 3)
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--weights", str(weights),
                 "--arch", "vgg16", *FAST]) == 0
    capsys.readouterr()
    assert main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "no.png"), "--weights",
                 str(weights), "--arch", "vgg19", *FAST]) == 2
    message = one_line_error(capsys)
    assert "holds vgg16 weights, not vgg19" in message and "leave out --arch" in message
    assert main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "no.png"), "--arch", "vgg16",
                 *FAST]) == 2
    assert "ships VGG19 weights only" in one_line_error(capsys)
    assert not (tmp_path / "no.png").exists()


def test_content_layer_weights_reach_the_loss(tmp_path, capsys):
    # v = 0 on one of two content layers is the run with the other layer alone; v = 2 on a
    # single layer doubles its content term.
    kwargs = dict(size=24, iterations=3, style_layers=["relu1_1"])
    alone = transfer.stylize(CONTENT, STYLE, content_layers=["relu2_2"], **kwargs)
    zeroed = transfer.stylize(CONTENT, STYLE, content_layers=["relu2_2", "relu3_1"],
                              content_weights={"relu2_2": 1.0, "relu3_1": 0.0}, **kwargs)
    assert zeroed.history["total"] == alone.history["total"]
    doubled = transfer.stylize(CONTENT, STYLE, content_layers=["relu2_2"], init="noise",
                               content_weights={"relu2_2": 2.0}, iterations=1, size=24,
                               style_layers=[])
    single = transfer.stylize(CONTENT, STYLE, content_layers=["relu2_2"], init="noise",
                              iterations=1, size=24, style_layers=[])
    assert doubled.initial.content == pytest.approx(2 * single.initial.content, rel=1e-6)
    out = tmp_path / "o.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--content-layers",
                 "relu2_2,relu3_1", "--content-layer-weights", "1,0.5", *FAST]) == 0
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--content-layer-weights",
                 "1,0.5", *FAST]) == 2
    assert ("--content-layer-weights has 2 values for 1 layers in --content-layers"
            in one_line_error(capsys))


def test_normalize_gradients_runs_with_adam_and_refuses_lbfgs(tmp_path, capsys):
    out = tmp_path / "o.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--normalize-gradients",
                 "--optimizer", "lbfgs", *FAST]) == 2
    assert "--optimizer adam" in one_line_error(capsys)
    with pytest.raises(ValueError, match="optimizer='adam' or optimizer='gd'"):
        transfer.stylize(CONTENT, STYLE, size=24, iterations=1, optimizer="lbfgs",
                         normalize_gradients=True)
    # Adam by default; the same weights with the true gradient take another path (Adam's
    # first step has the gradient's signs, so the paths part from the second step on).
    kwargs = dict(size=24, iterations=3, beta=100.0, tv_weight=1e-5)
    plain = transfer.stylize(CONTENT, STYLE, optimizer="adam", **kwargs)
    normalized = transfer.stylize(CONTENT, STYLE, normalize_gradients=True, **kwargs)
    assert normalized.history["total"] != plain.history["total"]
    # It does not descend the loss: the picture kept as best is the last one.
    assert normalized.best_loss == normalized.loss
    np.testing.assert_array_equal(normalized.best_image, normalized.image)
    with pytest.raises(ValueError, match="give lr"):
        transfer.stylize(CONTENT, STYLE, size=24, iterations=1, optimizer="gd",
                         normalize_gradients=True)
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--normalize-gradients",
                 "--tv-weight", "1e-5", "--beta", "5", *FAST]) == 0


def test_resume_continues_from_a_saved_picture_of_the_outputs_size(tmp_path, capsys):
    first, resumed, again = (tmp_path / f"{n}.png" for n in ("first", "resumed", "again"))
    assert main(["stylize", CONTENT, STYLE, "-o", str(first), *FAST, "--keep", "last"]) == 0
    assert main(["stylize", CONTENT, STYLE, "-o", str(resumed), "--resume", str(first),
                 *FAST]) == 0
    start = transfer.stylize(CONTENT, STYLE, size=24, iterations=2, init=str(first))
    np.testing.assert_array_equal(im.load_image(resumed), start.best_image)
    # The checkpoint is an input: never overwritten.
    before = first.read_bytes()
    assert main(["stylize", CONTENT, STYLE, "-o", str(first), "--resume", str(first), *FAST]) == 2
    assert "is the input file" in one_line_error(capsys)
    assert first.read_bytes() == before
    # Another size is another run: --init-image resizes, --resume refuses.
    assert main(["stylize", CONTENT, STYLE, "-o", str(again), "--resume", str(first),
                 "--size", "36", "--iterations", "1", "--quiet"]) == 2
    assert "is 24x16 but the output is 36x24" in one_line_error(capsys)
    assert main(["stylize", CONTENT, STYLE, "-o", str(again), "--resume", str(first),
                 "--init", "noise", *FAST]) == 2
    assert "argument --init: not allowed with argument --resume" in one_line_error(capsys)
    assert not again.exists()


def test_style_loss_mrf_runs_on_its_own_layers(tmp_path, capsys):
    out = tmp_path / "mrf.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--style-loss", "mrf",
                 "--size", "40", "--iterations", "2", "--quiet"]) == 0
    assert im.load_image(out).shape == (27, 40, 3)
    result = transfer.stylize(CONTENT, STYLE, style_loss="mrf", size=40, iterations=2)
    assert result.initial.style > 0 and result.history["style"][-1] < result.initial.style
    assert main(["stylize", CONTENT, STYLE, STYLE, "-o", str(out), "--style-loss", "mrf",
                 "--style-blend", "1,2", *FAST]) == 2
    assert "--style-blend does not apply with --style-loss mrf" in one_line_error(capsys)


def test_normalized_vgg_and_its_defaults(tmp_path, capsys):
    from nst_numpy.objective import Objective
    from nst_numpy.terms import GramStyle, TotalVariation

    shape = transfer.output_shape(CONTENT, 64)
    M = 8 * 5   # relu4_2 of a 64x43 output: three poolings
    defaults = [GramStyle(STYLE), TotalVariation()]
    normalized = Objective(nst_numpy.load_vgg(normalized=True), defaults, shape)
    assert normalized.weights == pytest.approx([terms.NORMALIZED_STYLE_PER_POSITION * M,
                                                terms.NORMALIZED_TV_WEIGHT])
    original = Objective(nst_numpy.load_vgg(), defaults, shape)
    assert original.weights == pytest.approx([terms.STYLE_PER_POSITION * M, terms.TV_WEIGHT])
    out = tmp_path / "n.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--normalized-vgg", *FAST]) == 0
    plain = tmp_path / "p.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(plain), *FAST]) == 0
    assert not np.array_equal(im.load_image(out), im.load_image(plain))
    with pytest.raises(ValueError, match="normalized chooses the network that stylize loads"):
        transfer.stylize(CONTENT, STYLE, model=nst_numpy.load_vgg(), normalized=True,
                         size=24, iterations=1)


def test_the_default_optimizer_follows_the_objective():
    from nst_numpy.loop import default_optimizer
    from nst_numpy.terms import GramStyle, MRFStyle, NormalizedGradients, TotalVariation

    assert default_optimizer([GramStyle(STYLE), TotalVariation()]) == "lbfgs"
    assert default_optimizer([MRFStyle(STYLE), TotalVariation()]) == "adam"
    assert default_optimizer([NormalizedGradients(GramStyle(STYLE)), TotalVariation()]) == "adam"
    result = transfer.stylize(CONTENT, STYLE, style_loss="mrf", size=48, iterations=3)
    assert result.evaluations == 4   # Adam: one evaluation per iteration, and the start's
    # relu4_1 of a 32x21 output is 4x2: too small for a 3x3 patch, said before any work
    with pytest.raises(ValueError, match="too small to hold a 3x3 patch of relu4_1, which needs 24 px"):
        transfer.stylize(CONTENT, STYLE, style_loss="mrf", size=32, iterations=3)


def start_command(argv, first_line):
    """``nst-numpy argv`` in a subprocess, once its stderr has printed a line containing
    ``first_line``; returns (process, the lines read so far)."""
    # A shell's background job (`pytest &`) inherits SIGINT ignored, and Python then leaves
    # Ctrl-C ignored: the command starts with the disposition a terminal gives it.
    proc = subprocess.Popen([sys.executable, "-m", "nst_numpy.cli", *argv],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if first_line in line:
            return proc, lines
    proc.wait()
    raise AssertionError(f"the command ended before printing {first_line!r}: {lines}")


@pytest.mark.parametrize("command, signal_name", [("stylize", "SIGINT"), ("stylize", "SIGTERM"),
                                                   ("invert", "SIGTERM"), ("stylize", "SIGHUP")])
def test_sigterm_saves_the_best_image_like_ctrl_c(tmp_path, command, signal_name):
    # A run told to stop by the system (a batch queue's time limit, a closed terminal) saves
    # what it has, says so in one line and exits 128 + the signal's number.
    out = tmp_path / "out.png"
    # stylize's stopping rule would end the run first (invert has none)
    images = [CONTENT, STYLE, "--tol", "0"] if command == "stylize" else [CONTENT]
    proc, _ = start_command([command, *images, "-o", str(out), "--size", "32",
                             "--iterations", "100000", "--print-every", "1"], "iter")
    signum = getattr(signal, signal_name)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    said = [line for line in err.splitlines() if not line.startswith("iter")]
    assert proc.returncode == 128 + signum, err
    stopped = "interrupted" if signal_name == "SIGINT" else f"terminated by {signal_name}"
    assert len(said) == 1 and said[0].startswith(f"nst-numpy {command}: {stopped} after "), said
    assert said[0].endswith(f"saved the best image so far to {out}")
    assert im.load_image(out).shape == (21, 32, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]   # no temporary left
