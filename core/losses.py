"""The losses a model can be trained with (`core.kinds` names which ending each goes with).

Each returns one value per sample, summed over the labels; Keras averages them over the batch.
`core.lab_losses` holds the same formulas in NumPy, with their gradients.
"""

from __future__ import annotations

import keras
from keras import ops

from core.evaluation import EPSILON
from core.lab_losses import ASL_CLIP, ASL_GAMMA_NEGATIVE, ASL_GAMMA_POSITIVE, FOCAL_GAMMA


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


@keras.saving.register_keras_serializable(package="multilabel")
def squared_loss(y_true, y_pred):
    """Squared error summed over the labels, per sample: loss = sum_i (p_i - y_i)^2.

    The article's "mean squared error should also be OK": a bounded loss that still asks every
    output to be near 0 or 1 on its own.
    """
    y_true = ops.cast(y_true, "float32")
    return ops.sum(ops.square(ops.cast(y_pred, "float32") - y_true), axis=-1)


@keras.saving.register_keras_serializable(package="multilabel")
def focal_loss(y_true, y_pred):
    """Focal loss (Lin et al. 2017), gamma 2, summed over the labels, per sample.

    loss = -sum_i [ y_i (1 - p_i)^2 log p_i + (1 - y_i) p_i^2 log(1 - p_i) ],  p clipped to
    [eps, 1 - eps]: binary cross-entropy with easy answers down-weighted.
    """
    return _focal_family(y_true, y_pred, FOCAL_GAMMA, FOCAL_GAMMA, 0.0)


@keras.saving.register_keras_serializable(package="multilabel")
def asymmetric_loss(y_true, y_pred):
    """Asymmetric loss (Ridnik et al. 2021): gamma- 4, gamma+ 1, clip 0.05, per sample.

    m_i = max(p_i - 0.05, 0),
    loss = -sum_i [ y_i (1 - p_i) log p_i + (1 - y_i) m_i^4 log(1 - m_i) ],  clipped to eps.
    """
    return _focal_family(y_true, y_pred, ASL_GAMMA_POSITIVE, ASL_GAMMA_NEGATIVE, ASL_CLIP)


def _focal_family(y_true, y_pred, gamma_positive, gamma_negative, clip):
    y_true = ops.cast(y_true, "float32")
    p = ops.clip(ops.cast(y_pred, "float32"), EPSILON, 1.0 - EPSILON)
    margin = ops.maximum(p - clip, 0.0)
    positive = ops.power(1.0 - p, gamma_positive) * ops.log(p)
    negative = ops.power(margin, gamma_negative) * ops.log(ops.maximum(1.0 - margin, EPSILON))
    return -ops.sum(y_true * positive + (1.0 - y_true) * negative, axis=-1)
