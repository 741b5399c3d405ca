"""Images in and out: caffe preprocessing for the VGG weights and its inverse.

The ImageNet VGG weights were trained on caffe-style inputs: BGR channel order, pixel
values 0-255, and the mean pixel of ImageNet subtracted per channel.
"""

import numpy as np

# ImageNet mean pixel in B, G, R order (Simonyan & Zisserman's caffe models).
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])


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
