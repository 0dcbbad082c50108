"""core.lab: the last layer trained in NumPy, on tiny synthetic features."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from core import lab
from core.kinds import KINDS
from core.lab_features import FamilyFeatures


def synthetic_features(seed=0, train=512, test=128, size=32) -> FamilyFeatures:
    """Features that are a fixed linear image of the labels plus noise: a last layer can learn
    them almost perfectly."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(0, 1, (10, size))

    def draw(n):
        y = (rng.random((n, 10)) < 0.3).astype(np.float32)
        y[np.arange(n), rng.integers(0, 10, n)] = 1
        return (y @ mixing + rng.normal(0, 0.1, (n, size))).astype(np.float32), y

    (x_train, y_train), (x_test, y_test) = draw(train), draw(test)
    pixels = np.zeros((2, 64, 64, 3), np.uint8)
    return FamilyFeatures("four-distinct", "bce", x_train, y_train, x_test, y_test, pixels)


def test_bce_learns_separable_features_and_reports_every_figure():
    features = synthetic_features()
    run = lab.train_last_layer(lab.LabConfig("bce", lab.ADAM, 0.01, epochs=10), features)
    assert [row["epoch"] for row in run.epochs] == list(range(1, 11))
    assert run.epochs[-1]["loss"] < run.epochs[0]["loss"]
    assert run.final["exact_match"] > 0.9 and run.final["mean_average_precision"] > 0.95
    assert run.final["labels_true"] == pytest.approx(features.y_test.sum(axis=1).mean())
    assert set(run.final) >= {"best_threshold", "top_k_told_k", "labels_answered"}
    assert run.seconds > 0


def test_a_run_is_repeatable_and_the_seed_matters():
    features = synthetic_features()
    config = lab.LabConfig("cce", lab.SGD, epochs=2, seed=3)
    first, again = (lab.train_last_layer(config, features) for _ in range(2))
    assert first.epochs == again.epochs
    other = lab.train_last_layer(lab.LabConfig("cce", lab.SGD, epochs=2, seed=4), features)
    assert other.epochs != first.epochs


@pytest.mark.parametrize("loss", list(KINDS))
@pytest.mark.parametrize("optimizer", lab.OPTIMIZERS)
def test_every_kind_trains_with_every_optimizer(loss, optimizer):
    features = synthetic_features(train=256, test=64)
    shown = features.x_test[:2]
    run = lab.train_last_layer(lab.LabConfig(loss, optimizer, epochs=2), features, shown)
    assert all(np.isfinite(row["loss"]) for row in run.epochs)
    assert 0 <= run.final["exact_match"] <= 1 and len(run.shown_logits) == 2
    outputs = lab.activate(KINDS[loss], run.shown_logits[-1])
    assert ((outputs > 0) & (outputs < 1)).all()
    if KINDS[loss].shares_one_unit:
        np.testing.assert_allclose(outputs.sum(axis=1), 1.0)


def test_epoch_figures_hand_computed():
    y = np.array([[1, 0], [0, 1]], np.float32)
    outputs = np.array([[0.6, 0.4], [0.3, 0.2]])
    figures = lab.epoch_figures(y, outputs)
    # At 0.5 only the first is right; no threshold makes the second right (0.2 < 0.3), and the
    # first is right from 0.41 to 0.60: the first of those is the best.
    assert figures == {"exact_match": 0.5, "best_threshold": 0.41, "best_exact_match": 0.5}
    final = lab.final_figures(y, outputs)
    assert (final["top_k_told_k"], final["labels_answered"], final["labels_true"]) == (0.5, 0.5, 1)


def keras_steps(optimizer, start, gradients):
    variable = keras.Variable(start)
    for gradient in gradients:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient), variable)])
    return keras.ops.convert_to_numpy(variable)


@pytest.mark.parametrize("name", lab.OPTIMIZERS)
def test_optimizer_steps_match_keras(name):
    rng = np.random.default_rng(0)
    start = rng.normal(0, 1, (4, 3)).astype(np.float32)
    gradients = [rng.normal(0, 1, (4, 3)).astype(np.float32) for _ in range(3)]
    config = lab.LabConfig(optimizer=name, learning_rate=0.1, weight_decay=0.05)
    reference = {
        lab.SGD: lambda: keras.optimizers.SGD(0.1, momentum=lab.MOMENTUM),
        lab.ADAM: lambda: keras.optimizers.Adam(0.1),
        lab.ADAMW: lambda: keras.optimizers.AdamW(0.1, weight_decay=0.05),
    }[name]()
    parameters = [start.astype(np.float64)]
    optimizer = lab.Optimizer(config, parameters)
    for gradient in gradients:
        optimizer.step(parameters, [gradient.astype(np.float64)])
    np.testing.assert_allclose(parameters[0], keras_steps(reference, start, gradients), atol=1e-5)


def test_sgd_hand_computed():
    parameters = [np.array([1.0])]
    optimizer = lab.Optimizer(lab.LabConfig(optimizer=lab.SGD, learning_rate=0.1), parameters)
    optimizer.step(parameters, [np.array([0.5])])
    assert parameters[0][0] == pytest.approx(0.95)  # velocity -0.05
    optimizer.step(parameters, [np.array([0.5])])
    assert parameters[0][0] == pytest.approx(0.855)  # velocity 0.9 * -0.05 - 0.05


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"loss": "hinge"}, "loss must be one of"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of sgd, adam, adamw"),
        ({"learning_rate": 0.0}, "learning_rate must be in"),
        ({"epochs": 0}, "epochs must be 1..200"),
    ],
)
def test_wrong_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        lab.LabConfig(**settings)
