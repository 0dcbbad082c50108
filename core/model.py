"""The article's VGG-like multi-label network: 13 weight layers ending in independent sigmoids."""

from __future__ import annotations

import keras
from keras import layers

BLOCK_CHANNELS = (32, 64, 128, 256)
CONVS_PER_BLOCK = 3
LAST_CONV_NAME = "block4_relu3"
LOGITS_NAME = "logits"
PROBABILITIES_NAME = "probabilities"


OUTPUTS = ("sigmoid", "softmax")


def build_model(
    input_shape: tuple[int, int, int] = (64, 64, 3), num_classes: int = 10, output="sigmoid"
) -> keras.Model:
    """Four blocks of 3 x (Conv 3x3 same -> BatchNorm -> ReLU) at 32, 64, 128, 256 channels,
    AveragePooling 2x2 after blocks 1-3, GlobalAveragePooling and Dense(num_classes) with
    `output` activation: independent sigmoids (multi-label) or a softmax whose outputs share one
    unit of mass (the textbook multi-class ending).

    Takes pixels in 0..255 (uint8 or float) and scales them inside the model. The last Dense
    layer and the sigmoid stay float32 under a mixed-precision policy. 1,964,426 parameters.
    """
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}.")
    inputs = keras.Input(shape=input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for block, channels in enumerate(BLOCK_CHANNELS, start=1):
        for conv in range(1, CONVS_PER_BLOCK + 1):
            x = layers.Conv2D(channels, 3, padding="same", name=f"block{block}_conv{conv}")(x)
            x = layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
            x = layers.ReLU(name=f"block{block}_relu{conv}")(x)
        if block < len(BLOCK_CHANNELS):
            x = layers.AveragePooling2D(2, name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = layers.Dense(num_classes, dtype="float32", name=LOGITS_NAME)(x)
    outputs = layers.Activation(output, dtype="float32", name=PROBABILITIES_NAME)(x)
    return keras.Model(inputs, outputs, name="multilabel_vgg13")
