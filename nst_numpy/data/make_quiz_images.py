"""Make the quiz's two images shipped in this folder (run once; the outputs are committed).

    python nst_numpy/data/make_quiz_images.py SOURCE_DIR

SOURCE_DIR holds the course's copies of the two Wikimedia Commons files named in
``LICENSES.md`` (``green_sea_turtle.jpg``, 1024 x 768; ``great_wave.jpg``, 3840 x 2649).

* An image whose longer side is at most ``MAX_SIDE`` pixels is copied byte for byte
  (the turtle: unchanged, 1024 x 768, about 200 KB).
* A larger one is resized (Pillow, Lanczos) to ``MAX_SIDE`` pixels on its longer side and
  re-encoded as JPEG at ``QUALITY`` (the Great Wave: 1600 x 1104, about 380 KB).
"""

import shutil
import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
NAMES = ("green_sea_turtle.jpg", "great_wave.jpg")
MAX_SIDE = 1600
QUALITY = 78


def ship(source, target):
    with Image.open(source) as im:
        if max(im.size) <= MAX_SIDE:
            shutil.copyfile(source, target)
            return f"copied unchanged, {im.width} x {im.height}"
        scale = MAX_SIDE / max(im.size)
        size = (round(im.width * scale), round(im.height * scale))
        im.convert("RGB").resize(size, Image.LANCZOS).save(target, quality=QUALITY, optimize=True)
        return f"{im.width} x {im.height} resized to {size[0]} x {size[1]}, JPEG quality {QUALITY}"


def main(source_dir):
    for name in NAMES:
        what = ship(Path(source_dir) / name, HERE / name)
        print(f"{name}: {what}, {(HERE / name).stat().st_size / 1000:.0f} KB")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
