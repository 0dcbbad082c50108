"""Class activation maps for a network that ends in global average pooling and one Dense layer.

For features A (h, w, k) of the last conv block and Dense kernel W (k, classes), bias b:

    logit_c = mean_ij sum_k W[k, c] A[i, j, k] + b_c,   so   CAM_c(i, j) = sum_k W[k, c] A[i, j, k]

is exact: the map's mean plus the bias is the class's logit. It shows where the evidence for c is.
"""

from __future__ import annotations

import numpy as np


def class_activation_maps(features: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """(n, h, w, k) features and a (k, classes) kernel -> (n, h, w, classes) maps."""
    features = np.asarray(features, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    if features.shape[-1] != kernel.shape[0]:
        raise ValueError(
            f"features have {features.shape[-1]} channels but the kernel expects {kernel.shape[0]}."
        )
    return np.einsum("nhwk,kc->nhwc", features, kernel)


def normalize_map(activation_map: np.ndarray) -> np.ndarray:
    """Scale one map to 0..1 (positive evidence only; a flat or all-negative map gives zeros)."""
    positive = np.maximum(np.asarray(activation_map, dtype=np.float32), 0.0)
    peak = positive.max()
    return positive / peak if peak > 0 else np.zeros_like(positive)


def upsample(activation_map: np.ndarray, size: int = 64) -> np.ndarray:
    """Nearest-neighbour upsampling of an (h, w) map to (size, size); size must be a multiple."""
    height, width = activation_map.shape
    if size % height or size % width:
        raise ValueError(
            f"size {size} is not a multiple of the map's shape {activation_map.shape}."
        )
    return np.kron(activation_map, np.ones((size // height, size // width), dtype=np.float32))


def overlay(image: np.ndarray, activation_map: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """Blend a 0..1 map (any multiple-of-64 grid) over a uint8 RGB image as a red-yellow heat."""
    heat = upsample(normalize_map(activation_map), image.shape[0])[..., None]
    colour = np.concatenate([np.ones_like(heat), heat, np.zeros_like(heat)], axis=-1) * 255.0
    alpha = strength * heat
    blended = (1.0 - alpha) * image.astype(np.float32) * (1.0 - 0.4 * strength) + alpha * colour
    return np.clip(blended, 0, 255).astype(np.uint8)


def model_maps(model, composites: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """(n, 64, 64, 3) composites -> (n, h, w, classes) maps of a `core.model` network.

    The features of its last convolution block times its logits' kernel, as the app's
    Predictor computes them, `chunk` composites at a time (a chunk's features are 64 KiB per
    composite). For a softmax network too: the maps are those of its logits, CAM_c above.
    """
    from keras import Model

    from core.model import LAST_CONV_NAME, LOGITS_NAME

    composites = np.asarray(composites)
    if composites.ndim != 4 or composites.shape[1:] != (64, 64, 3):
        raise ValueError(f"composites must be (n, 64, 64, 3), got {composites.shape}.")
    probe = Model(model.inputs, model.get_layer(LAST_CONV_NAME).output)
    kernel = np.asarray(model.get_layer(LOGITS_NAME).kernel, dtype=np.float32)
    height, width = probe.output_shape[1:3]
    maps = np.zeros((len(composites), height, width, kernel.shape[1]), dtype=np.float32)
    for start in range(0, len(composites), chunk):
        features = probe.predict(composites[start : start + chunk], batch_size=256, verbose=0)
        maps[start : start + chunk] = class_activation_maps(features, kernel)
    return maps
