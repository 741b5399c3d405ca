"""Images in and out: Pillow I/O, resizing, caffe preprocessing, colour preservation.

The ImageNet VGG weights were trained on caffe-style inputs: BGR channel order, pixel
values 0-255, and the mean pixel of ImageNet subtracted per channel.

Everything a user hands in (a path, a PIL image, an array) becomes one thing first: a
``uint8`` RGB array ``(H, W, 3)``, upright (EXIF orientation applied), with transparency
composited onto white and 16-bit or CMYK pixels mapped to 0-255.
"""

import math
import os
import re
import stat
import tempfile
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# ImageNet mean pixel in B, G, R order (Simonyan & Zisserman's caffe models).
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])

# RGB -> YIQ (NTSC): Y is the luminance, I and Q the colour (Gatys et al. 2016, sec. 2).
RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                       [0.595716, -0.274453, -0.321263],
                       [0.211456, -0.522591, 0.311135]])
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# Temporary files of an atomic write (save_image) and of check_writable's test start so.
TEMPORARY_PREFIX = ".nst_numpy_"

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP",
                ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}
# The longest side each format can hold (libjpeg's and libwebp's limits, GIF's 16 bits).
FORMAT_SIDES = {"JPEG": 65500, "WEBP": 16383, "GIF": 65535}


def preprocess(rgb, dtype=np.float32):
    """RGB image (H, W, 3), 0-255 -> network input (3, H, W): BGR, mean subtracted."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"preprocess: image has shape {rgb.shape}; expected (H, W, 3) RGB")
    bgr = rgb[:, :, ::-1].astype(dtype)
    return (bgr - CAFFE_MEAN_BGR.astype(dtype)).transpose(2, 0, 1).copy()


def deprocess(x):
    """Network input (3, H, W) -> RGB uint8 image (H, W, 3), clipped to 0-255."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"deprocess: array has shape {x.shape}; expected (3, H, W)")
    bgr = x.transpose(1, 2, 0) + CAFFE_MEAN_BGR
    return np.clip(np.rint(bgr[:, :, ::-1]), 0, 255).astype(np.uint8)


def pixel_bounds(shape, dtype=np.float32):
    """Lower and upper bounds (3, H, W) of a preprocessed image whose pixels lie in 0-255."""
    mean = CAFFE_MEAN_BGR.astype(dtype)[:, None, None]
    low = np.broadcast_to(-mean, shape)
    return low, low + np.asarray(255, dtype)


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------

def demo_images():
    """Paths of the shipped demo images (content, style); see ``data/LICENSES.md``."""
    return (os.path.join(DATA_DIR, "demo_content.jpg"), os.path.join(DATA_DIR, "demo_style.jpg"))


def quiz_images():
    """Paths of the quiz's shipped images (turtle, wave); see ``data/LICENSES.md``."""
    return (os.path.join(DATA_DIR, "green_sea_turtle.jpg"),
            os.path.join(DATA_DIR, "great_wave.jpg"))


def load_image(source, size=None):
    """Any image -> uint8 RGB array (H, W, 3).

    source: a path, a PIL image, or a uint8 array (H, W), (H, W, 3) or (H, W, 4).
    size: optional longest side in pixels to resize to (see :func:`resize_longest`).
    A file that is missing or not an image raises ValueError with the path in it.
    """
    if isinstance(source, Image.Image):
        rgb = to_rgb(source)
    elif isinstance(source, np.ndarray):
        rgb = _array_to_rgb(source)
    elif isinstance(source, (str, os.PathLike)):
        rgb = to_rgb(_open(source))
    else:
        raise ValueError(
            f"cannot use a {type(source).__name__} as an image; pass a path, a PIL image "
            "or a uint8 array (H, W, 3)")
    return rgb if size is None else resize_longest(rgb, size)


def image_size(source):
    """(H, W) of an image as :func:`load_image` would return it, without decoding its pixels.

    Same one-line errors as :func:`load_image` for a file that cannot be read.
    """
    if isinstance(source, np.ndarray):
        _check_array(source)
        return source.shape[:2]
    if isinstance(source, Image.Image):
        return _upright_size(source)
    if isinstance(source, (str, os.PathLike)):
        return _open(source, header_only=True)
    return load_image(source).shape[:2]   # the same error as load_image


def _upright_size(im):
    """(H, W) after the EXIF orientation (5-8 turn the picture by 90 degrees, see to_rgb)."""
    W, H = im.size
    with warnings.catch_warnings():   # a damaged EXIF block: the picture is still read
        warnings.simplefilter("ignore", UserWarning)
        orientation = im.getexif().get(0x0112)
    return (W, H) if orientation in (5, 6, 7, 8) else (H, W)


def _open(path, header_only=False):
    """The decoded image at ``path`` (or only its upright (H, W)); one-line errors."""
    path = os.fspath(path)
    _check_path_length(path, "image")
    if os.path.islink(path) and not os.path.exists(path):
        raise ValueError(f"image {path!r} is a symbolic link to nothing (dangling, or a loop "
                         "of links); give the image file itself")
    if not os.path.exists(path):
        raise ValueError(f"image {path!r} does not exist; check the path")
    if os.path.isdir(path):
        raise ValueError(f"image {path!r} is a directory; give an image file")
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"image {path!r} is not a regular file (a pipe or a device); "
                         "give an image file")
    try:
        with warnings.catch_warnings():
            # Pillow warns between 1x and 2x its pixel limit and refuses beyond; the memory
            # check of stylize (nst_numpy.memory) judges what fits. A damaged EXIF block is
            # warned about too, and the picture read all the same.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(path) as im:
                if header_only:
                    return _upright_size(im)
                im.load()
                return im
    except Image.DecompressionBombError as error:
        pixels = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(pixels.group(1)):,} pixels" if pixels else "too many pixels"
        raise ValueError(
            f"image {path!r} has {size}, more than the {2 * Image.MAX_IMAGE_PIXELS:,} that Pillow "
            "reads safely (a guard against decompression bombs); resize it first") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise ValueError(
            f"cannot read image {path!r} ({reason}); is it a PNG/JPEG file that opens elsewhere?"
        ) from None


def to_rgb(im):
    """PIL image of any mode -> upright uint8 RGB array (H, W, 3).

    EXIF orientation is applied; alpha is composited onto white; 16/32-bit grey
    (``I;16``, ``I``) is scaled from its full range to 0-255; float (``F``) is taken
    as 0-1 when 99.9 % of its values are at most 1 (a stray brighter pixel does not change
    the scale), else as 0-255, and refused if it holds NaN or infinity; CMYK, palette,
    YCbCr, LAB and HSV go through Pillow's own conversion.
    """
    with warnings.catch_warnings():   # a damaged EXIF block: the picture is still read
        warnings.simplefilter("ignore", UserWarning)
        im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        grey = np.asarray(im, dtype=np.float64)
        # 16-bit stores 0-65535; 65535 / 257 = 255 maps white onto white.
        scale = 257.0 if im.mode.startswith("I;16") or grey.max(initial=0) > 255 else 1.0
        return _grey_to_rgb(grey / scale)
    if im.mode == "F":
        grey = np.asarray(im, dtype=np.float64)
        if not np.isfinite(grey).all():
            raise ValueError(f"a floating-point image holds NaN or infinite values at "
                             f"{int((~np.isfinite(grey)).sum())} of its {grey.size} pixels; "
                             "give finite values")
        return _grey_to_rgb(grey * 255 if np.percentile(grey, 99.9) <= 1 else grey)
    if im.mode == "P":
        im = im.convert("RGBA")
    if _has_alpha(im):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _grey_to_rgb(grey):
    grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def _check_array(a):
    """One-line errors for an array that is not uint8 (H, W), (H, W, 3) or (H, W, 4)."""
    if a.dtype != np.uint8:
        raise ValueError(
            f"image array has dtype {a.dtype}; pass uint8 pixels 0-255 "
            "(e.g. np.clip(a, 0, 255).astype(np.uint8))")
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))) or 0 in a.shape:
        raise ValueError(f"image array has shape {a.shape}; expected (H, W), (H, W, 3) or "
                         "(H, W, 4) with H, W >= 1")


def _array_to_rgb(a):
    _check_array(a)
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 3:
        return a.copy()
    return to_rgb(Image.fromarray(a, "RGBA"))


# ---------------------------------------------------------------------------
# Resizing and writing
# ---------------------------------------------------------------------------

def resize(rgb, height, width):
    """uint8 RGB (H, W, 3) -> (height, width, 3), Lanczos resampling."""
    if height < 1 or width < 1:
        raise ValueError(f"cannot resize an image to {height}x{width}; both sides must be >= 1")
    if rgb.shape[:2] == (height, width):
        return rgb.copy()
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.LANCZOS))


def resize_longest(rgb, size):
    """Resize so that the longest side is ``size`` pixels, keeping the aspect ratio."""
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)):
        raise ValueError(f"image size must be a whole number of pixels, got {size!r}")
    size = int(size)
    if size < 1:
        raise ValueError(f"image size must be a positive number of pixels, got {size}")
    H, W = rgb.shape[:2]
    scale = size / max(H, W)
    return resize(rgb, max(1, round(H * scale)), max(1, round(W * scale)))


def load_mask(source, height, width):
    """A black-and-white or greyscale image, or a float mask, as a float64 (height, width)
    mask: white 1, black 0, grey in between.

    source: a path, PIL image or uint8 array of any size, read as the mean of R, G, B over
    255, where transparent counts as black (a transparent region is not painted); or a
    float mask, read on its own scale, 0 to 1: an (H, W) float array, or a floating-point
    image (Pillow mode ``F``, such as a float TIFF). A float mask holding NaN, or values
    outside [0, 1], is refused in one line. Images are resized with Lanczos resampling,
    float masks bilinearly (which keeps them inside [0, 1]).
    """
    height, width = int(height), int(width)
    if isinstance(source, (str, os.PathLike)):
        source = _open(source)
    if isinstance(source, np.ndarray) and source.dtype == np.uint8 and source.ndim == 3 \
            and source.shape[2] == 4:
        source = Image.fromarray(source, "RGBA")
    if isinstance(source, Image.Image) and source.mode == "F":
        source = np.asarray(ImageOps.exif_transpose(source), dtype=np.float64)
    elif isinstance(source, Image.Image) and _has_alpha(source):
        rgba = np.asarray(ImageOps.exif_transpose(source).convert("RGBA"), dtype=np.float64)
        # grey times opacity: transparent is black, whatever colour lies under it
        source = rgba[..., :3].mean(axis=2) / 255 * rgba[..., 3] / 255
    if isinstance(source, np.ndarray) and source.dtype.kind == "f":
        _check_float_mask(source)
        grey = Image.fromarray(source.astype(np.float32), mode="F")
        return np.asarray(grey.resize((width, height), Image.BILINEAR), dtype=np.float64)
    return resize(load_image(source), height, width).mean(axis=2) / 255.0


def _has_alpha(im):
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _check_float_mask(mask):
    """One line unless ``mask`` is (H, W) with every value in [0, 1] (NaN is not)."""
    if mask.ndim != 2 or 0 in mask.shape:
        raise ValueError(f"a float mask must be an (H, W) array of values in [0, 1]; got "
                         f"shape {mask.shape}")
    if np.isnan(mask).any():
        raise ValueError(f"a float mask holds NaN at {int(np.isnan(mask).sum())} of its "
                         f"{mask.size} positions; give values in [0, 1] everywhere")
    if not np.all((mask >= 0) & (mask <= 1)):
        raise ValueError(f"a float mask must hold values in [0, 1] (white 1, black 0); got "
                         f"values {np.min(mask):.3g} to {np.max(mask):.3g}")


def save_image(rgb, path, quality=95, exclusive=False):
    """Write a uint8 RGB array (H, W, 3) as PNG/JPEG/... chosen by the file extension.

    Atomic: the picture goes to a temporary file in the same folder, which then replaces
    ``path`` in one step. An error, a full disk or Ctrl-C on the way leaves ``path`` as it
    was (absent, or its old contents) and no temporary file behind. ``exclusive``: never
    replace a file; if ``path`` exists when the picture is ready, raise FileExistsError and
    leave it (another run may have written it since it was checked).
    """
    path = os.fspath(path)
    check_writable(path)
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"save_image: expected a uint8 (H, W, 3) array, got {rgb.dtype} {rgb.shape}")
    fmt = SAVE_FORMATS[os.path.splitext(path)[1].lower()]
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    return write_atomically(path, lambda out: Image.fromarray(rgb).save(out, fmt, **options),
                            exclusive)


def write_atomically(path, write, exclusive=False):
    """``write(file)`` into a temporary file beside ``path``, which then replaces ``path`` in
    one step (:func:`save_image`'s guarantees: nothing half-written, no temporary left;
    ``exclusive``: never replace a file). Returns ``path``."""
    # A short temporary name of its own, not derived from ``path``: a legal name of 250
    # bytes must not fail for its temporary's being longer (check_writable checks ``path``).
    fd, temporary = tempfile.mkstemp(dir=_folder(path), prefix=TEMPORARY_PREFIX, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, _new_file_mode(path))
        if exclusive:   # a hard link is made only if no file has that name: then drop ours
            os.link(temporary, path)
            os.unlink(temporary)
        else:
            os.replace(temporary, path)
    except FileExistsError:
        os.unlink(temporary)
        raise FileExistsError(f"{path!r} appeared while the picture was made (another run?); "
                              "it was left as it was") from None
    except OSError as error:   # a full disk, a quota, a folder gone: name the file
        os.unlink(temporary)
        raise OSError(f"cannot write {path!r} ({error.strerror or error}); it was left as it "
                      "was: free some space or choose another folder") from None
    except BaseException:
        os.unlink(temporary)
        raise
    return path


def check_writable(path, shape=None, formats=SAVE_FORMATS):
    """One-line ValueError unless an image can be written at ``path``: a known extension
    (one of ``formats``), not a directory, in an existing folder where a file can be
    created, and not a read-only file; a picture of ``shape`` (H, W), if given, no larger
    than the format holds. Checked by creating (and removing) a temporary file there."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"output {path!r} is a directory; give a file name such as out.png")
    fmt = formats.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise ValueError(
            f"cannot tell the image format of {path!r} from its extension; end the name in "
            f"one of {', '.join(sorted(formats))}")
    if shape is not None and max(shape) > FORMAT_SIDES.get(fmt, math.inf):
        raise ValueError(f"output {path!r}: a {fmt} picture holds at most "
                         f"{FORMAT_SIDES[fmt]} px on a side, and this one is {shape[1]}x"
                         f"{shape[0]}; save it as .png")
    folder = _folder(path)
    if not os.path.isdir(folder):
        raise ValueError(f"the folder of output {path!r} does not exist; create it first")
    check_name_length(path)
    if os.path.exists(path) and not (os.path.isfile(path) and os.access(path, os.W_OK)):
        raise ValueError(f"output {path!r} exists and cannot be replaced (read-only or not a "
                         "regular file); choose another name")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=TEMPORARY_PREFIX, suffix=".part"):
            pass
    except OSError as error:
        raise ValueError(f"cannot write into the folder of output {path!r} "
                         f"({error.strerror or error}); choose a writable folder") from None


def same_file(a, b):
    """Whether paths ``a`` and ``b`` name one file: the same file on disk when both exist
    (through any link), else the same path once every link is followed (a link loop or a
    dangling link names no file, and is compared by its own path)."""
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def check_name_length(path):
    """One-line ValueError when the file system cannot hold a file named ``path``: its last
    part longer than the folder's NAME_MAX bytes (255 on most), or the path as given longer
    than PATH_MAX. Nothing is created: a name of outputs still to be written can be checked."""
    folder, name = os.path.split(os.fspath(path))
    try:
        limit = os.pathconf(folder or ".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):   # not known here (Windows)
        limit = 255
    size = len(os.fsencode(name))
    if limit and size > limit:
        raise ValueError(f"output {path!r}: its name is {size} bytes long, more than the "
                         f"{limit} this file system allows; choose a shorter one")
    _check_path_length(path, "output")


def _check_path_length(path, what):
    """One line when ``path``, as given, is longer than the operating system takes (PATH_MAX,
    4096 bytes on Linux): the system would call such a file missing."""
    path = os.fspath(path)
    limit = getattr(os, "PATH_MAX", None) or 4096
    try:
        limit = os.pathconf("/", "PC_PATH_MAX") or limit
    except (OSError, ValueError, AttributeError):
        pass
    size = len(os.fsencode(path))
    if size >= limit:
        raise ValueError(f"{what} path {path[:40]!r}... is {size} bytes long, more than the "
                         f"{limit} the system takes; use a shorter path")


def _folder(path):
    """The folder a file at ``path`` lands in, as the system finds it: every link followed
    in order (``link/../x`` is beside the link's target, not beside the link)."""
    return os.path.realpath(os.path.dirname(os.fspath(path)) or ".")


def _new_file_mode(path):
    """The permissions of the file being replaced, or those of a new file (0o666 - umask)."""
    if os.path.exists(path):
        return stat.S_IMODE(os.stat(path).st_mode)
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


# ---------------------------------------------------------------------------
# Colour preservation (Gatys, Bethge, Hertzmann & Shechtman 2016)
# ---------------------------------------------------------------------------

def rgb_to_yiq(rgb):
    """RGB (H, W, 3), 0-255 -> YIQ float32 (H, W, 3); Y in 0-255."""
    return np.asarray(rgb, dtype=np.float32) @ RGB_TO_YIQ.T.astype(np.float32)


def yiq_to_rgb(yiq):
    """YIQ (H, W, 3) -> uint8 RGB (H, W, 3), clipped to 0-255."""
    rgb = np.asarray(yiq, dtype=np.float32) @ YIQ_TO_RGB.T.astype(np.float32)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def luminance_image(rgb, like=None):
    """Grey RGB image (H, W, 3) holding the luminance Y of ``rgb``.

    like: optional reference image; Y is then shifted and scaled to the reference's
    luminance mean and standard deviation, Y' = sigma_r / sigma (Y - mu) + mu_r,
    so that a style's brightness and contrast follow the content (Gatys et al. 2016).
    """
    Y = rgb_to_yiq(rgb)[:, :, 0]
    if like is not None:
        Y_ref = rgb_to_yiq(like)[:, :, 0]
        Y = (Y - Y.mean()) * (Y_ref.std() / max(float(Y.std()), 1e-6)) + Y_ref.mean()
    return _grey_to_rgb(Y)


def combine_luminance(luminance_rgb, colour_rgb):
    """Y of ``luminance_rgb`` with the I, Q colour channels of ``colour_rgb``, as RGB uint8.

    Both (H, W, 3). This is luminance-only transfer's last step: the stylized luminance
    over the content photo's colours.
    """
    if luminance_rgb.shape != colour_rgb.shape:
        raise ValueError(
            f"combine_luminance: shapes {luminance_rgb.shape} and {colour_rgb.shape} differ")
    yiq = rgb_to_yiq(colour_rgb)
    yiq[:, :, 0] = rgb_to_yiq(luminance_rgb)[:, :, 0]
    return yiq_to_rgb(yiq)


def match_colour(rgb, like):
    """Recolour ``rgb`` so that its pixels' mean and covariance match those of ``like``.

    The linear map x' = C_r^(1/2) C^(-1/2) (x - mu) + mu_r, with symmetric matrix square
    roots of the 3x3 colour covariances, is Gatys et al. 2016's colour-histogram
    matching of the style image to the content image. Both uint8 RGB, any sizes.
    """
    x = np.asarray(rgb, dtype=np.float64).reshape(-1, 3)
    r = np.asarray(like, dtype=np.float64).reshape(-1, 3)
    mu, mu_r = x.mean(0), r.mean(0)
    eye = 1e-5 * np.eye(3)
    C, C_r = np.cov(x, rowvar=False) + eye, np.cov(r, rowvar=False) + eye
    # x' = C_r^(1/2) C^(-1/2) (x - mu) + mu_r
    T = _sqrtm_sym(C_r) @ np.linalg.inv(_sqrtm_sym(C))
    out = (x - mu) @ T.T + mu_r
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(np.shape(rgb))


def _sqrtm_sym(C):
    values, vectors = np.linalg.eigh(C)
    return (vectors * np.sqrt(np.maximum(values, 0))) @ vectors.T
