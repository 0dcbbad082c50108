import math

import keras
import numpy as np
import pytest

from core.losses import binary_loss, categorical_loss
from core.metrics import binary_acc, total_acc

FOUR_POSITIVES = np.array([[1, 1, 1, 1, 0, 0, 0, 0, 0, 0]], dtype=np.float32)


def value(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor))


def test_binary_loss_hand_computed():
    y = np.array([[1.0, 0.0, 1.0]])
    p = np.array([[0.8, 0.3, 0.5]])
    expected = -(math.log(0.8) + math.log(0.7) + math.log(0.5))
    np.testing.assert_allclose(value(binary_loss(y, p)), [expected], rtol=1e-6)


def test_binary_loss_is_the_sum_of_keras_mean_bce():
    rng = np.random.default_rng(0)
    y = (rng.random((8, 10)) < 0.4).astype(np.float32)
    p = rng.uniform(0.01, 0.99, (8, 10)).astype(np.float32)
    reference = value(keras.losses.binary_crossentropy(y, p)) * 10
    np.testing.assert_allclose(value(binary_loss(y, p)), reference, rtol=1e-4)


def test_binary_loss_perfect_prediction_is_near_zero():
    assert value(binary_loss(FOUR_POSITIVES, FOUR_POSITIVES))[0] < 1e-5


def test_categorical_loss_hand_computed():
    y = np.array([[1.0, 0.0, 1.0]])
    p = np.array([[0.6, 0.2, 0.2]])
    expected = -(math.log(0.6) + math.log(0.2))
    np.testing.assert_allclose(value(categorical_loss(y, p)), [expected], rtol=1e-6)


def test_categorical_loss_floor_is_four_ln_four():
    floor = 4 * math.log(4)
    equal_positives = FOUR_POSITIVES * 0.9
    np.testing.assert_allclose(value(categorical_loss(FOUR_POSITIVES, equal_positives)), [floor])
    # The "perfect" multi-label prediction sits on the floor, not at zero.
    np.testing.assert_allclose(value(categorical_loss(FOUR_POSITIVES, FOUR_POSITIVES)), [floor])
    rng = np.random.default_rng(1)
    random_outputs = rng.uniform(0.01, 1.0, (1000, 10)).astype(np.float32)
    targets = np.repeat(FOUR_POSITIVES, 1000, axis=0)
    assert value(categorical_loss(targets, random_outputs)).min() >= floor - 1e-5


def test_categorical_loss_is_scale_invariant_but_decisions_are_not():
    p = np.array([[0.9, 0.8, 0.7, 0.6, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]], np.float32)
    small = p * 0.2
    np.testing.assert_allclose(
        value(categorical_loss(FOUR_POSITIVES, p)),
        value(categorical_loss(FOUR_POSITIVES, small)),
        rtol=1e-5,
    )
    assert value(total_acc(FOUR_POSITIVES, p))[0] == 1.0
    assert value(total_acc(FOUR_POSITIVES, small))[0] == 0.0


def test_categorical_loss_matches_keras_on_normalised_outputs():
    rng = np.random.default_rng(2)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 6)]
    p = rng.random((6, 10)).astype(np.float32)
    p /= p.sum(axis=1, keepdims=True)
    reference = value(keras.losses.categorical_crossentropy(y, p))
    np.testing.assert_allclose(value(categorical_loss(y, p)), reference, rtol=1e-4)


def test_metrics_on_a_small_matrix():
    y = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 0]], np.float32)
    p = np.array([[0.9, 0.1, 0.7, 0.2], [0.6, 0.8, 0.1, 0.1], [0.5, 0.9, 0.2, 0.1]], np.float32)
    # Row 1 all right; row 2 one false positive; row 3: 0.5 is at the threshold, so present.
    np.testing.assert_array_equal(value(total_acc(y, p)), [1.0, 0.0, 1.0])
    np.testing.assert_allclose(value(binary_acc(y, p)), [1.0, 0.75, 1.0])


@pytest.mark.parametrize("function", [binary_loss, categorical_loss, total_acc, binary_acc])
def test_functions_are_registered_for_saving(function):
    name = keras.saving.get_registered_name(function)
    assert name.startswith("multilabel>")
    assert keras.saving.get_registered_object(name) is function


def test_numpy_losses_hand_computed():
    from core.evaluation import binary_cross_entropy, categorical_cross_entropy

    y = np.array([[1.0, 0.0, 1.0]])
    np.testing.assert_allclose(
        binary_cross_entropy(y, [[0.8, 0.3, 0.5]]),
        [-(math.log(0.8) + math.log(0.7) + math.log(0.5))],
    )
    np.testing.assert_allclose(
        categorical_cross_entropy(y, [[0.6, 0.2, 0.2]]), [-(math.log(0.6) + math.log(0.2))]
    )
    np.testing.assert_allclose(
        categorical_cross_entropy(FOUR_POSITIVES, FOUR_POSITIVES * 0.3), [4 * math.log(4)]
    )


def test_numpy_losses_match_the_keras_losses_the_models_trained_with():
    from core.evaluation import binary_cross_entropy, categorical_cross_entropy

    rng = np.random.default_rng(2)
    y = (rng.random((16, 10)) < 0.4).astype(np.float32)
    p = rng.uniform(0.0, 1.0, (16, 10)).astype(np.float32)
    p[0, :3] = [0.0, 1.0, 1e-9]  # the clipping at both ends
    np.testing.assert_allclose(binary_cross_entropy(y, p), value(binary_loss(y, p)), rtol=1e-4)
    np.testing.assert_allclose(
        categorical_cross_entropy(y, p), value(categorical_loss(y, p)), rtol=1e-4
    )


def test_keras_metrics_count_an_output_at_the_threshold_as_present():
    y = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], np.float32)
    p = np.array([[0.5, 0.2, 0.9], [0.5, 0.2, 0.9]], np.float32)
    np.testing.assert_allclose(value(total_acc(y, p)), [1.0, 0.0])
    np.testing.assert_allclose(value(binary_acc(y, p)), [1.0, 2 / 3], rtol=1e-6)
