"""Bad input, table-driven: every row is what a user typed, the one line they must read, the
exit code, and the folder's files before and after, byte for byte. The home of every
refusal of the command line and of the entry points (stylize, texture, invert): the
rules of one layer or file format live beside their module's other tests.

A row runs ``nst-numpy`` in a folder holding small copies of the inputs (``content.png``,
``style.png``) and, where the row says so, an existing ``out.png`` and other files. The
folder's files are snapshotted before the run; afterwards every file that was there must be
byte-for-byte unchanged (except ``-o`` after a successful run), and exactly the files the row
names may be new. A failing run prints exactly one line on stderr, no traceback. Rows marked
``subprocess`` run the real command in a fresh interpreter, so that everything it prints
(warnings included) reaches the captured stderr, and a hang becomes a timeout.

The rows cover what was broken (issue 14) and what is handled well and must stay so.
"""

from dataclasses import dataclass, field
import errno
import functools
import importlib
import os
from pathlib import Path
import shutil
import struct
import subprocess
import sys
import zlib

import h5py
import numpy as np
import pytest
from PIL import Image

from nst_numpy import image as im
from nst_numpy import memory
from nst_numpy.weights import default_weights_path

FAST = ["--size", "24", "--iterations", "2", "--quiet"]
OLD_OUTPUT = b"the user's previous picture"


@dataclass
class Row:
    """argv: the command after ``nst-numpy``, with ``{d}`` for the folder; code: exit code;
    message: a part of the one stderr line (None on success); setup(d): extra files;
    new: the files the run may create; changed: existing files the run may replace."""
    id: str
    argv: list
    code: int
    message: str = None
    setup: object = None
    new: set = field(default_factory=set)
    changed: set = field(default_factory=set)
    subprocess: bool = False
    patch: object = None
    module: str = "nst_numpy.cli"   # whose main() runs (python -m it, for a subprocess row)


# --- files the rows need --------------------------------------------------------------

def small_rgb(size=24, seed=0):
    y, x = np.mgrid[0:size, 0:size]
    rng = np.random.default_rng(seed)
    return (np.stack([x * 9, y * 9, (x + y) * 5], axis=2) % 256
            + rng.integers(0, 20, (size, size, 3))).astype(np.uint8)


def bomb_png(width=30000, height=30000):
    """A 254-byte PNG that declares width x height pixels: a decompression bomb."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress((b"\x00" + b"\x00" * 3 * width) * 2)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def write(name, data):
    def make(d):
        (d / name).parent.mkdir(exist_ok=True)
        (d / name).write_bytes(data(d) if callable(data) else data)
    return make


def save(name, make_image, **options):
    def make(d):
        (d / name).parent.mkdir(exist_ok=True)
        make_image().save(d / name, **options)
    return make


def cmyk():
    return Image.fromarray(small_rgb()).convert("CMYK")


def sixteen_bit():
    grey = (small_rgb()[:, :, 0].astype(np.uint16) * 257)
    img = Image.new("I;16", grey.shape[::-1])
    img.frombytes(grey.astype("<u2").tobytes())
    return img


def palette_with_transparency():
    img = Image.fromarray(small_rgb()).convert("P")
    img.info["transparency"] = 0
    return img


def exif_rotated(d):
    exif = Image.Exif()
    exif[0x0112] = 6                          # "rotate 90 degrees clockwise to display"
    Image.fromarray(small_rgb()[:, :16]).save(d / "rotated.jpg", exif=exif)


def animated(d):
    frames = [Image.fromarray(small_rgb(seed=s)) for s in range(3)]
    frames[0].save(d / "animated.gif", save_all=True, append_images=frames[1:], duration=100)


def truncated_png(d):
    Image.fromarray(small_rgb()).save(d / "full.png")
    data = (d / "full.png").read_bytes()
    (d / "full.png").unlink()
    return data[:len(data) // 2]


def fifo(d):
    os.mkfifo(d / "pipe.png")


def crafted_weights(d):
    """An HDF5 file whose 'format' attribute is an array: once a "truth value" traceback."""
    with h5py.File(d / "crafted.h5", "w") as f:
        f.attrs["format"] = np.array([1, 2])
        f.create_group("block1_conv1")


def empty_sidecar(d):
    (d / "w.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    (d / "w.h5.sha256").write_bytes(b"")


def existing_output(d):
    (d / "out.png").write_bytes(OLD_OUTPUT)


def weights_copy(name):
    """A copy of the shipped VGG19 weights named ``name`` (any extension: a user's file)."""
    def make(d):
        shutil.copyfile(default_weights_path(), d / name)
    return make


def weights_symlink(d):
    (d / "vgg.png").symlink_to(default_weights_path())


def weights_hard_link(d):
    shutil.copyfile(default_weights_path(), d / "w.h5")
    os.link(d / "w.h5", d / "hard.png")


def sub_folder_content(d):
    (d / "sub").mkdir()
    im.save_image(small_rgb(seed=2), d / "sub" / "content.png")


def sub_folder(d):
    (d / "sub").mkdir()


def nan_float_tiff(d):
    mask = np.ones((24, 24), np.float32)
    mask[:, :12] = np.nan
    Image.fromarray(mask, mode="F").save(d / "mask.tif")


def weights_beyond_float32(d):
    from test_weights import write_keras_file   # the Keras notop layout, random weights
    write_keras_file(d / "big.h5", "vgg19")
    with h5py.File(d / "big.h5", "r+") as f:
        name = "block2_conv1_W_1:0"
        kernel = f["block2_conv1"][name][()].astype(np.float64)
        kernel[0, 0, 0, 0] = 1e39
        del f["block2_conv1"][name]
        f["block2_conv1"][name] = kernel


def out_of_memory(monkeypatch, d):
    """NumPy failing to allocate in the middle of a run (the estimate said it would fit)."""
    import nst_numpy.transfer

    def fail(*args, **kwargs):
        raise MemoryError("Unable to allocate 1.50 GiB for an array with shape (3, 4096, "
                          "32768) and data type float32")
    monkeypatch.setattr(nst_numpy.transfer, "stylize", fail)


def full_disk(monkeypatch, d):
    """A disk that fills up while a picture is written."""
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", no_space)


def no_torch(monkeypatch, d):
    """A machine without PyTorch, whether or not this one has it."""
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))


LONGEST = "x" * 251 + ".png"     # 255 bytes: the longest name most file systems allow
TOO_LONG = "x" * 252 + ".png"    # 256 bytes


def link_loop(d):
    (d / "A").symlink_to(d / "B")
    (d / "B").symlink_to(d / "A")


def output_link_loop(d):
    (d / "lp.png").symlink_to(d / "lp.png")


def link_to_a_sub_folder(d):
    """L -> img/sub: L/.. is img, not the folder L lies in."""
    (d / "img" / "sub").mkdir(parents=True)
    (d / "L").symlink_to(d / "img" / "sub")
    (d / "only_here").mkdir()


def wide_png(d):
    Image.fromarray(np.tile(small_rgb()[:16, :1], (1, 16400, 1))).save(d / "wide.png")


def nan_float_content(d):
    picture = np.full((24, 24), 0.5, np.float32)
    picture[3, 3] = np.nan
    Image.fromarray(picture, mode="F").save(d / "nan.tif")


def corrupt_exif(d):
    """A JPEG whose EXIF block is damaged: Pillow warns, the picture reads all the same."""
    Image.fromarray(small_rgb()).save(d / "exif.jpg", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08"
                                      b"\x00\x05\x01")


def keras_bias_of_the_wrong_shape(d):
    from test_weights import write_keras_file   # the Keras notop layout, random weights
    write_keras_file(d / "bias.h5", "vgg19")
    with h5py.File(d / "bias.h5", "r+") as f:
        name = "block1_conv1_b_1:0"
        bias = f["block1_conv1"][name][()]
        del f["block1_conv1"][name]
        f["block1_conv1"][name] = bias[None]


def setups(*makers):
    def make(d):
        for maker in makers:
            maker(d)
    return make


def unwritable_folder(monkeypatch, d):
    """A folder where no file can be created (as a read-only folder is for a normal user;
    root can write anywhere, so the creation itself is made to fail)."""
    import tempfile
    real = tempfile.NamedTemporaryFile

    def refuse(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == d / "locked":
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)
    (d / "locked").mkdir()
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)


def little_memory(monkeypatch, d):
    """A machine with 100 MiB free: even a 24 px run is estimated not to fit."""
    monkeypatch.setattr(memory, "available_bytes", lambda: 100 * 2**20)


IN = ["{d}/content.png", "{d}/style.png"]
INVERT = ["--size", "24", "--iterations", "2", "--quiet", "--weights", "{d}/missing.h5"]
BENCH = "benchmarks.bench"   # beside the package: python -m benchmarks.bench, from the root
ROOT = Path(__file__).resolve().parent.parent
OUT = ["-o", "{d}/out.png"]
BATCH_IN = ["{d}/content.png", "--style", "{d}/style.png"]
BATCH = ["--style", "{d}/style.png", "-o", "{d}/out"]

ROWS = [
    # --- images that cannot be read ----------------------------------------------------
    Row("missing input", ["stylize", "{d}/nope.jpg", "{d}/style.png", *OUT], 2, "does not exist"),
    Row("empty input", ["stylize", "{d}/empty.png", "{d}/style.png", *OUT], 2, "cannot read image",
        setup=write("empty.png", b"")),
    Row("truncated input", ["stylize", "{d}/half.png", "{d}/style.png", *OUT], 2, "cannot read image",
        setup=write("half.png", truncated_png)),
    Row("not an image", ["stylize", "{d}/text.jpg", "{d}/style.png", *OUT], 2, "cannot read image",
        setup=write("text.jpg", b"just some text, not a JPEG")),
    Row("directory as input", ["stylize", "{d}", "{d}/style.png", *OUT], 2, "is a directory"),
    Row("FIFO as input", ["stylize", "{d}/pipe.png", "{d}/style.png", *OUT], 2,
        "not a regular file", setup=fifo, subprocess=True),
    Row("decompression bomb", ["stylize", "{d}/bomb.png", "{d}/style.png", *OUT], 2,
        "decompression bombs", setup=write("bomb.png", bomb_png())),
    # --- images in unusual but valid forms: a picture, exit 0 ----------------------------
    Row("CMYK JPEG", ["stylize", "{d}/cmyk.jpg", "{d}/style.png", *OUT], 0,
        setup=save("cmyk.jpg", cmyk), new={"out.png"}),
    Row("16-bit grey PNG", ["stylize", "{d}/grey16.png", "{d}/style.png", *OUT], 0,
        setup=save("grey16.png", sixteen_bit), new={"out.png"}),
    Row("palette PNG with transparency", ["stylize", "{d}/content.png", "{d}/palette.png", *OUT],
        0, setup=save("palette.png", palette_with_transparency), new={"out.png"}),
    Row("EXIF-rotated JPEG", ["stylize", "{d}/rotated.jpg", "{d}/style.png", *OUT], 0,
        setup=exif_rotated, new={"out.png"}),
    Row("animated GIF", ["stylize", "{d}/content.png", "{d}/animated.gif", *OUT], 0,
        setup=animated, new={"out.png"}),
    # --- outputs: never an input, never lost ---------------------------------------------
    Row("-o is the content image", ["stylize", *IN, "-o", "{d}/./content.png"], 2,
        "is the input file"),
    Row("-o in a missing folder", ["stylize", *IN, "-o", "{d}/no/out.png"], 2, "does not exist"),
    Row("-o without an image extension", ["stylize", *IN, "-o", "{d}/out.txt"], 2, "extension"),
    Row("-o is a directory", ["stylize", *IN, "-o", "{d}"], 2, "is a directory"),
    Row("-o in a folder that cannot be written", ["stylize", *IN, "-o", "{d}/locked/out.png"], 2,
        "cannot write into the folder", patch=unwritable_folder),
    Row("a failed run keeps the existing -o", ["stylize", *IN, *OUT, "--beta", "1e300"], 2,
        "out.png was left as it was", setup=existing_output),
    Row("a failed run writes no new -o", ["stylize", *IN, *OUT, "--beta", "1e300"], 2,
        "nothing was written"),
    Row("the NaN guard says it in one line", ["stylize", *IN, *OUT, "--beta", "1e300"], 2,
        "became", subprocess=True),
    Row("a successful run replaces -o", ["stylize", *IN, *OUT], 0, setup=existing_output,
        changed={"out.png"}),
    Row("--save-every would overwrite a file", ["stylize", *IN, *OUT, "--save-every", "1"], 2,
        "--save-every would overwrite", setup=write("out_0001.png", b"keep me")),
    Row("--save-every would overwrite an input", ["stylize", "{d}/out_0002.png", "{d}/style.png",
        *OUT, "--save-every", "2"], 2, "--save-every would overwrite",
        setup=save("out_0002.png", lambda: Image.fromarray(small_rgb()))),
    Row("--save-every writes new files", ["stylize", *IN, *OUT, "--save-every", "1"], 0,
        new={"out.png", "out_0001.png", "out_0002.png"}),
    # --- memory ----------------------------------------------------------------------------
    Row("--size 100000", ["stylize", *IN, *OUT, "--size", "100000"], 2, "needs about"),
    Row("--style-scale 1000", ["stylize", *IN, *OUT, "--style-scale", "1000"], 2, "needs about"),
    Row("memory estimate against a small machine", ["stylize", *IN, *OUT], 2,
        "--memory-limit", patch=little_memory),
    Row("--memory-limit lifts the limit", ["stylize", *IN, *OUT, "--memory-limit", "off"], 0,
        new={"out.png"}, patch=little_memory),
    Row("--memory-limit is checked", ["stylize", *IN, *OUT, "--memory-limit", "lots"], 2,
        "argument --memory-limit"),
    Row("bench at 100000 px", ["--sizes", "100000", "--repeats", "1", "--impls",
        "im2col", "--no-torch", "--matmul-sizes"], 2, "needs about", module=BENCH),
    # --- values that once gave a silently wrong picture with exit 0 -------------------------
    Row("--lr inf", ["stylize", *IN, *OUT, "--optimizer", "adam", "--lr", "inf"], 2,
        "argument --lr"),
    Row("--lr 1e30 diverges", ["stylize", *IN, *OUT, "--optimizer", "adam", "--lr", "1e30"], 2,
        "the loss rose", subprocess=True),
    Row("negative --lr", ["stylize", *IN, *OUT, "--optimizer", "adam", "--lr=-10"], 2,
        "argument --lr"),
    Row("--lr with L-BFGS", ["stylize", *IN, *OUT, "--lr", "5"], 2, "--lr has no effect"),
    Row("negative --tol", ["stylize", *IN, *OUT, "--tol=-1"], 2, "argument --tol"),
    Row("--init-image missing", ["stylize", *IN, *OUT, "--init-image", "{d}/nowhere.png"], 2,
        "nowhere.png"),
    Row("--init-image is the output", ["stylize", *IN, "-o", "{d}/start.png", "--init-image",
        "{d}/start.png"], 2, "is the input file", setup=write("start.png", b"keep me")),
    Row("--init-image with --init noise", ["stylize", *IN, *OUT, "--init", "noise",
        "--init-image", "{d}/style.png"], 2, "argument --init-image: not allowed with argument --init"),
    Row("--style-layer-weight-exp with --layer-weights", ["stylize", *IN, *OUT,
        "--style-layer-weight-exp", "2", "--layer-weights", "1,1,1,1,1"], 2,
        "--layer-weights and --style-layer-weight-exp both"),
    Row("--style-layer-weight-exp 0", ["stylize", *IN, *OUT, "--style-layer-weight-exp", "0"],
        2, "argument --style-layer-weight-exp: must be a finite number > 0, got 0.0"),
    Row("--plot is the output", ["stylize", *IN, *OUT, "--plot", "{d}/out.png"], 2,
        "-o and --plot name the same file"),
    Row("--plot is an input", ["stylize", *IN, *OUT, "--plot", "{d}/style.png"], 2,
        "is the input file"),
    Row("--plot has no picture extension", ["stylize", *IN, *OUT, "--plot", "{d}/losses.pdf"],
        2, "cannot tell the image format"),
    Row("--lbfgs-memory with Adam", ["stylize", *IN, *OUT, "--optimizer", "adam",
        "--lbfgs-memory", "5"], 2, "--lbfgs-memory has no effect with --optimizer adam; leave it out, or choose --optimizer lbfgs"),
    Row("--lbfgs-memory 0", ["stylize", *IN, *OUT, "--lbfgs-memory", "0"], 2,
        "argument --lbfgs-memory: must be an integer >= 1, got 0"),
    Row("--quiet with --print-every", ["stylize", *IN, *OUT, "--quiet", "--print-every", "5"], 2,
        "argument --print-every: not allowed with argument --quiet"),
    Row("--print-every 0", ["stylize", *IN, *OUT, "--print-every", "0"], 2,
        "argument --print-every: must be an integer >= 1, got 0"),
    Row("--keep first", ["stylize", *IN, *OUT, "--keep", "first"], 2,
        "argument --keep: invalid choice"),
    Row("negative --layer-weights", ["stylize", *IN, *OUT, "--layer-weights=-1e6,1,1,1,1"], 2,
        "argument --layer-weights"),
    Row("a style layer twice", ["stylize", *IN, *OUT, "--style-layers", "relu1_1,relu1_1"], 2,
        "argument --style-layers: names relu1_1 twice ('relu1_1' and 'relu1_1')"),
    Row("a style layer twice by its alias", ["stylize", *IN, *OUT, "--style-layers",
        "relu1_1,block1_conv1"], 2, "twice"),
    Row("every weight zero", ["stylize", *IN, *OUT, "--alpha", "0", "--beta", "0",
        "--tv-weight", "0"], 2, "every loss weight is zero"),
    Row("--seed -1", ["stylize", *IN, *OUT, "--seed=-1"], 2, "argument --seed"),
    Row("--size 0", ["stylize", *IN, *OUT, "--size", "0"], 2, "argument --size"),
    Row("--iterations 0", ["stylize", *IN, *OUT, "--iterations", "0"], 2, "argument --iterations"),
    Row("--style-scale 0", ["stylize", *IN, *OUT, "--style-scale", "0"], 2, "argument --style-scale"),
    Row("--beta nan", ["stylize", *IN, *OUT, "--beta", "nan"], 2, "argument --beta"),
    Row("--style-blend not numbers", ["stylize", *IN, *OUT, "--style-blend", "1,x"], 2,
        "argument --style-blend"),
    Row("--layer-weights count", ["stylize", *IN, *OUT, "--layer-weights", "1"], 2,
        "--layer-weights has 1 values"),
    Row("an unknown layer", ["stylize", *IN, *OUT, "--content-layers", "relu9_9"], 2,
        "no layer 'relu9_9'"),
    Row("--scales 0", ["stylize", *IN, *OUT, "--scales", "0"], 2, "argument --scales"),
    Row("a pyramid too deep for the size", ["stylize", *IN, *OUT, "--scales", "3"], 2,
        "too small to reach relu5_1"),
    Row("an unknown option", ["stylize", *IN, *OUT, "--colour", "yes"], 2, "unrecognized"),
    Row("no style image", ["stylize", "{d}/content.png", *OUT], 2, "at least one style image"),
    # --- weight files ------------------------------------------------------------------------
    Row("--weights missing", ["stylize", *IN, *OUT, "--weights", "{d}/none.h5"], 2,
        "no such weights file"),
    Row("--weights not HDF5", ["stylize", *IN, *OUT, "--weights", "{d}/junk.h5"], 2,
        "not a readable HDF5 file", setup=write("junk.h5", b"junk" * 100)),
    Row("an empty .sha256 beside the weights", ["weights", "info", "{d}/w.h5"], 2, "w.h5.sha256",
        setup=empty_sidecar),
    Row("crafted HDF5 attributes", ["weights", "info", "{d}/crafted.h5"], 2, "crafted.h5",
        setup=crafted_weights),
    Row("download refused by the server", ["weights", "download", "vgg19", "--url",
        "http://127.0.0.1:9/none.h5", "--cache-dir", "{d}/cache", "--quiet"], 2, "failed"),
    # --- invert, each refused before the network loads (the weights file does not exist) ---
    Row("invert at an unknown layer", ["invert", "{d}/content.png", "--layer", "relu9_1",
        *OUT, *INVERT], 2, "no layer 'relu9_1'"),
    Row("invert pool5 of a small picture", ["invert", "{d}/content.png", "--layer", "pool5",
        *OUT, *INVERT], 2, "too small to reach pool5"),
    Row("invert a missing image", ["invert", "{d}/missing.jpg", *OUT, *INVERT], 2,
        "does not exist"),
    Row("invert a corrupt image", ["invert", "{d}/text.jpg", *OUT, *INVERT], 2,
        "cannot read image", setup=write("text.jpg", b"\xff\xd8 truncated")),
    Row("invert to a file of no picture format", ["invert", "{d}/content.png", "-o",
        "{d}/o.gif2", *INVERT], 2, "extension"),
    Row("invert --lr with L-BFGS", ["invert", "{d}/content.png", *OUT, *INVERT, "--lr", "1"], 2,
        "--lr has no effect with --optimizer lbfgs"),
    Row("invert --tv-weight -1", ["invert", "{d}/content.png", *OUT, *INVERT, "--tv-weight",
        "-1"], 2, "--tv-weight must be a finite number >= 0"),
    Row("invert --size 0", ["invert", "{d}/content.png", *OUT, *INVERT, "--size", "0"], 2,
        "argument --size: must be an integer >= 1"),
    Row("invert --quiet with --print-every", ["invert", "{d}/content.png", *OUT, *INVERT,
        "--print-every", "2"], 2, "not allowed with argument"),
    # --- issue 23: no output may name a file the run reads, by any path --------------------
    Row("-o is the --weights file", ["stylize", *IN, "--weights", "{d}/w.png", "-o",
        "{d}/w.png"], 2, "-o '{d}/w.png' is the input file", setup=weights_copy("w.png")),
    Row("--plot is the --weights file", ["stylize", *IN, *OUT, "--weights", "{d}/w.png",
        "--plot", "{d}/w.png"], 2, "--plot '{d}/w.png' is the input file",
        setup=weights_copy("w.png")),
    Row("invert -o is the --weights file", ["invert", "{d}/content.png", "--weights",
        "{d}/w.png", "-o", "{d}/w.png"], 2, "is the input file", setup=weights_copy("w.png")),
    Row("-o is a symbolic link to the shipped weights", ["stylize", *IN, "-o", "{d}/vgg.png"], 2,
        "is the input file", setup=weights_symlink),
    Row("-o is a hard link to the weights", ["stylize", *IN, "--weights", "{d}/w.h5", "-o",
        "{d}/hard.png"], 2, "is the input file", setup=weights_hard_link),
    Row("-o reaches an input through ..", ["stylize", *IN, "-o", "{d}/sub/../style.png"], 2,
        "is the input file", setup=sub_folder),
    Row("--plot is a --save-every picture", ["stylize", *IN, *OUT, "--save-every", "1",
        "--plot", "{d}/out_0001.png"], 2, "--plot and --save-every name the same file"),
    # --- names as long as the file system allows, and no longer --------------------------
    Row("a 255-byte -o is written", ["stylize", *IN, "-o", "{d}/" + LONGEST], 0, new={LONGEST}),
    Row("a 256-byte -o is refused before the run", ["stylize", *IN, "-o", "{d}/" + TOO_LONG], 2,
        "its name is 256 bytes long"),
    Row("--save-every names too long", ["stylize", *IN, "-o", "{d}/" + "x" * 250 + ".png",
        "--save-every", "1"], 2, "its name is 259 bytes long"),
    # --- memory ------------------------------------------------------------------------------
    Row("--lbfgs-memory 1e9 is refused, not a MemoryError", ["stylize", *IN, *OUT,
        "--lbfgs-memory", "1000000000"], 2, "needs about"),
    Row("running out of memory is one line", ["stylize", *IN, *OUT], 2,
        "out of memory (Unable to allocate 1.50 GiB", patch=out_of_memory),
    # --- options the CLI once ignored or misread ---------------------------------------------
    Row("--texture --init content", ["stylize", "--texture", "{d}/style.png", *OUT, "--init",
        "content"], 2, "a texture has no content image to start from; use --init noise"),
    Row("a float TIFF mask holding NaN", ["stylize", *IN, *OUT, "--masks", "{d}/mask.tif"], 2,
        "holds NaN", setup=nan_float_tiff),
    Row("--style-layer-weight-exp 1e300", ["stylize", *IN, *OUT, "--style-layer-weight-exp",
        "1e300"], 0, new={"out.png"}),
    Row("a kernel beyond float32 in a float64 file", ["weights", "info", "{d}/big.h5"], 2,
        "block2_conv1 holds values up to 1e+39, beyond float32's range",
        setup=weights_beyond_float32),
    Row("a full disk names the file", ["stylize", *IN, *OUT], 2,
        "cannot write '{d}/out.png' (No space left on device)", patch=full_disk),
    # --- the benchmark's entry points --------------------------------------------------------
    Row("bench --impls torch --no-torch", ["--impls", "torch", "--no-torch"], 2,
        "--impls torch and --no-torch contradict", module=BENCH),
    Row("bench --impls torch without PyTorch", ["--impls", "torch"], 2,
        "PyTorch is not installed", patch=no_torch, module=BENCH),
    Row("bench --matmul-sizes 200000", ["--sizes", "32", "--impls", "im2col",
        "--no-torch", "--matmul-sizes", "200000"], 2, "200000x200000 matmul reference",
        module=BENCH),
    Row("bench --matmul-sizes 30000 would run for an hour", ["--sizes", "32",
        "--impls", "im2col", "--no-torch", "--memory-limit", "off", "--matmul-sizes", "30000"],
        2, "would take about", module=BENCH),
    Row("python -m benchmarks.bench --sizes 0", ["--sizes", "0"], 2, "--sizes 0",
        subprocess=True, module=BENCH),
    # --- a fresh round of hostile input (after issue 23): paths, links, formats, options --------
    Row("an input that is a loop of symbolic links", ["stylize", "{d}/A", "{d}/style.png", *OUT],
        2, "is a symbolic link to nothing", setup=link_loop),
    Row("-o is a symbolic link to itself", ["stylize", *IN, "-o", "{d}/lp.png"], 0,
        new={"lp.png"}, setup=output_link_loop),
    Row("-o through a link and .. into a folder that is not there",
        ["stylize", *IN, "-o", "{d}/L/../only_here/o.png"], 2, "does not exist; create it",
        setup=link_to_a_sub_folder),
    Row("-o through a link and .. lands beside the link's target",
        ["stylize", *IN, "-o", "{d}/L/../o.png"], 0, new={"img/o.png"},
        setup=link_to_a_sub_folder),
    Row("an input path longer than the system takes",
        ["stylize", "{d}/" + "./" * 2100 + "content.png", "{d}/style.png", *OUT], 2,
        "bytes long, more than the 4096 the system takes"),
    Row("a WebP wider than the format holds", ["stylize", "{d}/wide.png", "{d}/style.png", "-o",
        "{d}/o.webp", "--size", "16400", "--style-scale", "0.002"], 2,
        "a WEBP picture holds at most 16383 px on a side", setup=wide_png),
    Row("a float TIFF content holding NaN", ["stylize", "{d}/nan.tif", "{d}/style.png", *OUT], 2,
        "holds NaN or infinite values at 1 of its 576 pixels", setup=nan_float_content),
    Row("a damaged EXIF block is read without a warning", ["stylize", "{d}/exif.jpg",
        "{d}/style.png", *OUT], 0, new={"out.png"}, setup=corrupt_exif, subprocess=True),
    Row("a style image too small for its layers", ["stylize", *IN, *OUT, "--style-scale", "0.5"],
        2, "style image 1, at 12x12 px, is too small to reach relu5_1, which needs 16 px on the "
        "shorter side; raise --style-scale or --size"),
    Row("--texture --preserve-color", ["stylize", "--texture", "{d}/style.png", *OUT,
        "--preserve-color", "luminance"], 2, "--preserve-color concerns the content image"),
    Row("--texture --content-layer-weights", ["stylize", "--texture", "{d}/style.png", *OUT,
        "--content-layer-weights", "1"], 2, "--content-layer-weights concerns the content image"),
    Row("--style-blend for fewer styles than given", ["stylize", *IN, "{d}/style.png", *OUT,
        "--style-blend", "1"], 2, "--style-blend has 1 weights for 2 style images"),
    Row("--style-blend of zeros", ["stylize", *IN, "{d}/style.png", *OUT, "--style-blend",
        "0,0"], 2, "--style-blend weights [0.0, 0.0] must have a positive sum"),
    Row("--save-every beyond the run", ["stylize", *IN, *OUT, "--save-every", "100"], 2,
        "--save-every 100 is more than the run's 2 iterations"),
    Row("a Keras bias of the wrong shape", ["weights", "info", "{d}/bias.h5"], 2,
        "found block1_conv1_W_1:0 (3, 3, 3, 64), block1_conv1_b_1:0 (1, 64)",
        setup=keras_bias_of_the_wrong_shape),
    Row("bench --curves without --whole-run", ["--curves", "{d}/c.json"], 2,
        "--curves applies with --whole-run only", module=BENCH),
    Row("bench --whole-run --curves over a file", ["--whole-run", "--sizes", "48", "--no-torch",
        "--scales", "2",
        "--curves", "{d}/c.json"], 2, "--curves would overwrite", module=BENCH,
        setup=write("c_48.json", b"mine")),
    Row("bench --whole-run --out a file", ["--whole-run", "--sizes", "48", "--no-torch",
        "--scales", "2",
        "--out", "{d}/content.png"], 2, "is a file or a folder that is not empty", module=BENCH),
    Row("bench --whole-run too small for its scales", ["--whole-run", "--sizes", "32",
        "--no-torch", "--scales", "2"], 2, "too small to reach relu5_1", module=BENCH),
    # --- batch runs, a film, a noise-blended start, show (issue 27) ----------------------------
    Row("batch: a content that is not there", ["batch", "{d}/nope.png", *BATCH], 2,
        "content image '{d}/nope.png' does not exist"),
    Row("batch: a pattern that matches nothing", ["batch", "{d}/*.jpeg", *BATCH], 2,
        "no content file matches"),
    Row("batch: a style that cannot be read", ["batch", "{d}/content.png", "--style",
        "{d}/text.jpg", "-o", "{d}/out"], 2, "cannot read image",
        setup=write("text.jpg", b"not a picture")),
    Row("batch: two contents that would write one picture", ["batch", "{d}/content.png",
        "{d}/sub/content.png", *BATCH], 2, "would both write", setup=sub_folder_content),
    Row("batch: -o is an input folder", ["batch", "{d}", "--style", "{d}/style.png", "-o",
        "{d}"], 2, "is the input folder"),
    Row("batch: -o is a file", ["batch", *BATCH_IN, "-o", "{d}/style.png"], 2,
        "is a file; give a folder"),
    Row("batch: a bad pair of options, before any run", ["batch", *BATCH_IN, "-o", "{d}/out",
        "--lr", "1"], 2, "--lr has no effect with --optimizer lbfgs"),
    Row("batch: no --masks", ["batch", *BATCH_IN, "-o", "{d}/out", "--masks", "{d}/style.png"],
        2, "unrecognized arguments"),
    Row("batch: an unreadable content is said, the others go on", ["batch", "{d}/content.png",
        "{d}/empty.png", *BATCH], 1, "failed empty.png x style.png: cannot read image",
        setup=write("empty.png", b""), new={"out/content_style.png"}),
    Row("batch: a picture already there is kept", ["batch", *BATCH_IN, "-o", "{d}/out"], 0,
        setup=write("out/content_style.png", OLD_OUTPUT)),
    Row("batch: --overwrite replaces it", ["batch", *BATCH_IN, "-o", "{d}/out", "--overwrite"],
        0, setup=save("out/content_style.png", lambda: Image.fromarray(small_rgb())),
        changed={"out/content_style.png"}),
    Row("--animate not a film", ["stylize", *IN, *OUT, "--animate", "{d}/film.mp4"], 2,
        "--animate: '{d}/film.mp4' is not a film: end its name in .gif or .webp"),
    Row("--animate is an input", ["stylize", "{d}/content.png", "{d}/animated.gif", *OUT,
        "--animate", "{d}/animated.gif"], 2, "--animate '{d}/animated.gif' is the input file",
        setup=animated),
    Row("--animate-every without --animate", ["stylize", *IN, *OUT, "--animate-every", "5"], 2,
        "--animate-every shapes a film; give --animate too"),
    Row("--animate-every too small for the run", ["stylize", *IN, *OUT, "--animate",
        "{d}/f.gif", "--iterations", "300", "--animate-every", "1"], 2,
        "--animate-every 1 makes 301 frames of a run of 300 iterations, more than the 200"),
    Row("--animate writes the film beside -o", ["stylize", *IN, *OUT, "--animate",
        "{d}/f.webp"], 0, new={"out.png", "f.webp"}),
    Row("--noise-blend above 1", ["stylize", *IN, *OUT, "--noise-blend", "1.5"], 2,
        "--noise-blend: must be between 0 and 1, got 1.5"),
    Row("--noise-blend with --init noise", ["stylize", *IN, *OUT, "--noise-blend", "0.5",
        "--init", "noise"], 2, "--noise-blend blends noise into an image start"),
    Row("show: an unknown layer", ["show", "{d}/content.png", "--layer", "relu9_1", *OUT], 2,
        "--layer: no layer 'relu9_1'"),
    Row("show: -o is the image", ["show", "{d}/content.png", "--layer", "relu1_1", "-o",
        "{d}/content.png"], 2, "is the input file"),
    Row("show: a picture too small for the layer", ["show", "{d}/content.png", "--layer",
        "relu5_1", "--size", "8", *OUT], 2, "too small to reach relu5_1"),
]


@pytest.fixture
def folder(tmp_path):
    im.save_image(small_rgb(), tmp_path / "content.png")
    im.save_image(small_rgb(seed=1)[::-1], tmp_path / "style.png")
    return tmp_path


def snapshot(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file() and not p.is_fifo()}


def run_command(row, argv, capsys):
    if not row.subprocess:
        code = importlib.import_module(row.module).main(argv)
        captured = capsys.readouterr()
        return code, captured.err
    env = dict(os.environ, PYTHONWARNINGS="default")   # show every warning there is
    proc = subprocess.run([sys.executable, "-m", row.module, *argv], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input(row, folder, capsys, monkeypatch):
    if row.setup is not None:
        row.setup(folder)
    if row.patch is not None:
        row.patch(monkeypatch, folder)
    before = snapshot(folder)
    argv = [a.replace("{d}", str(folder)) for a in row.argv]
    if argv[0] in ("stylize", "batch"):
        argv[1:1] = FAST          # first, so that the row's own options override them
    code, err = run_command(row, argv, capsys)
    after = snapshot(folder)

    assert code == row.code, err
    if row.subprocess and row.code == 0:
        assert err == "", err   # a run that succeeds quietly says nothing, warnings included
    if row.code:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, err
        prefix = (f"nst-numpy {argv[0]}: " if row.module == "nst_numpy.cli"
                  else f"python -m {row.module}: ")
        message = row.message.replace("{d}", str(folder))
        assert lines[0].startswith(prefix) and message in lines[0], lines[0]
    for name, data in before.items():
        if name not in row.changed:
            assert after.get(name) == data, f"{name} was changed or removed"
    assert set(after) - set(before) == row.new
    for name in row.changed | row.new:
        if name.endswith(".png"):
            assert im.load_image(folder / name).ndim == 3, name   # a whole, readable picture


def test_every_row_has_a_distinct_id():
    ids = [row.id for row in ROWS]
    assert len(ids) == len(set(ids))


# --- the library's own entry points: one-line ValueErrors -------------------------------

def _int8_content_loss():
    from nst_numpy import losses
    losses.content_layer_loss(np.full((1, 1), 100, np.int8), np.zeros((1, 1), np.int8))


def _float16_forward():
    from nst_numpy import vgg
    vgg.VGG(vgg.random_weights()).forward(np.zeros((3, 8, 8), np.float16), ["relu1_1"])


def _integer_gradient():
    from nst_numpy import fast, vgg
    model = fast.FastVGG(vgg.random_weights())
    out, tape = model.forward(np.zeros((3, 8, 8)), ["relu2_1"])
    model.backward({"relu2_1": np.ones(out["relu2_1"].shape, np.int64)}, tape)


# Not a weight file: a call that read it before refusing a bad option would say so instead,
# so each row below that keeps it shows its refusal comes before the network loads.
NO_WEIGHTS = "/nonexistent/weights.h5"


def _stylize(content=None, style=None, **kwargs):
    from nst_numpy import transfer
    demo_content, demo_style = im.demo_images()
    transfer.stylize(content or demo_content, style or demo_style,
                     **{"size": 24, "iterations": 1, "weights": NO_WEIGHTS, **kwargs})


def _invert(**kwargs):
    from nst_numpy import inversion
    kwargs = {"image": im.quiz_images()[0], "size": 64, "weights": NO_WEIGHTS, **kwargs}
    inversion.invert(kwargs.pop("image"), **kwargs)


def _two_styles(**kwargs):
    _stylize(style=[im.demo_images()[1]] * 2, **kwargs)


API_ROWS = [
    ("int8 activations in a loss", _int8_content_loss, "dtype int8"),
    ("float16 image in VGG.forward", _float16_forward, "dtype float16"),
    ("integer gradient into VGG.backward", _integer_gradient, "dtype int64"),
    ("stylize in float16", lambda: _stylize(dtype=np.float16), "float16 is not supported"),
    ("stylize with a negative seed", lambda: _stylize(seed=-1), "seed"),
    ("stylize with lr under L-BFGS", lambda: _stylize(lr=1.0), "lr has no effect"),
    ("stylize with lbfgs_memory under Adam",
     lambda: _stylize(optimizer="adam", lbfgs_memory=5), "lbfgs_memory has no effect"),
    ("stylize with lbfgs_memory 0", lambda: _stylize(lbfgs_memory=0), "lbfgs_memory"),
    ("stylize with a misspelt init", lambda: _stylize(init="nosie"),
     "init 'nosie' is neither one of"),
    ("stylize from a missing init image", lambda: _stylize(init=Path("nowhere.png")),
     "nowhere.png"),
    ("stylize with a style layer twice", lambda: _stylize(style_layers=["relu1_1", "relu1_1"]),
     "twice"),
    ("stylize with negative layer weights",
     lambda: _stylize(style_layers=["relu1_1"], layer_weights={"relu1_1": -1.0}), "layer_weights"),
    ("stylize with every weight zero", lambda: _stylize(alpha=0, beta=0, tv_weight=0), "zero"),
    ("stylize beyond the memory", lambda: _stylize(size=100000),
     "needs about .* raise the limit with memory_limit$"),
    ("stylize with memory_limit NaN", lambda: _stylize(memory_limit=float("nan")),
     "memory_limit must be a positive number of bytes or math.inf"),
    ("stylize with lbfgs_memory 1e9", lambda: _stylize(lbfgs_memory=10**9), "needs about"),
    ("stylize with an unknown optimizer", lambda: _stylize(optimizer="sgd"), "optimizer 'sgd'"),
    ("stylize with an unknown init", lambda: _stylize(init="white"), "init 'white'"),
    ("stylize with an unknown colour mode", lambda: _stylize(preserve_color="yes"),
     "preserve_color 'yes'"),
    ("stylize with 0 iterations", lambda: _stylize(iterations=0), "iterations must be"),
    ("stylize at size 0", lambda: _stylize(size=0), "size must be an integer >= 1"),
    ("stylize with beta NaN", lambda: _stylize(beta=float("nan")), "beta must be a finite"),
    ("stylize with style_scale 0", lambda: _stylize(style_scale=0), "style_scale must be"),
    ("stylize at an unknown layer", lambda: _stylize(content_layers=["relu9_9"]),
     "content_layers: no layer 'relu9_9'"),
    ("stylize a missing image", lambda: _stylize(content="/nonexistent/nope.jpg"),
     "does not exist"),
    ("stylize at 0 scales", lambda: _stylize(scales=0), "scales must be"),
    ("stylize with more iterations than scales",
     lambda: _stylize(scales=2, iterations=[1, 2, 3]), "iterations has 3 values for 2 scales"),
    ("stylize with 0 iterations at a level", lambda: _stylize(scales=2, iterations=[1, 0]),
     "iterations must be an integer >= 1"),
    ("stylize a pyramid too deep for the size",
     lambda: _stylize(scales=3, size=48, weights=None), "too small to reach relu5_1"),
    # A pool layer halves the grid itself: a 36x24 output reaches relu5_1 (16 px) but not
    # pool5 (32 px), and says so before any iteration.
    ("stylize at pool5 on a small picture",
     lambda: _stylize(size=36, style_layers=["pool5"], weights=None),
     "too small to reach pool5, which needs 32 px"),
    ("stylize with one mask for two styles", lambda: _two_styles(masks=[np.ones((4, 4))]),
     "masks has 1 mask for 2 style images"),
    ("stylize with a missing mask", lambda: _two_styles(masks=["missing.png", "missing.png"]),
     "does not exist"),
    ("stylize with masks and the MRF loss",
     lambda: _two_styles(masks=[np.ones((4, 4))] * 2, style_loss="mrf"),
     "no guided form of style_loss='mrf'"),
    ("a float mask above 1", lambda: _stylize(masks=[np.full((3, 5), 1.5)]),
     r"must hold values in \[0, 1\]"),
    ("a float mask of three channels", lambda: _stylize(masks=[np.ones((3, 5, 3))]),
     r"must be an \(H, W\) array"),
    ("a float mask of NaN", lambda: _stylize(masks=[np.full((2, 2), np.nan)]),
     "holds NaN at 4 of its 4 positions"),
    ("invert at an unknown layer", lambda: _invert(layer="relu9_1"), "layer: no layer 'relu9_1'"),
    ("invert at an unknown Keras layer", lambda: _invert(layer="block9_conv1"),
     "no layer 'block9_conv1'"),
    ("invert at a layer given as a number", lambda: _invert(layer=3),
     "layer must be layer names such as 'relu4_2', got 3"),
    ("invert relu5_1 of a small picture", lambda: _invert(layer="relu5_1", size=20),
     "too small to reach relu5_1, which needs at least 16 px"),
    ("invert pool5 of a small picture", lambda: _invert(layer="pool5", size=40),
     "too small to reach pool5, which needs at least 32 px"),
    ("invert at size 0", lambda: _invert(size=0), "size must be an integer >= 1"),
    ("invert at size 2.5", lambda: _invert(size=2.5), "size must be an integer"),
    ("invert with 0 iterations", lambda: _invert(iterations=0), "iterations must be an integer >= 1"),
    ("invert with seed -1", lambda: _invert(seed=-1), "seed must be an integer >= 0"),
    ("invert with a negative TV weight", lambda: _invert(tv_weight=-1.0),
     "tv_weight must be a finite number >= 0"),
    ("invert with a TV weight of NaN", lambda: _invert(tv_weight=float("nan")),
     "tv_weight must be a finite number"),
    ("invert with an unknown optimizer", lambda: _invert(optimizer="sgd"),
     "unknown optimizer 'sgd'"),
    ("invert with lr under L-BFGS", lambda: _invert(lr=1.0),
     "lr has no effect with optimizer='lbfgs'"),
    ("invert with lr 0", lambda: _invert(optimizer="adam", lr=0.0), "lr must be a finite number > 0"),
    ("invert with an unknown pooling", lambda: _invert(pooling="min"), "unknown pooling 'min'"),
    ("invert with an unknown arch", lambda: _invert(arch="vgg11"), "unknown arch 'vgg11'"),
    ("invert in float16", lambda: _invert(dtype=np.float16), "dtype float16 is not supported"),
    ("invert beyond the memory", lambda: _invert(memory_limit=1), "needs about .* of memory"),
    ("invert a missing image", lambda: _invert(image="/nonexistent/turtle.jpg"), "does not exist"),
    # --- a fresh round of hostile input: wrong types and silent mistakes ----------------------
    ("stylize with content_layers None", lambda: _stylize(content_layers=None),
     "content_layers must be layer names such as 'relu4_2'"),
    ("stylize with a style blend by name", lambda: _stylize(style_blend={"a": 1, "b": 1}),
     "style_blend must be a list of numbers"),
    ("stylize with progress 5", lambda: _stylize(progress=5), "progress must be True or False"),
    ("stylize with callback 5", lambda: _stylize(callback=5), "callback must be callable"),
    ("stylize with dtype 'blah'", lambda: _stylize(dtype="blah"), "dtype 'blah' is not supported"),
    ("stylize from a huge nested list", lambda: _stylize(init=[[0] * 1000] * 1000),
     "cannot use a list as an image"),
    ("normalised gradients without a weight for a layer",
     lambda: _losses().normalize_layer_gradients({"a": np.ones(3)}, {}), "no weight for layers"),
    ("guided loss with fewer region weights than regions", lambda: _guided(region_weights=[1.0]),
     "1 region weights for 2 regions"),
    ("guided loss with a float32 target for float64 features",
     lambda: _guided(A_dtype=np.float32), "F is float64 but A is float32"),
    ("guided Gram matrix with a guide of the wrong shape",
     lambda: _losses().guided_gram_matrix(np.ones((4, 9)), np.ones((4, 1))),
     r"a guide has shape \(4, 1\) but the layer has 9 positions"),
    ("numerical gradient at 2-d indices",
     lambda: _gradcheck().numerical_gradient(lambda v: 0.0, np.ones(4), indices=[[0, 1]]),
     "indices must be a list of flat integer indices"),
    ("numerical gradient at a fractional index",
     lambda: _gradcheck().numerical_gradient(lambda v: 0.0, np.ones(4), indices=[0.7]),
     "indices must be a list of flat integer indices"),
    ("check_gradient with num_samples True",
     lambda: _gradcheck().check_gradient(lambda v: 0.0, np.ones(4), np.ones(4), num_samples=True),
     "num_samples must be a positive integer"),
    ("check_gradient of a NaN gradient",
     lambda: _gradcheck().check_gradient(lambda v: 0.0, np.ones(4), np.full(4, np.nan)),
     "the analytic gradient holds NaN"),
    ("check_answer with rtol 'a'", lambda: _answers().check_answer(1, 1.5, "x", rtol="a"),
     "rtol must be a number >= 0"),
    ("load_image at size True", lambda: im.load_image(im.demo_images()[0], size=True),
     "a whole number of pixels"),
    ("weights from a number", lambda: _models().load_vgg19(123), "must be a path"),
    ("weights with a checksum that is a number",
     lambda: _weights().load_weights(sha256=123), "sha256 must be 64 hex digits"),
    ("VGG16 without a file", lambda: _models().load_vgg16(None), "ships VGG19 weights only"),
    ("stylize with a noise blend of 2", lambda: _stylize(noise_blend=2),
     "noise_blend must be between 0 and 1, got 2"),
    ("stylize from noise blended with noise", lambda: _stylize(init="noise", noise_blend=0.1),
     "noise_blend blends noise into an image start"),
    ("stylize with a film that is a PNG", lambda: _stylize(animate="film.png"),
     "animate 'film.png' is not a film"),
    ("stylize with a film of the content image",
     lambda: _stylize(content=_gif_content(), animate=_gif_content()), "is the input file"),
    ("stylize with animate_size and no film", lambda: _stylize(animate_size=64),
     "animate_size shapes a film; give animate too"),
    ("stylize with a film of too many frames",
     lambda: _stylize(animate="f.gif", iterations=500, animate_every=2),
     "animate_every 2 makes 251 frames"),
    ("a film saved without frames", lambda: _film().Film().save("f.gif"), "has no frames"),
    ("a batch with masks", lambda: _batch(masks=["m.png"]), "masks does not apply to a batch"),
    ("a batch in TIFF", lambda: _batch(format="tiff"), "unknown format 'tiff'"),
    ("a batch of a missing content", lambda: _batch(contents="/nonexistent/a.png"),
     "content image '/nonexistent/a.png' does not exist"),
    ("show two layers", lambda: _show(layer=["relu1_1", "relu2_1"]), "layer names one layer"),
    ("show at an unknown order", lambda: _show(order="random"), "unknown order 'random'"),
    ("show at 0 channels", lambda: _show(channels=0), "channels must be an integer >= 1"),
    ("a download cache that is a file",
     lambda: _weights().download("vgg16", cache_dir=im.demo_images()[0]),
     "as the cache folder .*choose another cache_dir"),
]


def _losses():
    from nst_numpy import losses
    return losses


@functools.lru_cache(maxsize=1)
def _gif_content():
    """The demo content as a GIF in a temporary folder: a film's name that is an input."""
    import tempfile
    path = os.path.join(tempfile.mkdtemp(), "content.gif")
    Image.open(im.demo_images()[0]).save(path)
    return path


def _film():
    from nst_numpy import animate
    return animate


def _batch(contents=None, **kwargs):
    from nst_numpy import batch
    import tempfile
    batch.stylize_batch(contents or im.demo_images()[0], im.demo_images()[1], tempfile.mkdtemp(),
                        **{"size": 24, "iterations": 1, "weights": NO_WEIGHTS, **kwargs})


def _show(**kwargs):
    from nst_numpy import show
    show.layer_view(im.demo_images()[0], **{"size": 32, "weights": NO_WEIGHTS, **kwargs})


def _gradcheck():
    from nst_numpy import gradcheck
    return gradcheck


def _answers():
    from nst_numpy import answers
    return answers


def _models():
    from nst_numpy import models
    return models


def _weights():
    from nst_numpy import weights
    return weights


def _guided(region_weights=None, A_dtype=np.float64):
    from nst_numpy import losses
    rng = np.random.default_rng(0)
    F = rng.normal(size=(4, 9))
    A = [losses.gram_matrix(rng.normal(size=(4, 9))).astype(A_dtype) for _ in range(2)]
    guides = [np.ones(9), np.full(9, 0.5)]
    losses.guided_style_layer_loss(F, A, guides, region_weights)


@pytest.mark.parametrize("call, message", [row[1:] for row in API_ROWS],
                         ids=[row[0] for row in API_ROWS])
def test_bad_api_input(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_a_string_names_one_layer():
    from nst_numpy import vgg
    model = vgg.VGG(vgg.random_weights())
    x = np.random.default_rng(0).normal(size=(3, 8, 8))
    assert list(model.features(x, "relu1_1")) == ["relu1_1"]
