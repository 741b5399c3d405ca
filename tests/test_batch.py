"""nst-numpy batch and nst_numpy.batch: many contents times one or more styles, the network
loaded once, each style's targets computed once and reused honestly, outputs named after
their inputs, existing pictures skipped, one failing input reported while the rest go on."""

import os
import re

import numpy as np
import pytest

from nst_numpy import batch, image as im, load_vgg19, terms, transfer
from nst_numpy.cli import main
from nst_numpy.options import Config

CONTENT, STYLE = im.demo_images()
TINY = dict(size=24, iterations=2)


@pytest.fixture(scope="module")
def vgg19():
    return load_vgg19()


def picture(size=(24, 32), seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[0], 0:size[1]]
    base = np.stack([x * 7, y * 9, (x + y) * 4], axis=2) % 256
    return (base + rng.integers(0, 30, (*size, 3))).astype(np.uint8)


@pytest.fixture
def inputs(tmp_path):
    """photos/ with two contents of different shapes (and a text file), and two styles."""
    photos = tmp_path / "photos"
    photos.mkdir()
    im.save_image(picture((24, 32), 0), photos / "cat.png")
    im.save_image(picture((30, 20), 1), photos / "dog.jpg")
    (photos / "notes.txt").write_text("not a picture")
    im.save_image(picture((28, 28), 2), tmp_path / "wave.png")
    im.save_image(picture((20, 24), 3)[::-1], tmp_path / "swirl.png")
    return tmp_path


# --- which files, and their outputs --------------------------------------------------

def test_expand_reads_folders_patterns_and_paths_once_each(inputs):
    photos = inputs / "photos"
    found = batch.expand([str(photos), str(photos / "c*.png"), str(photos / "cat.png")],
                         "content")
    assert found == [str(photos / "cat.png"), str(photos / "dog.jpg")]
    for sources, message in [([str(inputs / "nope.png")], "does not exist"),
                             ([str(inputs / "*.tif")], "no content file matches"),
                             ([str(inputs / "empty")], "holds no image")]:
        (inputs / "empty").mkdir(exist_ok=True)
        with pytest.raises(ValueError, match=message):
            batch.expand(sources, "content")


def test_outputs_are_named_after_both_inputs():
    assert batch.output_path("out", "a/cat.jpg", "styles/wave.png") == os.path.join(
        "out", "cat_wave.png")
    assert batch.output_path("out", "cat.jpg", "wave.png", "jpg").endswith("cat_wave.jpg")


def test_two_inputs_of_one_name_are_refused_before_any_run(inputs, monkeypatch):
    other = inputs / "other"
    other.mkdir()
    im.save_image(picture((24, 24), 5), other / "cat.png")
    monkeypatch.setattr(batch, "load_vgg", _must_not_run)
    with pytest.raises(ValueError, match="would both write"):
        batch.stylize_batch([inputs / "photos", other / "cat.png"], inputs / "wave.png",
                            inputs / "out", **TINY)
    assert not (inputs / "out").exists()


def _must_not_run(*args, **kwargs):
    raise AssertionError("work started although the batch was refused")


# --- the style's targets, computed once ----------------------------------------------

@pytest.mark.parametrize("style_term", [terms.GramStyle, terms.MRFStyle, terms.W2Style])
def test_reused_style_targets_equal_fresh_ones_for_any_aspect_ratio(random_vgg, style_term):
    # The same style term for outputs of one longest side and three aspect ratios: the
    # targets come from one forward pass of the style image, and equal those computed
    # afresh to round-off (float64: rtol 1e-12, a rescaling by M_l / M_l' and nothing more).
    model = random_vgg()
    calls = []
    features = model.features
    model_counting = type("Counting", (), {
        "features": lambda self, x, layers: calls.append(x.shape) or features(x, layers),
        "__getattr__": lambda self, name: getattr(model, name)})()
    style = picture((20, 28), 4)
    layers = ["relu1_1", "relu2_1", "relu3_1"]
    shared = batch.StyleTargets()
    for shape in [(16, 24), (24, 16), (24, 24), (16, 24)]:
        term = shared([style_term(style, layers)])[0]
        reused = term.targets(model_counting, shape, np.float64)
        fresh = style_term(style, layers).targets(model, shape, np.float64)
        for layer in layers:
            for got, expected in zip(parts(reused[layer]), parts(fresh[layer])):
                np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert calls == [(3, 17, 24)], calls   # one forward pass: the style at 24 px
    assert (shared.computed, shared.reused) == (1, 3)


def parts(target):
    """A Gram matrix, or an MRF target's patches and norms, as a list of arrays."""
    return [target] if isinstance(target, np.ndarray) else list(target)


def test_targets_are_reused_only_for_the_same_style_image_and_layers(random_vgg, tmp_path):
    # The key names what the targets depend on: another image (or the same file changed),
    # other layers or another scale compute afresh; a copy of the same pixels does not.
    first, second = picture((20, 28), 4), picture((20, 28), 5)
    path = tmp_path / "style.png"
    im.save_image(first, path)
    model, shared, shape = random_vgg(), batch.StyleTargets(), (16, 24)
    layers = ["relu1_1", "relu2_1"]
    runs = [terms.GramStyle(first, layers), terms.GramStyle(first.copy(), layers),
            terms.GramStyle(second, layers), terms.GramStyle(first, layers=["relu1_1"]),
            terms.GramStyle(first, layers, scale=0.5), terms.GramStyle(str(path), layers),
            terms.GramStyle(str(path), layers)]
    for term in runs:
        shared([term])[0].targets(model, shape, np.float64)
    assert (shared.computed, shared.reused) == (5, 2)
    im.save_image(second, path)
    os.utime(path, ns=(0, 1))   # another time of change, whatever the clock's resolution
    shared([terms.GramStyle(str(path), layers)])[0].targets(model, shape, np.float64)
    assert (shared.computed, shared.reused) == (6, 2)


def test_a_subclass_with_targets_of_its_own_is_not_reused_unless_it_says_its_key():
    # Its targets may depend on something the parent's key does not name.
    class Brighter(terms.GramStyle):
        def targets(self, model, shape, dtype):
            return super().targets(model, shape, dtype)

    class Keyed(Brighter):
        targets_key = terms.GramStyle.targets_key

    style, layers = picture(), ["relu1_1"]
    assert terms.GramStyle(style, layers).targets_key() is not None
    assert Brighter(style, layers).targets_key() is None
    assert Keyed(style, layers).targets_key() is not None
    for cls in (terms.MRFStyle, terms.W2Style):
        assert cls(style, layers).targets_key() is not None
    assert terms.GramStyle(style, layers).targets_key() != terms.MRFStyle(
        style, layers).targets_key()


def test_guided_targets_are_reused_for_the_same_shape_only(random_vgg):
    model, mask, shared = random_vgg(), np.ones((10, 10)), batch.StyleTargets()
    for shape in [(16, 24), (16, 24), (24, 16)]:
        term = shared([terms.GuidedGramStyle([picture()], [mask], layers=["relu1_1"])])[0]
        term.targets(model, shape, np.float64)
    assert (shared.computed, shared.reused) == (2, 1)


def test_a_style_recoloured_to_each_content_is_not_reused(random_vgg):
    config = Config(dict(preserve_color="histogram", style_layers=["relu1_1"]))
    keep, _ = transfer.colour_preservation(CONTENT, "histogram")
    built = transfer.build_terms(config, CONTENT, [STYLE], keep)
    shared = batch.StyleTargets()
    shared(built)
    assert "targets" not in vars(built[1])   # the class's own: computed for each content


def test_a_batch_computes_each_styles_targets_once_and_equals_separate_runs(inputs, vgg19):
    # Two contents of different shapes, two styles: four runs, two style target
    # computations. Each picture is what stylize alone makes, to float32 round-off of the
    # rescaled targets (the second content's targets are rescaled, not recomputed).
    contents = [inputs / "photos"]
    styles = [inputs / "wave.png", inputs / "swirl.png"]
    reported = []
    result = batch.stylize_batch(contents, styles, inputs / "out", model=vgg19,
                                 report=reported.append, **TINY)
    assert [run.status for run in result.runs] == ["written"] * 4
    assert reported == result.runs
    assert sorted(os.listdir(inputs / "out")) == ["cat_swirl.png", "cat_wave.png",
                                                  "dog_swirl.png", "dog_wave.png"]
    assert [(t.computed, t.reused) for t in result.styles.values()] == [(1, 1), (1, 1)]
    alone = transfer.stylize(str(inputs / "photos" / "dog.jpg"), str(inputs / "swirl.png"),
                             model=vgg19, **TINY)   # its targets were the rescaled ones
    written = im.load_image(inputs / "out" / "dog_swirl.png").astype(int)
    assert np.abs(written - alone.best_image).max() <= 1
    assert "4 written" in result.summary() and "2 computed, 2 reused" in result.summary()


def test_a_batch_skips_what_is_there_and_overwrite_replaces_it(inputs, vgg19):
    out = inputs / "out"
    out.mkdir()
    (out / "cat_wave.png").write_bytes(b"an earlier run's picture")
    result = batch.stylize_batch(inputs / "photos" / "cat.png", inputs / "wave.png", out,
                                 model=vgg19, **TINY)
    assert [run.status for run in result.runs] == ["skipped"]
    assert (out / "cat_wave.png").read_bytes() == b"an earlier run's picture"
    result = batch.stylize_batch(inputs / "photos" / "cat.png", inputs / "wave.png", out,
                                 model=vgg19, overwrite=True, **TINY)
    assert [run.status for run in result.runs] == ["written"]
    assert im.load_image(out / "cat_wave.png").shape == (18, 24, 3)


def test_one_failing_input_is_reported_and_the_rest_go_on(inputs, vgg19):
    (inputs / "photos" / "broken.png").write_bytes(b"half a picture")
    im.save_image(picture((4, 40), 6), inputs / "photos" / "sliver.png")   # 2x24 at 24 px
    result = batch.stylize_batch(inputs / "photos", inputs / "wave.png", inputs / "out",
                                 model=vgg19, **TINY)
    status = {os.path.basename(run.content): run.status for run in result.runs}
    assert status == {"broken.png": "failed", "cat.png": "written", "dog.jpg": "written",
                      "sliver.png": "failed"}
    reasons = {os.path.basename(run.content): str(run.error) for run in result.failed}
    assert "cannot read image" in reasons["broken.png"]
    assert "too small to reach relu5_1" in reasons["sliver.png"]
    assert sorted(os.listdir(inputs / "out")) == ["cat_wave.png", "dog_wave.png"]


def test_a_bad_option_is_refused_before_any_run(inputs, vgg19):
    with pytest.raises(ValueError, match="lr has no effect"):
        batch.stylize_batch(inputs / "photos", inputs / "wave.png", inputs / "out",
                            model=vgg19, lr=1.0, **TINY)
    assert os.listdir(inputs / "out") == []
    with pytest.raises(ValueError, match="masks does not apply to a batch"):
        batch.stylize_batch(inputs / "photos", inputs / "wave.png", inputs / "out",
                            masks=[np.ones((4, 4))], **TINY)


def test_ctrl_c_stops_writes_nothing_of_the_run_cut_short_and_a_rerun_resumes(inputs, vgg19):
    stops = []

    def stop_in_the_second_run(state):
        if len(stops) == 2:   # the second run's first iteration: as Ctrl-C there
            raise KeyboardInterrupt
        stops.append(state.step) if state.step == 1 else None

    result = batch.stylize_batch(inputs / "photos", [inputs / "wave.png"], inputs / "out",
                                 model=vgg19, callback=stop_in_the_second_run, **TINY)
    assert result.interrupted
    assert [run.status for run in result.runs] == ["written", "interrupted"]
    assert os.listdir(inputs / "out") == ["cat_wave.png"]
    assert "the same command resumes" in result.summary()
    again = batch.stylize_batch(inputs / "photos", [inputs / "wave.png"], inputs / "out",
                                model=vgg19, **TINY)
    assert [run.status for run in again.runs] == ["skipped", "written"]


# --- the command line -----------------------------------------------------------------

def test_the_command_writes_every_pair_and_reports_failures_on_stderr(inputs, capsys):
    (inputs / "photos" / "broken.png").write_bytes(b"")
    code = main(["batch", str(inputs / "photos"), "--style", str(inputs / "wave.png"),
                 "-o", str(inputs / "out"), "--size", "24", "--iterations", "1", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("nst-numpy batch: failed broken.png x "
                                                   "wave.png: cannot read image")
    assert "wrote " in out and "3 runs: 2 written, 1 failed" in out
    code = main(["batch", str(inputs / "photos" / "cat.png"), "--style",
                 str(inputs / "wave.png"), "-o", str(inputs / "out"), "--quiet"])
    assert code == 0 and "1 skipped" in capsys.readouterr().out


def test_the_command_says_how_it_treats_several_styles(capsys):
    assert main(["batch", "--help"]) == 0
    out = capsys.readouterr().out
    text = " ".join(out.split())
    for said in ("each pair is a run of its own (the styles are not blended)", "--overwrite",
                 "--noise-blend", "--size", "--style-layers", "--plain", "Exit status: 0",
                 "130 after Ctrl-C"):
        assert said in text, said
    for left_out in ("--masks", "--style-blend", "--animate"):   # not offered (other options'
        assert f"[{left_out}" not in text, left_out               # help may name them)
        assert not re.search(rf"^ +{left_out}\b", out, flags=re.M), left_out
