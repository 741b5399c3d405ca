"""The nst-numpy command, through nst_numpy.cli.main([...]): stylize and demo."""

import os
import re

import numpy as np
import pytest

import nst_numpy
from nst_numpy import image as im
from nst_numpy import transfer
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


def test_help_lists_every_option(capsys):
    assert main(["stylize", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--output", "--size", "--iterations", "--optimizer", "--lr", "--init",
                   "--seed", "--save-every", "--print-every", "--lbfgs-memory", "--keep",
                   "--init-image", "--style-layer-weight-exp", "--plot", "--arch",
                   "--content-layers", "--style-layers",
                   "--layer-weights", "--alpha", "--beta", "--tv-weight", "--style-blend",
                   "--style-scale", "--preserve-color", "--pooling", "--weights",
                   "--plain", "--texture", "--quiet", "--scales", "--coarse-iterations", "--memory-limit"):
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
    assert code == 2 and "is the input image" in one_line_error(capsys)
    assert content.read_bytes() == before


@pytest.mark.parametrize("args, message", [
    (lambda d: [str(d / "missing.jpg"), STYLE, "-o", str(d / "o.png")], "does not exist"),
    (lambda d: [CONTENT, STYLE, "-o", str(d)], "is a directory"),
    (lambda d: [CONTENT, STYLE, "-o", str(d / "o.gif2")], "extension"),
    (lambda d: [CONTENT, STYLE, "-o", str(d / "no" / "o.png")], "does not exist"),
    (lambda d: [CONTENT, "-o", str(d / "o.png")], "at least one style image"),
    (lambda d: [CONTENT, STYLE, "-o", str(d / "o.png"), "--style-blend", "1,x"], "--style-blend"),
    (lambda d: [CONTENT, STYLE, "-o", str(d / "o.png"), "--layer-weights", "1"], "--layer-weights"),
])
def test_bad_input_is_a_one_line_error(tmp_path, capsys, args, message):
    assert main(["stylize", *args(tmp_path), *FAST]) == 2
    assert message in one_line_error(capsys)
    assert not (tmp_path / "o.png").exists()


def test_a_corrupt_image_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    assert main(["stylize", CONTENT, str(bad), "-o", str(tmp_path / "o.png"), *FAST]) == 2
    assert "cannot read image" in one_line_error(capsys)


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


def test_ctrl_c_saves_the_best_image_so_far(tmp_path, capsys, monkeypatch):
    call = transfer.Objective.__call__
    calls = []

    def interrupted_on_the_fourth_call(self, x):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return call(self, x)

    monkeypatch.setattr(transfer.Objective, "__call__", interrupted_on_the_fourth_call)
    out = tmp_path / "o.png"
    code = main(["stylize", CONTENT, STYLE, "-o", str(out), "--size", "24",
                 "--iterations", "20", "--quiet"])
    assert code == 130
    assert "saved the best image so far" in capsys.readouterr().err
    assert im.load_image(out).shape == (16, 24, 3)


def test_demo_writes_into_the_current_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", *FAST]) == 0
    out = tmp_path / "nst_demo.png"
    assert os.path.abspath(out) in capsys.readouterr().out
    rgb = im.load_image(out)
    assert rgb.shape == (16, 24, 3) and rgb.std() > 5


def test_demo_refuses_to_overwrite_its_own_images(capsys):
    assert main(["demo", "-o", CONTENT, *FAST]) == 2
    assert "is the input image" in one_line_error(capsys, "demo")


def test_stylize_coarse_to_fine_numbers_intermediates_over_all_levels(tmp_path):
    out = tmp_path / "out.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--size", "64", "--scales", "2",
                 "--coarse-iterations", "2", "--iterations", "1", "--save-every", "1",
                 "--quiet"]) == 0
    assert im.load_image(out).shape == (42, 64, 3)
    # two coarse pictures, then the full-size one: OUT_0001 .. OUT_0003
    shapes = [im.load_image(tmp_path / f"out_000{k}.png").shape for k in (1, 2, 3)]
    assert shapes == [(21, 32, 3), (21, 32, 3), (42, 64, 3)]


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


def test_lbfgs_memory_reaches_the_optimizer():
    # One past step instead of ten: the same start, a different curvature model, another path.
    kwargs = dict(size=24, iterations=6)
    default = transfer.stylize(CONTENT, STYLE, **kwargs)
    short = transfer.stylize(CONTENT, STYLE, lbfgs_memory=1, **kwargs)
    ten = transfer.stylize(CONTENT, STYLE, lbfgs_memory=10, **kwargs)
    assert ten.history["total"] == default.history["total"]
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


def test_plot_draws_the_loss_history(tmp_path):
    out, plot = tmp_path / "out.png", tmp_path / "losses.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--plot", str(plot), *FAST]) == 0
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
    assert transfer.default_model(str(weights)).arch == "vgg16"   # read from the file
    out = tmp_path / "out.png"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--weights", str(weights),
                 *FAST]) == 0
    assert im.load_image(out).shape == (16, 24, 3)
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--weights", str(weights),
                 "--arch", "vgg16", *FAST]) == 0
    capsys.readouterr()
    assert main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "no.png"), "--weights",
                 str(weights), "--arch", "vgg19", *FAST]) == 2
    assert "holds vgg16 weights, not vgg19" in one_line_error(capsys)
    assert main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "no.png"), "--arch", "vgg16",
                 *FAST]) == 2
    assert "ships VGG19 weights only" in one_line_error(capsys)
    assert not (tmp_path / "no.png").exists()
