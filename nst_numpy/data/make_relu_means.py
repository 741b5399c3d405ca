"""Make ``vgg19_q_relu_means.npz``, the shipped VGG19's relu means over the shipped images
(run once when the weights, the images or the normalisation change; the output is committed).

    python nst_numpy/data/make_relu_means.py

The normalised VGG (:mod:`nst_numpy.normalize`) divides every channel by its mean activation
``m_l[c]`` over the four images of ``NORMALIZATION_IMAGES`` at ``NORMALIZATION_SIZE`` px, with
the embedded weight file, max pooling and float64 (:func:`nst_numpy.normalize.channel_means`).
Computing them takes some 3 s on two idle cores and far longer on a loaded machine, at every
process's first normalised load; the loader reads this file instead when the weight file's
SHA-256, the images and the size match what is recorded in it. The file holds one float64
array per relu layer, named as the layer, plus its provenance as text arrays (no pickle):
``weights_sha256``, ``size``, ``images`` and each image's ``image_sha256``.
``tests/test_normalized_vgg.py`` recomputes the means and compares them with this file.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from nst_numpy import normalize as N  # noqa: E402
from nst_numpy.vgg import VGG  # noqa: E402
from nst_numpy.weights import DEFAULT_SHA256, load_weights  # noqa: E402


def main():
    arch, weights = load_weights()   # the embedded file, its SHA-256 checked
    means = N.channel_means(VGG(weights, arch=arch, pooling="max"), N.normalization_images())
    out = HERE / N.SHIPPED_MEANS
    N.write_means(out, means, DEFAULT_SHA256)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB, {len(means)} layers)")


if __name__ == "__main__":
    main()
