"""nst-numpy show and nst_numpy.show: an image's feature maps and Gram matrix at one layer."""

import importlib.util

import numpy as np
import pytest

from nst_numpy import image as im, losses, show
from nst_numpy.analysis import receptive_fields
from nst_numpy.cli import main

CONTENT, _ = im.demo_images()


def test_the_view_is_the_layers_activation_and_its_gram_matrix(random_vgg):
    model = random_vgg()
    view = show.layer_view(CONTENT, "block2_conv1", size=32, channels=5, model=model)
    rgb = im.resize(im.load_image(CONTENT), 21, 32)
    F = model.features(im.preprocess(rgb), ["relu2_1"])["relu2_1"]
    assert view.layer == "relu2_1" and view.maps.shape == (5, 10, 16)
    np.testing.assert_array_equal(view.picture, rgb)
    # G / M_l, eq (3) per position; its diagonal is each channel's mean square activation
    np.testing.assert_allclose(view.gram, losses.gram_matrix(F) / 160, rtol=1e-6)
    np.testing.assert_allclose(view.energy, (F.reshape(128, -1) ** 2).mean(axis=1), rtol=1e-5)
    strongest = np.sort(view.energy)[::-1][:5]
    np.testing.assert_array_equal(view.energy[view.channels], strongest)
    np.testing.assert_array_equal(view.maps, F[view.channels])
    assert view.field == receptive_fields(model.layer_names)["relu2_1"] == 10
    first = show.layer_view(CONTENT, "relu2_1", size=32, channels=3, order="first", model=model)
    np.testing.assert_array_equal(first.channels, [0, 1, 2])
    everything = show.layer_view(CONTENT, "relu1_1", size=32, channels=1000, model=model)
    assert len(everything.channels) == 64   # at most the layer's channels


def test_the_figure_shows_the_picture_the_maps_and_the_gram_matrix(random_vgg, tmp_path):
    pytest.importorskip("matplotlib")
    fig = show.show_layer(CONTENT, "pool2", tmp_path / "fig.png", size=32, channels=4,
                          model=random_vgg())
    titles = [ax.get_title() for ax in fig.axes]
    assert sum(title.startswith("#") for title in titles) == 4
    assert any(title.startswith("Gram matrix per position") for title in titles)
    picture = im.load_image(tmp_path / "fig.png")
    assert picture.shape == (440, 1300, 3)
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 50   # drawn, not blank


def test_the_command_draws_the_figure(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "relu3_1.png"
    assert main(["show", CONTENT, "--layer", "relu3_1", "-o", str(out), "--size", "64",
                 "--channels", "4"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert im.load_image(out).shape == (440, 1300, 3)


def test_without_matplotlib_the_command_says_what_to_install_before_any_work(
        tmp_path, capsys, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a))
    monkeypatch.setattr(show, "layer_view", lambda *a, **k: pytest.fail("work started"))
    assert main(["show", CONTENT, "--layer", "relu3_1", "-o", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "nst-numpy[plot]"' in err
    assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize("argv, said", [
    (["--layer", "relu9_1"], "no layer 'relu9_1'"),
    (["--layer", "relu5_1", "--size", "8"], "too small to reach relu5_1"),
    (["--layer", "relu3_1", "--channels", "0"], "must be an integer >= 1"),
    (["--layer", "relu3_1", "--order", "weakest"], "invalid choice"),
])
def test_bad_values_are_one_line_before_the_network_loads(argv, said, tmp_path, capsys,
                                                          monkeypatch):
    monkeypatch.setattr(show, "load_vgg", lambda *a, **k: pytest.fail("the network loaded"))
    assert main(["show", CONTENT, *argv, "-o", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err, err


def test_the_figure_never_replaces_its_image(tmp_path, capsys):
    picture = tmp_path / "photo.png"
    im.save_image(im.load_image(CONTENT, size=32), picture)
    before = picture.read_bytes()
    assert main(["show", str(picture), "--layer", "relu1_1", "-o",
                 str(tmp_path / "." / "photo.png")]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert picture.read_bytes() == before
