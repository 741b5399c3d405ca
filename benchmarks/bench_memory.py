"""Peak memory of whole style transfers against the estimate that refuses what cannot fit.

    python benchmarks/bench_memory.py                       # every case below
    python benchmarks/bench_memory.py --cases mrf-styles lbfgs-memory
    python benchmarks/bench_memory.py --fit --sizes 128 256 384 512 768
    python benchmarks/bench_memory.py --fit --square --sizes 1024 2048 --impls winograd --iterations 1

Each run is one ``stylize`` on the shipped images in a fresh process, which prints its peak
resident set (``ru_maxrss``: libraries, weights and all). Beside it the script prints the
estimate that ``stylize`` checks for the same options (``nst_numpy.transfer.check_memory``,
built on ``nst_numpy.memory.estimate_run``; margin included), and the ratio measured /
estimated: the estimate may be high, but a ratio above 1.1 would let a run that does not fit
start anyway. One case per option that changes a run's memory: the size and network
(``default``, ``plain``), the number of style images with the MRF loss and with the Gram
loss, ``lbfgs_memory``, the optimizer, ``dtype``, masks, ``style_scale``, a texture, the
normalised VGG, average pooling, a pyramid and normalised gradients.

``--fit``: the older measurement that fitted the networks' ``MEMORY`` (``VGG.MEMORY``,
``FastVGG.MEMORY``): the default run at each ``--sizes`` for both networks, and a
least-squares line peak = a + b * pixels per network, where pixels is the larger of the
output's and the style image's pixel count.
docs/benchmarks.md records the runs.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CHILD = """
import json, os, resource, sys
import numpy as np
from nst_numpy import image, memory, transfer
from nst_numpy.models import network_class
from nst_numpy.options import INITS, Config
size, options = int(sys.argv[1]), json.loads(sys.argv[2])
content, style = image.demo_images()
turtle, wave = image.quiz_images()
styles = [(style, wave)[k % 2] for k in range(options.pop("styles", 1))]
if options.pop("square", False):   # the content resized to size x size: the output is square
    from PIL import Image
    content = np.asarray(Image.fromarray(image.load_image(content)).resize((size, size), Image.LANCZOS))
if "large_content" in options:   # written by the parent, a smooth picture of that size
    content = options.pop("large_content_path")
    options.pop("large_content")
texture = options.pop("texture", False)
if texture:
    content = None
masks = options.pop("masks", 0)
if masks:   # vertical stripes, one region per style image
    H, W = transfer.output_shape(content if content is not None else styles[0], size)
    stripes = np.arange(W) * masks // W
    options["masks"] = [np.broadcast_to((stripes == k).astype(np.float64), (H, W)).copy()
                        for k in range(masks)]
    styles = [(style, wave)[k % 2] for k in range(masks)]
if "dtype" in options:
    options["dtype"] = np.dtype(options["dtype"]).type
options.update(size=size, memory_limit=float("inf"))
result = transfer.stylize(content, styles, **options)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
# The estimate stylize checked, for the same options: the same config and terms, and the
# lines below mirror nst_numpy.transfer.check_memory (which raises instead of returning it)
config = Config(options, texture=texture)
terms = transfer.build_terms(config, content, styles)
shape = transfer.output_shape(content if content is not None else styles[0], size)
itemsize = np.dtype(config.dtype).itemsize
H, W = shape
inputs = [h * w for term in terms for h, w in term.network_inputs(shape)]
files = [s for term in terms for s in term.sources() if isinstance(s, (str, os.PathLike))]
if isinstance(config.init, os.PathLike) or (isinstance(config.init, str) and
                                            config.init not in INITS):
    files.append(config.init)
network = getattr(config.model, "MEMORY", None) or network_class(config.fast).MEMORY
estimate = memory.estimate_run(
    network, max([H * W, *inputs]), itemsize,
    held=sum(t.memory(shape, itemsize) for t in terms),
    decoded=max([h * w for h, w in map(image.image_size, files)], default=0),
    lbfgs_memory=config.lbfgs_memory, output_pixels=H * W)
print(json.dumps({"pixels": int(result.image.shape[0] * result.image.shape[1]),
                  "peak": peak, "estimate": estimate}))
"""

MAKE_LARGE = """
import sys
from PIL import Image
path, H, W = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
Image.linear_gradient("L").resize((W, H)).convert("RGB").save(path, quality=90)
"""

# name -> [(size, options)]: the runs of each case (3 iterations each, unless given)
CASES = {
    "default": [(256, {}), (512, {})],
    "plain": [(256, {"fast": False}), (512, {"fast": False})],
    "mrf-styles": [(320, {"style_loss": "mrf", "styles": n}) for n in (1, 4, 12)],
    "gram-styles": [(320, {"styles": n}) for n in (1, 12)],
    # L-BFGS touches its history's memory only as it fills: as many iterations as steps
    "lbfgs-memory": [(256, {"lbfgs_memory": m, "iterations": 55}) for m in (1, 10, 50)],
    # a 12000 x 8000 content photo (96 Mpx) for a 256 px run
    "large-input": [(256, {"large_content": [8000, 12000]})],
    "optimizer": [(384, {"optimizer": "adam"}), (384, {"optimizer": "gd", "lr": 1e-9})],
    "float64": [(256, {"dtype": "float64"}), (256, {"dtype": "float64", "fast": False})],
    "masks": [(256, {"masks": n}) for n in (2, 8)],
    "style-scale": [(256, {"style_scale": 2.0})],
    "texture": [(256, {"texture": True})],
    "normalized": [(256, {"normalized": True})],
    "avg-pooling": [(256, {"pooling": "avg"})],
    "scales": [(512, {"scales": 2, "iterations": [3, 3]})],
    "normalize-gradients": [(256, {"normalize_gradients": True})],
}


def run_one(size, options):
    """{"pixels", "peak", "estimate"} of one stylize in a fresh process (Linux: ru_maxrss
    in KiB)."""
    options = {"iterations": 3, **options}
    with tempfile.TemporaryDirectory() as folder:
        if "large_content" in options:
            # made in a process of its own: Linux keeps a parent's peak resident set in its
            # children's ru_maxrss, so this process must stay small
            path = os.path.join(folder, "large.jpg")
            subprocess.run([sys.executable, "-c", MAKE_LARGE, path,
                            *map(str, options["large_content"])], check=True)
            options["large_content_path"] = path
        out = subprocess.run([sys.executable, "-c", CHILD, str(size), json.dumps(options)],
                             capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cases(names):
    print(f"numpy {np.__version__}; stylize on the shipped images (3:2), peak RSS of a fresh "
          "process against the estimate (margin included)")
    print(f"{'case':>20} {'size':>5} {'options':<44} {'peak MiB':>9} {'est. MiB':>9} "
          f"{'meas/est':>9}")
    worst = 0.0
    for name in names:
        for size, options in CASES[name]:
            row = run_one(size, options)
            ratio = row["peak"] / row["estimate"]
            worst = max(worst, ratio)
            print(f"{name:>20} {size:5d} {json.dumps(options)[:44]:<44} {row['peak'] / 2**20:9.0f} "
                  f"{row['estimate'] / 2**20:9.0f} {ratio:9.3f}", flush=True)
    print(f"largest measured/estimated: {worst:.3f}")


def fit(sizes, impls=("im2col", "winograd"), iterations=3, square=False):
    shape = "squared" if square else "3:2"
    print(f"numpy {np.__version__}; stylize on the demo images ({shape}), {iterations} L-BFGS "
          "iterations, peak RSS of a fresh process")
    print(f"{'size':>5} {'impl':>9} {'pixels':>8} {'peak MiB':>9} {'bytes/px':>9}")
    for impl in impls:
        rows = []
        for size in sizes:
            row = run_one(size, {"fast": impl == "winograd", "iterations": iterations,
                                 "square": square})
            rows.append(row)
            print(f"{size:5d} {impl:>9} {row['pixels']:8d} {row['peak'] / 2**20:9.0f} "
                  f"{row['peak'] / row['pixels']:9.0f}", flush=True)
        if len(rows) < 2:
            continue
        pixels = np.array([r["pixels"] for r in rows], dtype=float)
        peaks = np.array([r["peak"] for r in rows], dtype=float)
        b, a = np.polyfit(pixels, peaks, 1)
        worst = max(peaks / (a + b * pixels))
        print(f"{impl}: peak ~ {a / 2**20:.0f} MiB + {b:.0f} bytes/px "
              f"(largest measured/fitted {worst:.3f})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--fit", action="store_true",
                        help="fit peak = a + b * pixels for both networks instead")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 384, 512],
                        help="with --fit: the sizes (default: 128 256 384 512)")
    parser.add_argument("--impls", nargs="+", choices=["im2col", "winograd"],
                        default=["im2col", "winograd"], help="with --fit: the networks")
    parser.add_argument("--iterations", type=int, default=3, help="with --fit (default 3)")
    parser.add_argument("--square", action="store_true",
                        help="with --fit: resize the content to size x size (the demo images "
                             "are 3:2)")
    args = parser.parse_args(argv)
    if args.fit:
        fit(args.sizes, args.impls, args.iterations, args.square)
    else:
        cases(args.cases)


if __name__ == "__main__":
    main()
