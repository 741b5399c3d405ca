"""A film of the optimisation (nst_numpy.animate, --animate): which frames, their size, the
bound on their number and memory, and the output checks -o has."""

import numpy as np
import pytest
from PIL import Image

from nst_numpy import animate, image as im, load_vgg19, transfer
from nst_numpy.animate import Film
from nst_numpy.cli import main
from nst_numpy.loop import NonFiniteLossWarning

CONTENT, STYLE = im.demo_images()


@pytest.fixture(scope="module")
def vgg19():
    return load_vgg19()


def test_the_default_spacing_makes_a_watchable_film_of_any_run():
    assert animate.default_every(300) == 10
    assert animate.frame_count(300, 10) == 31        # the start, then every 10th
    assert animate.frame_count(7, 3) == 4            # 0, 3, 6 and the last, 7
    for iterations in [1, 2, 29, 30, 31, 299, 300, 1000, 12345, 10**6]:
        count = animate.frame_count(iterations, animate.default_every(iterations))
        assert 2 <= count <= animate.FRAMES + 2, (iterations, count)


def test_frames_are_scaled_down_to_their_side_never_up():
    assert animate.film_shape((384, 512), 512) == (384, 512)
    assert animate.film_shape((384, 512), 256) == (192, 256)
    assert animate.film_shape((100, 60), 512) == (100, 60)


def test_a_film_holds_the_start_every_kth_step_over_all_levels_and_the_last(vgg19):
    # --scales 2: 2 coarse iterations then 5 at full size, steps 1 .. 7 over both levels;
    # a frame every 3 steps: 0 (the start), 3 (a coarse picture, enlarged), 6, and 7.
    film = Film()
    result = transfer.stylize(CONTENT, STYLE, model=vgg19, size=48, scales=2,
                              iterations=[2, 5], animate=film, animate_every=3)
    assert [step for step, _ in film.frames] == [0, 3, 6, 7]
    assert {frame.shape for _, frame in film.frames} == {(32, 48, 3)}
    start = im.resize(im.load_image(CONTENT), 16, 24)   # the coarse level's content
    np.testing.assert_array_equal(film.frames[0][1], im.resize(start, 32, 48))
    np.testing.assert_array_equal(film.frames[-1][1], result.image)   # the last picture


def test_stylize_writes_the_film_it_is_given_a_path_for(tmp_path, vgg19):
    for name in ("film.gif", "film.webp"):
        transfer.stylize(CONTENT, STYLE, model=vgg19, size=32, iterations=4, animate_every=2,
                         animate=tmp_path / name, animate_size=16)
        with Image.open(tmp_path / name) as film:
            assert (film.n_frames, film.size, film.info.get("loop")) == (3, (16, 10), 0)


def test_a_texture_has_a_film_too_from_its_noise(tmp_path, vgg19):
    film = Film()
    result = transfer.texture(STYLE, model=vgg19, size=32, iterations=2, animate=film)
    noise = transfer.starting_image("noise", None, [STYLE], (32, 32), 0, np.float32)
    np.testing.assert_array_equal(film.frames[0][1], im.deprocess(noise))
    assert [step for step, _ in film.frames] == [0, 1, 2] and result.iterations == 2
    film.save(tmp_path / "t.gif")
    with Image.open(tmp_path / "t.gif") as written:
        assert written.n_frames == 3


def test_the_number_of_frames_is_bounded_before_the_run():
    film = Film()
    with pytest.raises(ValueError, match=r"animate_every 1 makes 1001 frames of a run of 1000 "
                                         r"iterations, more than the 200 .* 6 or more"):
        film.plan(1000, (384, 512), every=1)
    film.plan(1000, (384, 512), every=6)   # the bound it names is enough
    assert film.memory == 168 * 3 * 384 * 512 <= animate.MAX_FRAMES * 3 * animate.SIDE ** 2


def test_the_frames_count_in_the_memory_check(monkeypatch):
    # stylize's estimate grows by the frames' bytes (times the estimate's safety margin),
    # so that a long film of a large picture is refused before the run, not out of memory.
    from nst_numpy import memory
    estimates = []
    monkeypatch.setattr(memory, "check_fits", lambda estimate, *a, **k: estimates.append(estimate))
    config = transfer.Config(dict(size=512))
    terms = transfer.build_terms(config, CONTENT, [STYLE])
    frames = 199 * 3 * 340 * 512
    for film in (0, frames):
        transfer.check_memory(config, terms, (340, 512), film)
    assert estimates[1] - estimates[0] == pytest.approx(memory.MARGIN * frames)


def test_a_failed_run_writes_no_film(tmp_path, vgg19):
    with pytest.warns(NonFiniteLossWarning):
        result = transfer.stylize(CONTENT, STYLE, model=vgg19, size=24, iterations=2,
                                  alpha=1e38, init="noise", animate=tmp_path / "f.gif")
    assert result.failed and not (tmp_path / "f.gif").exists()


def test_the_command_writes_the_film_after_the_picture(tmp_path, capsys):
    out, film = tmp_path / "out.png", tmp_path / "film.gif"
    assert main(["stylize", CONTENT, STYLE, "-o", str(out), "--animate", str(film),
                 "--size", "24", "--iterations", "3", "--quiet"]) == 0
    assert f"wrote {film} (4 frames, one every 1 iterations)" in capsys.readouterr().out
    with Image.open(film) as written:
        assert written.n_frames == 4 and written.size == (24, 16)


def test_the_film_is_checked_like_any_output_before_the_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(transfer, "stylize", lambda *a, **k: pytest.fail("the run started"))
    gif = tmp_path / "style.gif"
    Image.open(STYLE).save(gif)
    for film, said in [(gif, "is the input file"), (tmp_path / "f.mp4", "is not a film"),
                       (tmp_path / "none" / "f.gif", "does not exist"),
                       (tmp_path / "out.webp", "-o and --animate name the same file")]:
        code = main(["stylize", CONTENT, str(gif), "-o", str(tmp_path / "out.webp"),
                     "--animate", str(film), "--size", "24", "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and said in err and err.count("\n") == 1, err
