"""core.lab_losses: each ending and loss in NumPy, against hand-computed numbers, finite
differences, Keras' own losses and the project's Keras losses."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from core import lab_losses, losses
from core.kinds import KINDS

LN2 = math.log(2)


def random_batch(seed=0, n=16):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 10)) < 0.4).astype(np.float64)
    y[np.arange(n), rng.integers(0, 10, n)] = 1.0  # at least one true label
    return y, rng.normal(0.0, 2.0, (n, 10))


def value(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype=np.float64)


@pytest.mark.parametrize(
    ("function", "y", "z", "loss", "gradient"),
    [
        (lab_losses.sigmoid_bce, [1, 0], [0, 0], 2 * LN2, [-0.5, 0.5]),
        (lab_losses.sigmoid_cce, [1, 0, 0], [0, 0, 0], math.log(3), [-1 / 3, 1 / 6, 1 / 6]),
        (lab_losses.softmax_cce, [1, 0], [0, math.log(3)], math.log(4), [-0.75, 0.75]),
        (lab_losses.sigmoid_mse, [1, 0], [0, 0], 0.5, [-0.25, 0.25]),
        (lab_losses.sigmoid_focal, [1, 0], [0, 0], 0.5 * LN2, [-LN2 / 4 - 1 / 8, LN2 / 4 + 1 / 8]),
    ],
)
def test_hand_computed_values_and_gradients(function, y, z, loss, gradient):
    values, gradients = function(np.array([y], float), np.array([z], float))
    np.testing.assert_allclose(values, [loss], rtol=1e-12)
    np.testing.assert_allclose(gradients, [gradient], rtol=1e-12)


def test_asl_hand_computed():
    # p = 0.5 on both: the true label costs -(1 - p) log p, the absent one m^4 log(1 - m), m 0.45
    values, gradients = lab_losses.sigmoid_asl(np.array([[1.0, 0.0]]), np.zeros((1, 2)))
    np.testing.assert_allclose(values, [0.5 * LN2 - 0.45**4 * math.log(0.55)], rtol=1e-12)
    absent = 0.25 * (-4 * 0.45**3 * math.log(0.55) + 0.45**4 / 0.55)
    np.testing.assert_allclose(gradients, [[0.5 * -LN2 * 0.5 - 0.25, absent]], rtol=1e-12)


@pytest.mark.parametrize("loss", list(KINDS))
def test_gradients_match_finite_differences(loss):
    function = KINDS[loss].lab_loss
    y, z = random_batch(1, n=4)
    _, gradient = function(y, z)
    step, numeric = 1e-6, np.zeros_like(z)
    for index in np.ndindex(z.shape):
        up, down = z.copy(), z.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (function(y, up)[0].sum() - function(y, down)[0].sum()) / (2 * step)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-8)


def keras_reference(loss, y, z):
    """Keras' own loss, per sample, summed over the ten labels where Keras averages them."""
    p = 1 / (1 + np.exp(-z))
    none = {"reduction": None}
    if loss == "bce":
        return 10 * value(keras.losses.BinaryCrossentropy(from_logits=True, **none)(y, z))
    if loss == "cce":  # on probabilities that are not a softmax's, Keras divides by their sum
        return value(keras.losses.CategoricalCrossentropy(**none)(y, p))
    if loss == "softmax":
        return value(keras.losses.CategoricalCrossentropy(from_logits=True, **none)(y, z))
    if loss == "mse":
        return 10 * value(keras.losses.MeanSquaredError(**none)(y, p))
    focal = keras.losses.BinaryFocalCrossentropy(gamma=2.0, from_logits=True, **none)
    return 10 * value(focal(y, z))


@pytest.mark.parametrize("loss", ["bce", "cce", "softmax", "mse", "focal"])
def test_values_match_keras_own_losses(loss):
    y, z = random_batch(2)
    ours, _ = KINDS[loss].lab_loss(y, z)
    np.testing.assert_allclose(ours, keras_reference(loss, y, z), rtol=2e-4)


@pytest.mark.parametrize("loss", list(KINDS))
def test_values_match_the_keras_losses_the_trainer_uses(loss):
    kind = KINDS[loss]
    y, z = random_batch(3)
    p = keras.ops.softmax(z) if kind.shares_one_unit else keras.ops.sigmoid(z)
    reference = value(kind.training_loss()(y.astype(np.float32), keras.ops.cast(p, "float32")))
    np.testing.assert_allclose(kind.lab_loss(y, z)[0], reference, rtol=2e-4)


def test_the_project_keras_losses_against_keras_own():
    y, z = random_batch(4)
    p = (1 / (1 + np.exp(-z))).astype(np.float32)
    y32 = y.astype(np.float32)
    mse = 10 * value(keras.losses.mean_squared_error(y32, p))
    np.testing.assert_allclose(value(losses.squared_loss(y32, p)), mse, rtol=1e-5)
    focal = keras.losses.BinaryFocalCrossentropy(gamma=2.0, reduction=None)
    np.testing.assert_allclose(value(losses.focal_loss(y32, p)), 10 * value(focal(y32, p)), 1e-4)


def test_renormalised_cce_sends_nothing_when_all_outputs_scale_together():
    y, z = random_batch(5)
    loss, gradient = lab_losses.sigmoid_cce(y, z)
    p = 1 / (1 + np.exp(-z))
    # d loss / d c of loss(c p) at c = 1 is sum_j p_j d loss / d p_j = sum_j g_j / (1 - p_j)
    np.testing.assert_allclose(np.sum(gradient / (1 - p), axis=-1), 0.0, atol=1e-12)
    halved = np.log(p / 2) - np.log1p(-p / 2)  # the logits of p / 2
    np.testing.assert_allclose(lab_losses.sigmoid_cce(y, halved)[0], loss, rtol=1e-12)


def test_bce_pushes_every_absent_class_down_and_every_true_one_up():
    y, z = random_batch(6)
    _, gradient = lab_losses.sigmoid_bce(y, z)
    assert (gradient[y == 0] > 0).all() and (gradient[y == 1] < 0).all()


def test_softmax_outputs_compete():
    y, z = random_batch(7)
    _, gradient = lab_losses.softmax_cce(y, z)
    np.testing.assert_allclose(gradient.sum(axis=-1), 0.0, atol=1e-12)  # a push up is a push down


def test_focal_and_asl_barely_push_easy_negatives():
    y, z = np.zeros((1, 2)), np.array([[-3.0, -4.0]])  # p = 0.047 and 0.018: easy negatives
    bce = lab_losses.sigmoid_bce(y, z)[1]
    assert (lab_losses.sigmoid_focal(y, z)[1] < 0.05 * bce).all()
    np.testing.assert_array_equal(lab_losses.sigmoid_asl(y, z)[1], 0.0)  # below the clip


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        lab_losses.sigmoid_bce(np.zeros((2, 10)), np.zeros((2, 9)))
