import json

import keras
import numpy as np
import pytest

import core  # noqa: F401
from core.losses import binary_loss
from core.metrics import binary_acc, total_acc
from core.model import build_model
from core.schedules import ClockCycle, OneCycle, one_cycle_factor


@pytest.fixture(scope="module")
def model():
    return build_model()


def test_architecture(model):
    assert model.count_params() == 1_964_426
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(convs) == 12 and len(dense) == 1
    assert [c.filters for c in convs] == [32] * 3 + [64] * 3 + [128] * 3 + [256] * 3
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.AveragePooling2D)]
    assert len(pools) == 3
    assert model.output_shape == (None, 10)


def test_output_range_and_uint8_input(model):
    x = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    out = np.asarray(model(x, training=False))
    assert out.shape == (3, 10) and ((out > 0) & (out < 1)).all()
    np.testing.assert_allclose(out, np.asarray(model(x.astype("float32"), training=False)))


def test_sigmoid_stays_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = build_model()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert mixed.get_layer("block1_conv1").compute_dtype == "bfloat16"
    assert mixed.output.dtype == "float32"


def test_short_fit_reduces_the_loss_and_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (32, 64, 64, 3), dtype=np.uint8)
    y = np.zeros((32, 10), np.float32)
    y[:, :4] = 1
    keras.utils.set_random_seed(0)
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=binary_loss, metrics=[total_acc, binary_acc]
    )
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x[:4], verbose=0), model.predict(x[:4], verbose=0), atol=1e-6
    )
    assert loaded.loss is binary_loss


def test_one_cycle_schedule_shape_and_config():
    schedule = OneCycle(1.0, total_steps=100, warmup_fraction=0.2)
    values = [float(schedule(step)) for step in (0, 10, 20, 60, 100, 150)]
    np.testing.assert_allclose(values, [0.0, 0.5, 1.0, 0.5, 0.0, 0.0], atol=1e-6)
    restart = OneCycle(1.0, total_steps=10, warmup_fraction=0.5, start_step=100)
    np.testing.assert_allclose([float(restart(s)) for s in (50, 100, 105, 110)], [0, 0, 1, 0])
    assert OneCycle.from_config(schedule.get_config()).get_config() == schedule.get_config()


def test_clock_factor_has_the_step_schedule_shape():
    schedule = OneCycle(1.0, total_steps=100, warmup_fraction=0.2)
    for step in range(0, 121, 5):
        assert one_cycle_factor(step / 100, 0.2) == pytest.approx(float(schedule(step)), abs=1e-6)


class _FakeOptimizer:
    learning_rate = None


class _FakeModel:
    def __init__(self):
        self.optimizer = _FakeOptimizer()
        self.stop_training = False


def test_clock_cycle_follows_the_clock_and_stops_when_the_minutes_are_spent():
    now = [100.0]
    cycle = ClockCycle(
        2.0, minutes=1.0, warmup_fraction=0.2, seconds_before=6.0, clock=lambda: now[0]
    )
    model = _FakeModel()
    cycle.set_model(model)
    cycle.on_train_begin()
    rates = []
    for seconds_into_fit in (0.0, 6.0, 30.0, 54.0):  # 10%, 20%, 60%, 100% of the minute
        now[0] = 100.0 + seconds_into_fit
        cycle.on_train_batch_begin(0)
        rates.append(model.optimizer.learning_rate)
        assert not model.stop_training
    np.testing.assert_allclose(rates, [1.0, 2.0, 1.0, 0.0], atol=1e-9)
    cycle.on_train_batch_end(0)
    assert model.stop_training and cycle.steps == 1
    with pytest.raises(ValueError, match="positive"):
        ClockCycle(1.0, minutes=0)


def test_train_cli_end_to_end_and_resume(tmp_path, monkeypatch):
    from conftest import tiny_arrays

    from core import data, train

    arrays = tiny_arrays(per_class_train=20, per_class_test=2)
    monkeypatch.setattr(data, "load_cifar10", lambda source=None, **_: arrays)
    options = [
        "--loss",
        "cce",
        "--epochs",
        "1",
        "--composites-per-epoch",
        "16",
        "--batch-size",
        "8",
        "--validation-images",
        "40",
        "--validation-composites",
        "8",
        "--precision",
        "float32",
        "--out",
        str(tmp_path),
        "--verbose",
        "0",
    ]
    train.main(options)
    history = json.loads((tmp_path / "cce.history.json").read_text())
    assert history["epoch"] == [1]
    assert {
        "loss",
        "val_loss",
        "total_acc",
        "val_total_acc",
        "binary_acc",
        "val_binary_acc",
    } <= set(history)
    train.main([*options[:2], "--epochs", "2", *options[4:], "--resume"])
    history = json.loads((tmp_path / "cce.history.json").read_text())
    assert history["epoch"] == [1, 2]
    # Adding epochs to a finished one-cycle run restarts the schedule where it stopped.
    checkpoint = keras.saving.load_model(tmp_path / "checkpoints" / "cce" / "last.keras")
    schedule = checkpoint.optimizer._learning_rate
    assert schedule.start_step == 2 and schedule.total_steps == 2  # 16 composites / batch 8
    assert int(checkpoint.optimizer.iterations) == 4
    run = json.loads((tmp_path / "cce.run.json").read_text())
    assert run["epochs_done"] == 2 and run["config"]["loss"] == "cce"
    assert run["versions"]["keras"] == keras.__version__
    loaded = keras.saving.load_model(tmp_path / "cce.keras")
    assert loaded.count_params() == 1_964_426
    assert (tmp_path / "cce.keras").stat().st_size < 10_000_000
    with pytest.raises(ValueError, match="different configuration"):
        train.main(
            [*options[:2], "--epochs", "3", *options[4:], "--resume", "--learning-rate", "0.1"]
        )
    # A warm restart may regularise more strongly; each restart is recorded in the run file.
    stronger = ["--max-shift", "4", "--weight-decay", "0.2", "--restart-peak-fraction", "0.2"]
    train.main([*options[:2], "--epochs", "3", *options[4:], "--resume", *stronger])
    run = json.loads((tmp_path / "cce.run.json").read_text())
    assert [r["after_epoch"] for r in run["warm_restarts"]] == [1, 2]
    assert run["warm_restarts"][0]["max_shift"] == 2
    assert run["warm_restarts"][1] == {
        "after_epoch": 2,
        "epochs": 3,
        "weight_decay": 0.2,
        "max_shift": 4,
        "restart_peak_fraction": 0.2,
    }
    checkpoint = keras.saving.load_model(tmp_path / "checkpoints" / "cce" / "last.keras")
    assert checkpoint.optimizer._learning_rate.peak == pytest.approx(0.2 * 3e-3)
    assert checkpoint.optimizer.weight_decay == pytest.approx(0.2)
    # Within a planned cycle the options are fixed.
    with pytest.raises(ValueError, match="different configuration"):
        train.main([*options[:2], "--epochs", "3", *options[4:], "--resume", "--max-shift", "3"])


def test_hold_out_is_balanced_and_disjoint():
    from core.train import hold_out

    labels = np.repeat(np.arange(10), 50)
    training, validation = hold_out(labels, 100, seed=0)
    assert len(validation) == 100 and len(training) == 400
    assert not set(training) & set(validation)
    assert np.bincount(labels[validation]).tolist() == [10] * 10


def test_cli_options_reach_the_config_and_bad_shifts_are_refused():
    from core.train import TrainConfig, parse_args

    config, resume, _ = parse_args(["--max-shift", "4", "--weight-decay", "0.1", "--resume"])
    assert (config.max_shift, config.weight_decay, resume) == (4, 0.1, True)
    assert parse_args([])[0].max_shift == 2
    with pytest.raises(ValueError, match="max_shift"):
        TrainConfig(max_shift=16)
    # A state file written before `max_shift` existed still describes the default recipe.
    old = {k: v for k, v in TrainConfig().__dict__.items() if k != "max_shift"}
    assert TrainConfig(**old) == TrainConfig()


def test_a_cycle_in_minutes_trains_until_the_clock_runs_out(tmp_path, monkeypatch):
    from conftest import tiny_arrays

    from core import data, train

    monkeypatch.setattr(data, "load_cifar10", lambda source=None, **_: tiny_arrays(20, 2))
    options = ["--cycle-minutes", "0.02", "--composites-per-epoch", "16", "--batch-size", "8"]
    options += ["--validation-images", "40", "--validation-composites", "8", "--verbose", "0"]
    options += ["--precision", "float32", "--out", str(tmp_path), "--name", "clock"]
    options += ["--data-workers", "2"]
    train.main(options)
    run = json.loads((tmp_path / "clock.run.json").read_text())
    assert run["config"]["data_workers"] == 2
    backend = keras.backend.backend()
    assert run["versions"]["backend"] == backend and run["versions"]["keras"] == keras.__version__
    assert run["versions"][backend] == __import__(backend).__version__
    assert run["device"].startswith("GPU: " if train.accelerator_names() else "CPU: ")
    history = json.loads((tmp_path / "clock.history.json").read_text())
    assert run["train_minutes"] >= 0.02 and run["epochs_done"] == len(history["epoch"])
    assert all(0 < seen <= 16 and seen % 8 == 0 for seen in history["composites"])
    assert run["composites_seen"] == sum(history["composites"])
    assert run["images_per_second"] == pytest.approx(
        run["composites_seen"] / (60 * run["train_minutes"])
    )
    # A finished clock cycle has nothing left to train when resumed.
    train.main([*options, "--resume"])
    assert (
        json.loads((tmp_path / "clock.run.json").read_text())["epochs_done"] == run["epochs_done"]
    )
    with pytest.raises(ValueError, match="fast recipe"):
        train.TrainConfig(recipe="article", cycle_minutes=5)
    with pytest.raises(ValueError, match="positive"):
        train.TrainConfig(cycle_minutes=-1)
    with pytest.raises(ValueError, match="data_workers"):
        train.TrainConfig(data_workers=0)


def test_fine_tuning_starts_from_the_saved_weights(tmp_path, monkeypatch):
    from conftest import tiny_arrays

    from core import data, train

    monkeypatch.setattr(data, "load_cifar10", lambda source=None, **_: tiny_arrays(20, 2))
    keras.utils.set_random_seed(7)
    start = build_model()
    start.save(tmp_path / "start.keras")
    # A learning rate of 0 leaves every trainable weight where the saved model had it.
    options = ["--epochs", "1", "--composites-per-epoch", "16", "--batch-size", "8"]
    options += ["--validation-images", "40", "--validation-composites", "8", "--verbose", "0"]
    options += ["--precision", "float32", "--out", str(tmp_path), "--name", "tuned"]
    options += ["--learning-rate", "0", "--init-from", str(tmp_path / "start.keras")]
    train.main(options)
    tuned = keras.saving.load_model(tmp_path / "tuned.keras")
    for before, after in zip(start.trainable_weights, tuned.trainable_weights, strict=True):
        np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
    keras.utils.set_random_seed(0)
    scratch = build_model()
    assert not np.array_equal(np.asarray(scratch.weights[0]), np.asarray(tuned.weights[0]))
    run = json.loads((tmp_path / "tuned.run.json").read_text())
    assert run["initialized_from"] == {
        "source": str(tmp_path / "start.keras"),
        "sha256": data.file_sha256(tmp_path / "start.keras"),
    }
    # Files that cannot seed the model are refused with a reason.
    small = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Dense(10)])
    small.save(tmp_path / "small.keras")
    with pytest.raises(ValueError, match="do not fit"):
        train.main([*options[:-1], str(tmp_path / "small.keras")])
    with pytest.raises(ValueError, match="no such model file"):
        train.main([*options[:-1], str(tmp_path / "missing.keras")])
    with pytest.raises(ValueError, match="fast recipe"):
        train.TrainConfig(recipe="article", init_from="start.keras")
