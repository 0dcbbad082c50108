"""The two losses the demo compares, both applied to the same sigmoid outputs.

Each returns one value per sample; Keras averages them over the batch.
"""

from __future__ import annotations

import keras
from keras import ops

from core.evaluation import EPSILON


@keras.saving.register_keras_serializable(package="multilabel")
def binary_loss(y_true, y_pred):
    """Binary cross-entropy summed (not averaged) over the labels, per sample.

    loss = -sum_i [ y_i log p_i + (1 - y_i) log(1 - p_i) ],  p clipped to [eps, 1 - eps].

    Each label is its own yes/no question, so every output is pushed towards 0 or 1
    independently: the right loss for multi-label data.
    """
    y_true = ops.cast(y_true, "float32")
    p = ops.clip(ops.cast(y_pred, "float32"), EPSILON, 1.0 - EPSILON)
    return -ops.sum(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p), axis=-1)


@keras.saving.register_keras_serializable(package="multilabel")
def categorical_loss(y_true, y_pred):
    """Categorical cross-entropy with Keras 2 semantics on non-softmax outputs, per sample.

    q_i = p_i / sum_j p_j,  loss = -sum_i y_i log q_i,  q clipped to [eps, 1 - eps].

    The outputs are renormalised to sum to 1, so only their ratios matter: scaling every p_i by
    the same factor leaves the loss unchanged, and nothing ties the outputs to the 0.5 threshold.
    With k positives the loss is at least k ln k (4 ln 4 = 5.545 for the composites), reached
    when the positives share the mass equally.

    Keras 3's `keras.losses.categorical_crossentropy` behaves differently on a sigmoid layer: it
    finds the layer's cached pre-sigmoid logits and applies a softmax to them instead. This
    function computes the article's formula explicitly from the probabilities.
    """
    y_true = ops.cast(y_true, "float32")
    p = ops.cast(y_pred, "float32")
    q = p / ops.maximum(ops.sum(p, axis=-1, keepdims=True), EPSILON)
    q = ops.clip(q, EPSILON, 1.0 - EPSILON)
    return -ops.sum(y_true * ops.log(q), axis=-1)


# "softmax": the textbook multi-class model, a softmax output trained with categorical
# cross-entropy (on outputs that already sum to 1, `categorical_loss` is the plain formula).
LOSSES = {"bce": binary_loss, "cce": categorical_loss, "softmax": categorical_loss}
