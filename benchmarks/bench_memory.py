"""Peak memory of a whole style transfer against its pixel count, for the memory estimate.

    python benchmarks/bench_memory.py --sizes 128 256 384 512 --iterations 3

Each (size, network) runs ``stylize`` on the shipped demo images (L-BFGS, the default
layers, ``style_scale=1``) in a fresh process and prints that process's peak resident set
(``ru_maxrss``), then a least-squares fit ``peak = a + b * pixels`` per convolution, where
pixels is the larger of the output's and the style image's pixel count, for the plain
network (``im2col``) and the fast one (``winograd``). ``stylize`` refuses
a job whose estimate from this fit exceeds the memory available
(``nst_numpy.transfer.estimate_memory``); docs/benchmarks.md records the runs.
"""

import argparse
import json
import subprocess
import sys

import numpy as np

CHILD = """
import json, resource, sys
import numpy as np
from nst_numpy import image, transfer
size, impl, iterations, square = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
content, style = image.demo_images()
if square:   # the content resized to size x size: the output is square
    from PIL import Image
    content = np.asarray(Image.fromarray(image.load_image(content)).resize((size, size), Image.LANCZOS))
result = transfer.stylize(content, style, size=size, iterations=iterations,
                          fast=impl == "winograd", memory_limit=float("inf"))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"pixels": int(result.image.shape[0] * result.image.shape[1]), "peak": peak}))
"""


def run_one(size, impl, iterations, square=False):
    """{"pixels", "peak"} of one stylize in a fresh process (Linux: ru_maxrss in KiB)."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(size), impl, str(iterations),
                          str(int(square))],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 384, 512])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--impls", nargs="+", default=["im2col", "winograd"])
    parser.add_argument("--square", action="store_true",
                        help="resize the content to size x size (the demo images are 3:2)")
    args = parser.parse_args(argv)
    shape = "squared" if args.square else "3:2"
    print(f"numpy {np.__version__}; stylize on the demo images ({shape}), {args.iterations} "
          "L-BFGS iterations, peak RSS of a fresh process")
    print(f"{'size':>5} {'impl':>9} {'pixels':>8} {'peak MiB':>9} {'bytes/px':>9}")
    for impl in args.impls:
        rows = []
        for size in args.sizes:
            row = run_one(size, impl, args.iterations, args.square)
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


if __name__ == "__main__":
    main()
