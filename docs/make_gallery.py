"""Make the gallery: full-size pictures of every feature, each with the command that made it.

    python docs/make_gallery.py                 # every picture (about an hour on 2 cores)
    python docs/make_gallery.py q12_3 texture   # only these entries
    python docs/make_gallery.py --page          # only rewrite docs/gallery.md from the record

Each entry runs one ``nst-numpy`` command in a fresh process and writes a JPEG to
``docs/_static/gallery/``. Its command, wall-clock seconds and final loss (read from the
command's last line) go to ``docs/_static/gallery/record.json``; ``docs/gallery.md`` and the
README's opening picture (``banner.jpg``: content | style | result) are made from that record.
An entry already in the record is skipped unless named on the command line, so an interrupted
run picks up where it stopped.

The pictures derived from the turtle photograph (P. Lindgren, CC BY-SA 3.0) are under
CC BY-SA 3.0 too; see ``docs/README.md``.
"""

import argparse
import datetime
import json
import os
from pathlib import Path
import platform
import re
import subprocess
import sys
import time

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from nst_numpy import image as im  # noqa: E402

GALLERY = ROOT / "docs" / "_static" / "gallery"
RECORD = GALLERY / "record.json"
PAGE = ROOT / "docs" / "gallery.md"
SIZE = 512
ITERATIONS = 150
TURTLE = "nst_numpy/data/green_sea_turtle.jpg"
WAVE = "nst_numpy/data/great_wave.jpg"
SWIRLS = "nst_numpy/data/demo_style.jpg"
WATER_MASK = "docs/_static/gallery/mask_water.png"
TURTLE_MASK = "docs/_static/gallery/mask_turtle.png"
QUIZ_LAYERS = "relu1_1,relu2_1,relu3_1"
INVERTED_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
BANNER_HEIGHT = 300
FILM_SIZE = 256   # the film's run: smaller than the gallery's pictures, as is its file
# Entries that also write a film, shown on the page above their picture.
FILMS = {"film": "docs/_static/gallery/film.gif"}
# Entries that draw a figure: no run, so no iterations and no loss.
FIGURES = {"show_relu3_1"}


# The pictures added in December 2026 were made at this size and with fewer iterations, on
# a machine shared with other work; the MRF loss, some 1 TFLOP an evaluation at 512 px,
# at a quarter of it.
SMALL, SMALL_ITERATIONS, MRF_SIZE = 256, 100, 128


def stylize(*options, styles=(WAVE,), size=SIZE, iterations=ITERATIONS):
    return ["stylize", TURTLE, *styles, "--size", str(size), "--iterations", str(iterations),
            *options]


def small(*options, styles=(WAVE,), size=SMALL):
    """A stylize command at the smaller size and iteration count."""
    return stylize(*options, styles=styles, size=size, iterations=SMALL_ITERATIONS)


# name -> (section, caption, nst-numpy arguments before "-o OUT")
ENTRIES = {
    "q12_5": ("Question 12", "5 style layers, relu1_1 ... relu5_1 (stylize's default)",
              stylize()),
    "q12_3": ("Question 12", "3 style layers, relu1_1 ... relu3_1", stylize(
        "--style-layers", QUIZ_LAYERS)),
    "demo": ("The demo", "`nst-numpy demo` at 512 px: the shipped cat (256 px, enlarged) "
             "and swirls", ["demo", "--size", str(SIZE), "--iterations", str(ITERATIONS)]),
    "texture": ("Texture synthesis", "the Great Wave's texture from noise, no content image",
                ["stylize", "--texture", WAVE, "--size", str(SIZE),
                 "--iterations", str(ITERATIONS)]),
    "luminance": ("Colour preservation", "`--preserve-color luminance`: style on the "
                  "luminance only", stylize("--preserve-color", "luminance")),
    "histogram": ("Colour preservation", "`--preserve-color histogram`: the wave's colours "
                  "matched to the turtle's first", stylize("--preserve-color", "histogram")),
    "spatial": ("Spatial control", "the Great Wave in the open water, the swirls elsewhere "
                "(`--masks`)", ["stylize", TURTLE, WAVE, SWIRLS, "--size", str(SIZE),
                                "--iterations", str(ITERATIONS), "--masks", WATER_MASK,
                                TURTLE_MASK]),
    "coarse_to_fine": ("Coarse-to-fine", "`--scales 3`: 50 iterations at 128 and at 256 px, "
                       f"then {ITERATIONS} at 512 px (single-scale: the 5-layer picture above)",
                       stylize("--scales", "3", "--coarse-iterations", "50")),
    "scale_control": ("Scale control", "the Great Wave's coarse structure (relu3_1 ... "
                      "relu5_1) and the swirls' fine texture (relu1_1, relu2_1)", stylize(
                          "--style-layers", "relu3_1,relu4_1,relu5_1", "--style-layers",
                          "relu1_1,relu2_1", styles=(WAVE, SWIRLS), size=SMALL)),
    "style_blend": ("Two styles blended", "the Great Wave and the swirls everywhere, "
                    "weighted 0.7 and 0.3 (`--style-blend`)", small(
                        "--style-blend", "0.7,0.3", styles=(WAVE, SWIRLS))),
    "style_scale": ("Style scale", "the Great Wave resized to twice the output's size before "
                    "its Gram matrices are taken (`--style-scale 2`)",
                    small("--style-scale", "2")),
    "avg_pool": ("Average pooling", "VGG19 with average pooling, Gatys et al.'s choice "
                 "(`--pooling avg`)", small("--pooling", "avg")),
    "normalized_vgg": ("The normalised VGG", "each filter rescaled to mean activation 1 "
                       "(`--normalized-vgg`, with its own beta and TV weight)",
                       small("--normalized-vgg")),
    "normalized_gradients": ("Normalised gradients", "each layer's gradient rescaled to L1 "
                             "norm 1 before the backward pass, with Adam "
                             "(`--normalize-gradients`)",
                             small("--normalize-gradients")),
    "mrf": ("MRF patch loss", "Li & Wand's patches at relu3_1 and relu4_1, with Adam "
            "(`--style-loss mrf`): the wave's crests copied over the turtle, whose outline "
            "remains", small("--style-loss", "mrf", size=MRF_SIZE)),
    "w2": ("Wasserstein-2 style loss", "Gaussian fits of each style layer's features "
           "matched in the Wasserstein-2 distance, at its default weight "
           "(`--style-loss w2`)", small("--style-loss", "w2")),
    **{f"invert_{layer}": ("Feature inversion", f"the turtle rebuilt from noise to match "
                           f"`{layer}`", ["invert", TURTLE, "--layer", layer, "--size",
                                          str(SIZE)])
       for layer in INVERTED_LAYERS},
    "film": ("A film of the optimisation", f"`--animate`: the Question 12 transfer at "
             f"{FILM_SIZE} px as it goes, a frame every 5 iterations (the default spacing for "
             f"{ITERATIONS}); below it, the run's picture",
             ["stylize", TURTLE, WAVE, "--size", str(FILM_SIZE), "--iterations",
              str(ITERATIONS), "--animate", FILMS["film"]]),
    "show_relu3_1": ("Seeing a layer", "`nst-numpy show`: the turtle at relu3_1, its 16 "
                     "strongest feature maps and its Gram matrix per position",
                     ["show", TURTLE, "--layer", "relu3_1"]),
}
# A sentence under each section's title.
SECTION_NOTES = {
    "Question 12": "The quiz's question 12 at full size. \"The first 3\" style layers are "
                   "relu1_1, relu2_1, relu3_1; \"the first 5\" add relu4_1 and relu5_1. "
                   "{doc}`notebooks/06_q12_style_layers` measures this pair at layers neither "
                   "run optimised.",
    "Colour preservation": "Both modes of Gatys et al. (2016) on the Question 12 transfer "
                           "({doc}`features`).",
    "Coarse-to-fine": "The same objective as the 5-layer Question 12 picture, with the same "
                      "full-size iterations after two coarser levels; {doc}`benchmarks` times "
                      "the two.",
    **{title: f"At {SMALL} px, a quarter of the pixels above, made three at a time while "
              "other work loaded the machine (load 4 to 20): their seconds say little "
              "({doc}`features`)."
       for title in ("Scale control", "Two styles blended", "Style scale", "Average pooling",
                     "The normalised VGG", "Normalised gradients", "Wasserstein-2 style loss")},
    "MRF patch loss": f"At {MRF_SIZE} px: matching every patch to every style patch costs "
                      "some 1 TFLOP an evaluation at 512 px ({doc}`features`).",
    "Feature inversion": "What each layer keeps: noise optimised until its activation at one "
                         "layer matches the turtle's ({doc}`annotated/inversion`, "
                         "{doc}`notebooks/07_inversion_texture`).",
    "Seeing a layer": "The other side of feature inversion: what the layer computes from the "
                      "picture ({doc}`features`).",
}
LOSS = re.compile(r"\((\d+)x(\d+), (\d+) iterations, .*(?:best|final) loss ([0-9.e+-]+)\)")


def write_masks():
    """Open water (blue - red > 60 in the turtle photograph) and the rest, as PNG masks."""
    rgb = im.load_image(str(ROOT / TURTLE)).astype(float)
    water = rgb[..., 2] - rgb[..., 0] > 60
    for mask, path in ((water, WATER_MASK), (~water, TURTLE_MASK)):
        grey = np.where(mask, 255, 0).astype(np.uint8)
        im.save_image(np.repeat(grey[..., None], 3, axis=2), str(ROOT / path))


def run(name):
    """Run one entry's command; return its record (command, seconds, loss, size)."""
    out = f"docs/_static/gallery/{name}.jpg"
    arguments = [*ENTRIES[name][2], "-o", out]
    start = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-c", "import sys; from nst_numpy.cli import main; "
         "sys.exit(main(sys.argv[1:]))", *arguments,
         *([] if name in FIGURES else ["--print-every", "50"])],
        cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if finished.returncode != 0:
        sys.exit(f"make_gallery: {name} failed:\n{finished.stderr.strip()}")
    kilobytes = round((ROOT / out).stat().st_size / 1024)
    if name in FIGURES:
        width, height = im.image_size(str(ROOT / out))[::-1]
        return {"command": "nst-numpy " + " ".join(arguments), "seconds": round(seconds),
                "size": f"{width}x{height}", "kilobytes": kilobytes}
    match = LOSS.search(finished.stdout)
    if match is None:
        sys.exit(f"make_gallery: {name}: no final loss in its output:\n{finished.stdout}")
    width, height, iterations, loss = match.groups()
    return {"command": "nst-numpy " + " ".join(arguments), "seconds": round(seconds),
            "loss": float(loss), "iterations": int(iterations), "size": f"{width}x{height}",
            "kilobytes": kilobytes,
            **({"film_kilobytes": round((ROOT / FILMS[name]).stat().st_size / 1024)}
               if name in FILMS else {})}


def write_banner():
    """content | style | result (the 5-layer Q12 picture), all BANNER_HEIGHT px high."""
    panels = [im.load_image(str(ROOT / path)) for path in
              (TURTLE, WAVE, "docs/_static/gallery/q12_5.jpg")]
    gap = np.full((BANNER_HEIGHT, 8, 3), 255, np.uint8)
    resized = []
    for panel in panels:
        width = round(panel.shape[1] * BANNER_HEIGHT / panel.shape[0])
        resized += [im.resize(panel, BANNER_HEIGHT, width), gap]
    im.save_image(np.concatenate(resized[:-1], axis=1), str(GALLERY / "banner.jpg"))


def write_page(record):
    """docs/gallery.md: every picture in the record, with its command, seconds and loss."""
    meta = record.pop("_machine", {})
    lines = [
        "# Gallery", "",
        "Full-size pictures of what nst_numpy does, each made by one command on the shipped",
        "images. `python docs/make_gallery.py` makes them all and writes this page; the seconds",
        f"are wall-clock on {meta.get('machine', 'the machine that made them')}, which also ran",
        "other work, so they are indicative (clean timings are in {doc}`benchmarks`); an entry",
        "remade since the others says when. The loss",
        "is the command's own (the best total loss it saw) and compares only pictures of the",
        "same objective.",
        "",
        "The pictures made from the turtle photograph (P. Lindgren, CC BY-SA 3.0) are under",
        "CC BY-SA 3.0 as well; the Great Wave is in the public domain; the cat and the swirls",
        "are the demo images (`nst_numpy/data/LICENSES.md`).", ""]
    section = None
    for name, (title, caption, _) in ENTRIES.items():
        if name not in record:
            continue
        entry = record[name]
        if title != section:
            lines += [f"## {title}", ""]
            lines += [SECTION_NOTES[title], ""] if title in SECTION_NOTES else []
            section = title
        if name in FILMS:
            lines += [f"![{name} (film)]({FILMS[name].removeprefix('docs/')})", ""]
        made_on = f" on {entry['date']}" if "date" in entry else ""
        said = (f"{entry['size']} px, {entry['seconds']} s{made_on}" if "loss" not in entry else
                f"{entry['size']} px, {entry['iterations']} iterations, {entry['seconds']} s"
                f"{made_on}, loss {entry['loss']:.4g}")
        kilobytes = (f"{entry['film_kilobytes']} KB the film, {entry['kilobytes']} KB the "
                     "picture" if name in FILMS else f"{entry['kilobytes']} KB")
        lines += [f"![{name}](_static/gallery/{name}.jpg)", "",
                  f"{caption}. {said}, {kilobytes}:", "", "```bash", entry["command"], "```", ""]
    PAGE.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    record["_machine"] = meta


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"entries to (re)make: {', '.join(ENTRIES)} (default: all missing)")
    parser.add_argument("--page", action="store_true", help="only rewrite docs/gallery.md")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(ENTRIES))
    if unknown:
        parser.error(f"no entry named {', '.join(unknown)}; choose from {', '.join(ENTRIES)}")
    GALLERY.mkdir(parents=True, exist_ok=True)
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    if not args.page:
        write_masks()
        machine = {"machine": f"{os.cpu_count()} cores ({platform.machine()}, Python "
                              f"{platform.python_version()}, NumPy {np.__version__})",
                   "date": datetime.date.today().isoformat()}
        record.setdefault("_machine", machine)   # the page's, for entries that name none
        for name in args.names or [n for n in ENTRIES if n not in record]:
            print(f"{name}: {' '.join(ENTRIES[name][2])}", flush=True)
            made = {**run(name), "date": machine["date"]}   # each entry keeps its own date
            loss = made.get("loss")   # none for a figure
            print(f"  {made['seconds']} s" + (f", loss {loss:.4g}" if loss else ""), flush=True)
            # read again: another make_gallery.py may have recorded other entries meanwhile
            record = {**json.loads(RECORD.read_text()), name: made} if RECORD.exists() \
                else {"_machine": record["_machine"], name: made}
            RECORD.write_text(json.dumps(record, indent=1) + "\n")
    if "q12_5" in record:
        write_banner()
    write_page(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
