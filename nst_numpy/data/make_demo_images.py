"""Make the two demo images shipped in this folder (run once; the outputs are committed).

    pip download --no-deps scikit-image==0.26.0 && unzip -j scikit_image-*.whl skimage/data/chelsea.png
    python nst_numpy/data/make_demo_images.py chelsea.png

* ``demo_content.jpg``: scikit-image's ``chelsea.png`` (Stefan van der Walt's cat, CC0),
  resized to 256 px on its longest side.
* ``demo_style.jpg``: a swirling "brush-stroke" painting made here from a fixed seed:
  a flow field of a few vortices over a gentle wave, white noise smeared along it
  (line-integral convolution) as strokes, and a palette of blues, ochre and cream.
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

HERE = Path(__file__).resolve().parent
SIZE = 256
PALETTE = np.array([[14, 30, 78], [29, 72, 142], [58, 125, 170], [222, 178, 70],
                    [245, 232, 190], [36, 98, 110]], dtype=np.float64)


def flow_field(n, rng):
    """Unit vectors (2, n, n): a wave flowing right plus a few vortices."""
    y, x = np.mgrid[0:n, 0:n] / n
    vy = 0.35 * np.sin(2 * np.pi * (1.5 * x + 0.3 * y))
    vx = np.ones_like(x)
    for _ in range(6):
        cy, cx = rng.uniform(0.1, 0.9, 2)
        radius, spin = rng.uniform(0.08, 0.2), rng.choice([-1.0, 1.0]) * rng.uniform(3, 6)
        dy, dx = y - cy, x - cx
        falloff = spin * np.exp(-(dx * dx + dy * dy) / radius**2)
        # a vortex turns the flow perpendicular to the radius: (dy, dx) -> (dx, -dy)
        vy, vx = vy + falloff * dx / radius, vx - falloff * dy / radius
    norm = np.hypot(vy, vx) + 1e-9
    return np.stack([vy / norm, vx / norm])


def line_integral_convolution(noise, field, steps=14, step=1.0):
    """Average ``noise`` along each point's streamline: smooth along the flow, rough across."""
    n = noise.shape[0]
    total = noise.copy()
    for direction in (1.0, -1.0):
        pos = np.mgrid[0:n, 0:n].astype(np.float64)
        for _ in range(steps):
            v = np.stack([ndimage.map_coordinates(f, pos, order=1, mode="wrap") for f in field])
            pos = pos + direction * step * v
            total += ndimage.map_coordinates(noise, pos, order=1, mode="wrap")
    return total / (2 * steps + 1)


def style_image(n=SIZE, seed=1889):
    rng = np.random.default_rng(seed)
    field = flow_field(n, rng)
    strokes = line_integral_convolution(rng.random((n, n)), field)
    strokes = (strokes - strokes.mean()) / strokes.std()
    # A slowly varying value picks the palette colour; it drifts along the flow too.
    value = ndimage.gaussian_filter(rng.random((n, n)), n / 10, mode="wrap")
    value = line_integral_convolution(value, field, steps=20, step=2.0)
    value = (value - value.min()) / np.ptp(value) * (len(PALETTE) - 1)
    low = np.floor(value).astype(int).clip(0, len(PALETTE) - 2)
    t = (value - low)[..., None]
    colour = (1 - t) * PALETTE[low] + t * PALETTE[low + 1]
    # Strokes brighten and darken the colour; dark contour bands separate colour zones.
    shade = 1 + 0.22 * strokes[..., None]
    contour = 1 - 0.55 * np.exp(-(np.sin(np.pi * value * 2) ** 2) / 0.02)[..., None]
    return np.clip(colour * shade * contour, 0, 255).astype(np.uint8)


def main(chelsea_png):
    cat = Image.open(chelsea_png).convert("RGB")
    scale = SIZE / max(cat.size)
    cat = cat.resize((round(cat.width * scale), round(cat.height * scale)), Image.LANCZOS)
    cat.save(HERE / "demo_content.jpg", quality=90)
    Image.fromarray(style_image()).save(HERE / "demo_style.jpg", quality=90)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
