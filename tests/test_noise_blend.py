"""A noise-blended start (noise_blend, --noise-blend): x0 = (1 - R) x_image + R x_noise, the
noise that init="noise" starts from with the same seed."""

import numpy as np
import pytest

from nst_numpy import image as im, load_vgg19, transfer
from nst_numpy.cli import main

CONTENT, STYLE = im.demo_images()
SHAPE = (21, 32)


@pytest.fixture(scope="module")
def vgg19():
    return load_vgg19()


def start(model, **options):
    """The starting image stylize hands to the optimisation for these options."""
    seen = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transfer, "pyramid", lambda objective_at, x0, *a, **k: seen.append(x0))
        transfer.stylize(CONTENT, STYLE, model=model, size=32, iterations=1, **options)
    return seen[0]


def test_the_blend_is_the_content_and_the_noise_of_the_same_seed_in_proportion():
    content = im.preprocess(im.resize(im.load_image(CONTENT), *SHAPE))
    noise = im.preprocess(np.random.default_rng(7).uniform(0, 255, (*SHAPE, 3)))
    x0 = transfer.starting_image("content", CONTENT, [STYLE], SHAPE, 7, np.float32, blend=0.3)
    # (1 - R) x + R x_noise, in float32: rtol 1e-6 covers the order of the operations
    np.testing.assert_allclose(x0, 0.7 * content + 0.3 * noise, rtol=1e-6, atol=1e-4)
    assert x0.dtype == np.float32
    np.testing.assert_array_equal(
        transfer.starting_image("content", CONTENT, [STYLE], SHAPE, 7, np.float32, blend=1.0),
        transfer.starting_image("noise", CONTENT, [STYLE], SHAPE, 7, np.float32))
    np.testing.assert_array_equal(
        transfer.starting_image("content", CONTENT, [STYLE], SHAPE, 7, np.float32, blend=0.0),
        content)


def test_stylize_starts_from_the_blend_and_the_seed_varies_it(vgg19):
    plain = start(vgg19)
    blended = start(vgg19, noise_blend=0.5, seed=1)
    np.testing.assert_array_equal(blended, start(vgg19, noise_blend=0.5, seed=1))
    assert not np.array_equal(blended, start(vgg19, noise_blend=0.5, seed=2))
    noise = transfer.starting_image("noise", None, [], SHAPE, 1, np.float32)
    np.testing.assert_allclose(blended, 0.5 * plain + 0.5 * noise, rtol=1e-6, atol=1e-4)
    # an image start of any kind blends: the style image's too
    style = start(vgg19, init="style", noise_blend=0.25)
    styled = start(vgg19, init="style")
    np.testing.assert_allclose(style, 0.75 * styled + 0.25 * transfer.starting_image(
        "noise", None, [], SHAPE, 0, np.float32), rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("options, said", [
    (dict(noise_blend=1.5), "noise_blend must be between 0 and 1, got 1.5"),
    (dict(noise_blend=-0.1), "noise_blend must be a finite number >= 0"),
    (dict(noise_blend=0.5, init="noise"), "noise_blend blends noise into an image start"),
])
def test_bad_blends_are_refused_before_any_work(options, said, monkeypatch):
    monkeypatch.setattr(transfer, "load_vgg", lambda *a, **k: pytest.fail("loaded"))
    with pytest.raises(ValueError, match=said):
        transfer.stylize(CONTENT, STYLE, size=32, iterations=1, **options)


def test_a_texture_starts_from_noise_so_only_its_style_start_blends(capsys, tmp_path):
    with pytest.raises(ValueError, match=r"init='noise', a texture's default"):
        transfer.texture(STYLE, noise_blend=0.5, size=32)
    assert main(["stylize", "--texture", STYLE, "-o", str(tmp_path / "t.png"), "--init",
                 "style", "--noise-blend", "0.5", "--size", "24", "--iterations", "1",
                 "--quiet"]) == 0
    assert main(["stylize", CONTENT, STYLE, "-o", str(tmp_path / "o.png"), "--init", "noise",
                 "--noise-blend", "0.5", "--size", "24", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--noise-blend blends noise" in err and \
        "--init noise" in err, err
