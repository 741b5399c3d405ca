"""Figures for docs/benchmarks.md from ``python -m benchmarks.bench --whole-run --curves C --out D``.

    python benchmarks/plot_whole_run.py C_512.json D --size 512 --to docs/_static

writes ``whole_run_<size>.png`` (full-size loss against seconds for every run, log scale,
the target as a line) and ``whole_run_<size>_pictures.jpg`` (the pictures side by side).
"""

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def plot_curves(data, path):
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, curve in data["curves"].items():
        seconds, loss = np.array(curve).T
        ax.semilogy(seconds, loss, label=name)
    ax.axhline(data["target"], color="grey", linestyle=":", label="target")
    ax.set(xlabel="seconds from the start of the run", ylabel="total loss at full size",
           title=f"{data['size']} px: loss against time")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def side_by_side(pictures, path, quality=85):
    images = [Image.open(p).convert("RGB") for p in pictures]
    height = min(im.height for im in images)
    images = [im.resize((round(im.width * height / im.height), height)) for im in images]
    canvas = Image.new("RGB", (sum(im.width for im in images) + 8 * (len(images) - 1), height),
                       "white")
    x = 0
    for im in images:
        canvas.paste(im, (x, 0))
        x += im.width + 8
    canvas.save(path, quality=quality)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("curves")
    parser.add_argument("pictures", help="the --out folder of the bench")
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--to", default="docs/_static")
    parser.add_argument("--runs", nargs="+", default=["single-scale", "coarse-to-fine_x3"],
                        help="pictures to put side by side")
    args = parser.parse_args(argv)
    with open(args.curves) as f:
        data = json.load(f)
    plot_curves(data, os.path.join(args.to, f"whole_run_{args.size}.png"))
    side_by_side([os.path.join(args.pictures, f"{args.size}_{run}.jpg") for run in args.runs],
                 os.path.join(args.to, f"whole_run_{args.size}_pictures.jpg"))


if __name__ == "__main__":
    main()
