"""Image I/O: every Pillow mode becomes uint8 RGB, EXIF orientation, resizing, saving,
clear errors, and the colour-preservation helpers of Gatys et al. 2016."""

import os

import numpy as np
import pytest
from PIL import Image

from nst_numpy import image as im


def gradient_rgb(h=12, w=20):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], axis=2).astype(np.uint8)


def test_rgb_path_pil_and_array_agree(tmp_path):
    rgb = gradient_rgb()
    path = tmp_path / "a.png"
    Image.fromarray(rgb).save(path)
    for source in (path, str(path), Image.fromarray(rgb), rgb):
        out = im.load_image(source)
        assert out.dtype == np.uint8 and out.shape == (12, 20, 3)
        np.testing.assert_array_equal(out, rgb)


def test_grey_modes_become_three_equal_channels():
    grey = np.arange(0, 240, 10, dtype=np.uint8).reshape(4, 6)
    for source in (Image.fromarray(grey, "L"), grey):
        out = im.load_image(source)
        assert out.shape == (4, 6, 3)
        for c in range(3):
            np.testing.assert_array_equal(out[:, :, c], grey)


def test_sixteen_bit_grey_is_scaled_to_0_255():
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    img = Image.new("I;16", (4, 1))
    img.frombytes(values.astype("<u2").tobytes())
    assert img.mode == "I;16"
    out = im.load_image(img)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])


def test_float_grey_in_0_1_is_scaled():
    img = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), "F")
    np.testing.assert_array_equal(im.load_image(img)[0, :, 1], [0, 128, 255])


def test_transparency_is_composited_onto_white():
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = [255, 0, 0, 255]     # opaque red stays red
    rgba[0, 1] = [255, 0, 0, 0]       # fully transparent becomes white
    rgba[1, 0] = [0, 0, 0, 128]       # half-transparent black over white is mid grey
    out = im.load_image(rgba)
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(out[0, 1], [255, 255, 255])
    assert np.all(np.abs(out[1, 0].astype(int) - 127) <= 1)
    np.testing.assert_array_equal(im.load_image(Image.fromarray(rgba, "RGBA")), out)


def test_palette_and_cmyk_convert_to_rgb():
    rgb = gradient_rgb()
    palette = Image.fromarray(rgb).convert("P")
    assert im.load_image(palette).shape == rgb.shape
    cmyk = Image.fromarray(rgb).convert("CMYK")
    # Pillow's RGB -> CMYK -> RGB is exact for its naive conversion.
    np.testing.assert_array_equal(im.load_image(cmyk), rgb)


def test_exif_orientation_is_applied(tmp_path):
    # 40 wide, 20 high: left half red, right half blue. EXIF orientation 6 says "rotate
    # 90 degrees clockwise to display", which puts the left (red) half on top.
    a = np.zeros((20, 40, 3), dtype=np.uint8)
    a[:, :20] = [255, 0, 0]
    a[:, 20:] = [0, 0, 255]
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(a).save(path, exif=exif, quality=95)
    out = im.load_image(path).astype(int)
    assert out.shape == (40, 20, 3)
    assert out[:15, :, 0].mean() > 200 and out[:15, :, 2].mean() < 50    # red on top
    assert out[25:, :, 2].mean() > 200 and out[25:, :, 0].mean() < 50    # blue below


def test_resize_longest_keeps_aspect_ratio():
    rgb = gradient_rgb(12, 20)
    assert im.resize_longest(rgb, 10).shape == (6, 10, 3)
    assert im.load_image(rgb, size=40).shape == (24, 40, 3)
    with pytest.raises(ValueError, match="positive"):
        im.resize_longest(rgb, 0)


def test_preprocess_and_deprocess_are_inverse():
    rgb = gradient_rgb()
    x = im.preprocess(rgb)
    assert x.shape == (3, 12, 20) and x.dtype == np.float32
    np.testing.assert_array_equal(im.deprocess(x), rgb)
    low, high = im.pixel_bounds(x.shape)
    assert np.all(x >= low - 1e-4) and np.all(x <= high + 1e-4)
    np.testing.assert_array_equal(im.deprocess(low), 0)
    np.testing.assert_array_equal(im.deprocess(high), 255)


def test_save_png_round_trips_and_jpeg_writes(tmp_path):
    rgb = gradient_rgb()
    np.testing.assert_array_equal(im.load_image(im.save_image(rgb, tmp_path / "o.png")), rgb)
    out = im.load_image(im.save_image(rgb, tmp_path / "o.JPG"))
    assert out.shape == rgb.shape and np.abs(out.astype(int) - rgb).mean() < 8


@pytest.mark.parametrize("make, match", [
    (lambda d: d / "missing.png", "does not exist"),
    (lambda d: d, "is a directory"),
    (lambda d: (d / "bad.jpg").write_bytes(b"not a jpeg at all") and d / "bad.jpg", "cannot read image"),
])
def test_unreadable_inputs_give_one_line_errors(tmp_path, make, match):
    path = make(tmp_path)
    with pytest.raises(ValueError, match=match) as info:
        im.load_image(path)
    assert "\n" not in str(info.value) and os.fspath(path) in str(info.value)


def test_bad_arrays_and_outputs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="dtype float64"):
        im.load_image(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="shape"):
        im.load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="directory"):
        im.save_image(gradient_rgb(), tmp_path / "dir.png" if (tmp_path / "dir.png").mkdir() is None else None)
    with pytest.raises(ValueError, match="image format"):
        im.save_image(gradient_rgb(), tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()


def test_match_colour_matches_mean_and_covariance():
    rng = np.random.default_rng(0)
    src = np.clip(rng.normal([90, 140, 60], [20, 10, 15], size=(40, 40, 3)), 0, 255).astype(np.uint8)
    ref = np.clip(rng.multivariate_normal([150, 110, 120], [[300, 120, 0], [120, 250, 60], [0, 60, 200]],
                                          size=(30, 30)), 0, 255).astype(np.uint8)
    out = im.match_colour(src, ref).reshape(-1, 3).astype(float)
    r = ref.reshape(-1, 3).astype(float)
    # Tolerance: rounding to uint8 moves each channel by up to 0.5 (variance by ~1/12).
    np.testing.assert_allclose(out.mean(0), r.mean(0), atol=0.6)
    np.testing.assert_allclose(np.cov(out, rowvar=False), np.cov(r, rowvar=False), atol=3)


def test_luminance_helpers():
    rng = np.random.default_rng(1)
    photo = rng.integers(40, 200, size=(16, 16, 3)).astype(np.uint8)
    painting = rng.integers(0, 255, size=(16, 16, 3)).astype(np.uint8)
    grey = im.luminance_image(painting, like=photo)
    assert np.all(grey[:, :, 0] == grey[:, :, 1])
    Y = im.rgb_to_yiq(photo)[:, :, 0]
    assert abs(grey[:, :, 0].mean() - Y.mean()) < 1 and abs(grey[:, :, 0].std() - Y.std()) < 1
    # combine: the luminance of one image, the colour channels (I, Q) of another
    out = im.combine_luminance(grey, photo)
    yiq_out, yiq_photo = im.rgb_to_yiq(out), im.rgb_to_yiq(photo)
    # Where a combination falls outside the RGB cube it is clipped; compare the others.
    inside = np.all((out > 0) & (out < 255), axis=2)
    assert inside.mean() > 0.8
    # Tolerance: rounding each RGB channel to an integer moves Y, I, Q by up to ~1.
    np.testing.assert_allclose(yiq_out[inside, 0], grey[inside, 0], atol=1.5)
    np.testing.assert_allclose(yiq_out[inside, 1:], yiq_photo[inside, 1:], atol=1.5)


def test_demo_images_are_shipped_and_small():
    paths = im.demo_images()
    assert sum(os.path.getsize(p) for p in paths) < 300_000
    for path in paths:
        rgb = im.load_image(path)
        assert rgb.ndim == 3 and max(rgb.shape[:2]) == 256


def test_quiz_images_are_shipped_small_and_licensed():
    turtle, wave = im.quiz_images()
    for path in (turtle, wave):
        assert os.path.getsize(path) < 500_000, path
        with Image.open(path) as f:
            assert f.format == "JPEG" and f.mode == "RGB", (path, f.format, f.mode)
        rgb = im.load_image(path)
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
        assert max(rgb.shape[:2]) <= 1600, (path, rgb.shape)
    licenses = open(os.path.join(im.DATA_DIR, "LICENSES.md"), encoding="utf-8").read()
    assert os.path.basename(turtle) in licenses and os.path.basename(wave) in licenses
    assert "CC BY-SA 3.0" in licenses


def test_save_is_atomic_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    # A full disk (or Ctrl-C) halfway through writing: the old picture must survive whole,
    # and no temporary file may be left beside it.
    path = tmp_path / "out.png"
    im.save_image(gradient_rgb(), path)
    before = path.read_bytes()

    def full_disk(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half a picture")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(OSError, match=f"cannot write '{path}' \\(No space left on device\\)"):
        im.save_image(gradient_rgb()[::-1], path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]

    def interrupted(self, fp, *args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        im.save_image(gradient_rgb(), tmp_path / "new.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_float_mask_images_are_read_on_their_own_0_1_scale(tmp_path):
    # A float TIFF (Pillow mode F) holds the mask itself: 1 is white, not 1/255.
    mask = np.zeros((6, 8), np.float32)
    mask[:, 4:] = 1.0
    mask[0, 0] = 0.25
    Image.fromarray(mask, mode="F").save(tmp_path / "mask.tif")
    np.testing.assert_allclose(im.load_mask(tmp_path / "mask.tif", 6, 8), mask)
    mask[2, 2] = 1.5
    Image.fromarray(mask, mode="F").save(tmp_path / "bright.tif")
    with pytest.raises(ValueError, match=r"must hold values in \[0, 1\]"):
        im.load_mask(tmp_path / "bright.tif", 6, 8)


def test_output_names_up_to_the_file_systems_limit(tmp_path):
    # The longest legal name is written (the temporary name is short, not the name plus a
    # suffix), and one byte more is refused before anything is written.
    longest = tmp_path / ("x" * 251 + ".png")
    im.save_image(gradient_rgb(), longest)
    assert im.load_image(longest).shape[2] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [longest.name]
    with pytest.raises(ValueError, match="its name is 256 bytes long, more than the 255"):
        im.save_image(gradient_rgb(), tmp_path / ("x" * 252 + ".png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [longest.name]


def test_save_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "out.png"
    im.save_image(gradient_rgb(), path)
    os.chmod(path, 0o640)
    im.save_image(gradient_rgb()[::-1], path)
    assert (os.stat(path).st_mode & 0o777) == 0o640


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="a read-only folder is writable for root")
def test_a_read_only_folder_is_refused_before_writing(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o555)
    try:
        with pytest.raises(ValueError, match="cannot write into the folder"):
            im.check_writable(locked / "out.png")
    finally:
        os.chmod(locked, 0o755)


def test_image_size_reads_the_header_only(tmp_path):
    rgb = gradient_rgb(12, 20)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    assert im.image_size(tmp_path / "a.png") == (12, 20)
    assert im.image_size(rgb) == (12, 20) and im.image_size(Image.fromarray(rgb)) == (12, 20)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb).save(tmp_path / "r.jpg", exif=exif)
    assert im.image_size(tmp_path / "r.jpg") == im.load_image(tmp_path / "r.jpg").shape[:2] == (20, 12)


def test_a_transparent_mask_is_black():
    # A mask's transparent region is not painted, whatever colour lies under it.
    white_but_clear = Image.new("RGBA", (8, 8), (255, 255, 255, 0))
    np.testing.assert_array_equal(im.load_mask(white_but_clear, 4, 4), 0.0)
    half = np.full((8, 8, 4), 255, np.uint8)
    half[:, :4, 3] = 0
    mask = im.load_mask(half, 8, 8)
    assert mask[:, :3].max() < 0.05 and mask[:, 5:].min() > 0.95


def test_a_stray_bright_pixel_does_not_change_a_float_pictures_scale(tmp_path):
    picture = np.full((20, 20), 0.5, np.float32)
    picture[0, 0] = 1.001          # one pixel out of 400: still a 0-1 picture
    Image.fromarray(picture, mode="F").save(tmp_path / "f.tif")
    assert im.load_image(tmp_path / "f.tif")[5, 5, 0] == 128


def test_an_exclusive_save_never_replaces_a_file(tmp_path):
    # Two runs writing the same checkpoint: the second finds it and leaves it as it is.
    path = tmp_path / "out_0001.png"
    path.write_bytes(b"another run's picture")
    with pytest.raises(FileExistsError, match="appeared while the picture was made"):
        im.save_image(gradient_rgb(), path, exclusive=True)
    assert path.read_bytes() == b"another run's picture"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out_0001.png"]
    im.save_image(gradient_rgb(), tmp_path / "new.png", exclusive=True)
    assert im.load_image(tmp_path / "new.png").shape[2] == 3
