"""Per-sample multi-label accuracies for `model.compile`, at the decision threshold of 0.5.

A label is predicted present when its probability is at least the threshold (the article's
`K.greater_equal(y_pred, 0.5)`); a target of 1 is present, a target of 0 is not.
"""

from __future__ import annotations

import keras
from keras import ops

from core.evaluation import THRESHOLD


def _correct(y_true, y_pred):
    predicted = ops.cast(ops.greater_equal(ops.cast(y_pred, "float32"), THRESHOLD), "float32")
    actual = ops.cast(ops.greater_equal(ops.cast(y_true, "float32"), THRESHOLD), "float32")
    return ops.cast(ops.equal(predicted, actual), "float32")


@keras.saving.register_keras_serializable(package="multilabel")
def total_acc(y_true, y_pred):
    """Exact match: 1 when all labels are decided right (p_i >= 0.5 iff y_i = 1), else 0."""
    return ops.min(_correct(y_true, y_pred), axis=-1)


@keras.saving.register_keras_serializable(package="multilabel")
def binary_acc(y_true, y_pred):
    """Per-label (Hamming) accuracy: the fraction of labels decided right, per sample."""
    return ops.mean(_correct(y_true, y_pred), axis=-1)
