import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import core  # noqa: F401
from core.losses import binary_loss
from core.metrics import binary_acc, total_acc
from core.model import build_model
from core.schedules import ClockCycle, OneCycle, one_cycle_factor

REPO = Path(__file__).resolve().parents[1]


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


@pytest.mark.slow  # trains
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


@pytest.mark.slow  # trains
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


def small_config(tmp_path, recipe=None, **overrides):
    """A run of 16 composites an epoch, small enough for a test (of `recipe`, a function that
    makes a config: the fast recipe's `TrainConfig` by default)."""
    from core.recipes import TrainConfig

    settings = dict(
        loss="cce",
        epochs=1,
        composites_per_epoch=16,
        batch_size=8,
        validation_images=40,
        validation_composites=8,
        precision="float32",
        out=str(tmp_path),
    )
    settings.update(overrides)
    return (recipe or TrainConfig)(**settings)


@pytest.fixture
def tiny_cifar(monkeypatch):
    from conftest import tiny_arrays

    from core import data

    arrays = tiny_arrays(per_class_train=20, per_class_test=2)
    monkeypatch.setattr(data, "load_cifar10", lambda source=None, **_: arrays)
    return arrays


@pytest.mark.slow  # trains
def test_a_run_resumes_after_a_crash_and_restarts_only_when_asked(tmp_path, tiny_cifar):
    import dataclasses

    from core import callbacks, train

    config = small_config(tmp_path, epochs=2)
    original = callbacks.EpochRecorder.on_epoch_end

    def crash_after_the_first_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        raise KeyboardInterrupt

    callbacks.EpochRecorder.on_epoch_end = crash_after_the_first_epoch
    try:
        with pytest.raises(KeyboardInterrupt):
            train.train(config, verbose=0)
    finally:
        callbacks.EpochRecorder.on_epoch_end = original
    assert json.loads((tmp_path / "cce.history.json").read_text())["epoch"] == [1]
    run = train.train(config, "resume", verbose=0)
    history = json.loads((tmp_path / "cce.history.json").read_text())
    assert history["epoch"] == [1, 2] and run["epochs_done"] == 2
    assert {
        "loss",
        "val_loss",
        "total_acc",
        "val_total_acc",
        "binary_acc",
        "val_binary_acc",
    } <= set(history)
    assert run["composites_seen"] == 32 and run["warm_restarts"] == []
    assert keras.saving.load_model(tmp_path / "cce.keras").count_params() == 1_964_426
    assert (tmp_path / "cce.keras").stat().st_size < 10_000_000
    # More epochs are never implied: continuing a finished cycle to a new length is refused.
    longer = dataclasses.replace(config, epochs=3)
    with pytest.raises(ValueError, match="restart"):
        train.train(longer, "resume", verbose=0)
    with pytest.raises(ValueError, match="other options"):
        train.train(dataclasses.replace(longer, learning_rate=0.1), "restart", verbose=0)
    # A warm restart, asked for, may regularise more strongly and is recorded in the run file.
    stronger = dataclasses.replace(longer, max_shift=4, weight_decay=0.2, restart_peak_fraction=0.2)
    run = train.train(stronger, "restart", verbose=0)
    assert run["epochs_done"] == 3
    assert run["warm_restarts"] == [
        {
            "after_epoch": 2,
            "epochs": 3,
            "peak": pytest.approx(0.2 * 3e-3),
            "steps": 2,
            "weight_decay": 0.2,
            "max_shift": 4,
            "restart_peak_fraction": 0.2,
        }
    ]
    checkpoint = keras.saving.load_model(tmp_path / "checkpoints" / "cce" / "last.keras")
    assert int(checkpoint.optimizer.iterations) == 6
    assert float(checkpoint.optimizer.weight_decay) == pytest.approx(0.2)
    # Resuming a finished run trains nothing more.
    assert train.train(stronger, "resume", verbose=0)["epochs_done"] == 3
    with pytest.raises(ValueError, match="no checkpoint"):
        train.train(small_config(tmp_path, name="never-started"), "resume", verbose=0)


def test_hold_out_is_balanced_and_disjoint():
    from core.recipes import hold_out

    labels = np.repeat(np.arange(10), 50)
    training, validation = hold_out(labels, 100, seed=0)
    assert len(validation) == 100 and len(training) == 400
    assert not set(training) & set(validation)
    assert np.bincount(labels[validation]).tolist() == [10] * 10


def test_cli_says_where_a_run_starts_and_how_long_it_lasts():
    from core.recipes import TrainConfig, parse_length
    from core.train import parse_args

    config, init_from, _ = parse_args(["--max-shift", "4", "--weight-decay", "0.1"])
    assert (config.max_shift, config.weight_decay, config.epochs, init_from) == (
        4,
        0.1,
        8,
        "scratch",
    )
    config, init_from, _ = parse_args(["--length", "45min", "--init-from", "resume"])
    assert (config.epochs, config.minutes, init_from) == (None, 45.0, "resume")
    config, _, _ = parse_args(["--recipe", "article", "--length", "4 epochs"])
    assert (config.batch_size, config.learning_rate, config.epochs) == (256, 0.01, 4)
    assert parse_length("1epoch") == {"epochs": 1, "minutes": None}
    for bad in ("45", "6 hours", "2.5epochs", ""):
        with pytest.raises(ValueError, match="epochs"):
            parse_length(bad)
    with pytest.raises(ValueError, match="max_shift"):
        TrainConfig(max_shift=16)
    with pytest.raises(ValueError, match="not both"):
        TrainConfig(epochs=2, minutes=5)
    with pytest.raises(ValueError, match="data_workers"):
        TrainConfig(data_workers=0)


@pytest.mark.slow  # trains
def test_a_cycle_in_minutes_trains_until_the_clock_runs_out(tmp_path, tiny_cifar):
    from core import data, train
    from core.provenance import accelerator_names

    config = small_config(tmp_path, epochs=None, minutes=0.02, name="clock", data_workers=2)
    run = train.train(config, verbose=0)
    assert run["config"]["data_workers"] == 2
    backend = keras.backend.backend()
    assert run["versions"]["backend"] == backend and run["versions"]["keras"] == keras.__version__
    assert run["versions"][backend] == __import__(backend).__version__
    assert run["device"].startswith("GPU: " if accelerator_names() else "CPU: ")
    history = json.loads((tmp_path / "clock.history.json").read_text())
    assert run["train_minutes"] >= 0.02 and run["epochs_done"] == len(history["epoch"])
    assert all(0 < seen <= 16 and seen % 8 == 0 for seen in history["composites"])
    assert run["composites_seen"] == sum(history["composites"])
    assert run["images_per_second"] == pytest.approx(
        run["composites_seen"] / (60 * run["train_minutes"])
    )
    assert run["data"]["source"].startswith("keras.datasets")
    # A finished clock cycle has nothing left to train when resumed.
    assert train.train(config, "resume", verbose=0)["epochs_done"] == run["epochs_done"]
    assert data.composite_batches_per_epoch(16, 8) == 2


@pytest.mark.slow  # trains
def test_the_article_recipe_reshuffles_its_fixed_set_and_respects_a_budget(tmp_path, tiny_cifar):
    from core import train
    from core.recipes import article_config

    config = small_config(
        tmp_path, article_config, loss="bce", epochs=None, minutes=0.001, name="article"
    )
    assert (config.recipe, config.learning_rate, config.augment) == ("article", 0.01, False)
    run = train.train(config, verbose=0)
    # The budget is spent after the first epoch, so the run stops before a second.
    assert run["epochs_done"] == 1 and run["train_minutes"] > 0.001


def test_fixed_composites_visit_every_composite_once_per_epoch_in_a_new_order():
    from core.data import fixed_composites

    x = np.arange(10).reshape(10, 1)
    y = np.arange(10)
    dataset = fixed_composites(x, y, batch_size=4, seed=0)
    orders = []
    for _ in range(2):
        seen = np.concatenate([dataset[i][1] for i in range(len(dataset))])
        assert sorted(seen.tolist()) == list(range(10)) and len(dataset) == 3
        orders.append(seen.tolist())
        dataset.on_epoch_end()
    assert orders[0] != orders[1]
    resumed = fixed_composites(x, y, batch_size=4, seed=0, first_epoch=1)
    assert np.concatenate([resumed[i][1] for i in range(3)]).tolist() == orders[1]


@pytest.mark.slow  # trains
def test_fine_tuning_starts_from_the_saved_weights(tmp_path, tiny_cifar):
    from core import data, train

    keras.utils.set_random_seed(7)
    start = build_model()
    start.save(tmp_path / "start.keras")
    # A learning rate of 0 leaves every trainable weight where the saved model had it.
    config = small_config(tmp_path, loss="bce", name="tuned", learning_rate=0.0)
    run = train.train(config, str(tmp_path / "start.keras"), verbose=0)
    tuned = keras.saving.load_model(tmp_path / "tuned.keras")
    for before, after in zip(start.trainable_weights, tuned.trainable_weights, strict=True):
        np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
    keras.utils.set_random_seed(0)
    scratch = build_model()
    assert not np.array_equal(np.asarray(scratch.weights[0]), np.asarray(tuned.weights[0]))
    assert run["initialized_from"] == {
        "source": str(tmp_path / "start.keras"),
        "sha256": data.file_sha256(tmp_path / "start.keras"),
    }
    # Files that cannot seed the model are refused with a reason.
    small = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Dense(10)])
    small.save(tmp_path / "small.keras")
    with pytest.raises(ValueError, match="do not fit"):
        train.train(config, str(tmp_path / "small.keras"), verbose=0)
    with pytest.raises(ValueError, match="no such model file"):
        train.train(config, str(tmp_path / "missing.keras"), verbose=0)


@pytest.mark.slow  # trains
def test_the_multi_class_model_trains_on_one_to_four_objects(tmp_path, tiny_cifar):
    from core import data, train
    from core.inference import output_of

    config, _, _ = train.parse_args(["--loss", "softmax", "--composites", "one-to-four"])
    assert (config.output, config.composites) == ("softmax", "one-to-four")
    small = small_config(tmp_path, loss="softmax", composites="one-to-four", name="softmax")
    run = train.train(small, verbose=0)
    assert (run["config"]["loss"], run["config"]["composites"]) == ("softmax", "one-to-four")
    model = keras.saving.load_model(tmp_path / "softmax.keras")
    assert output_of(model) == "softmax"
    (images, labels), _ = tiny_cifar
    dataset = data.fresh_composites(images, labels, 64, 64, seed=0, kind="one-to-four")
    x, y = dataset[0]
    assert set(y.sum(axis=1).tolist()) <= {1.0, 2.0, 3.0, 4.0} and (y.sum(axis=1) < 4).any()
    with pytest.raises(ValueError, match="composites"):
        small_config(tmp_path, composites="three")


def test_help_answers_without_tensorflow_and_names_each_default_once():
    code = (
        "import sys, contextlib, io\n"
        "from core.train import parse_args\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    parse_args(['--help'])\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))\n"
        "print(out.getvalue())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    loaded, _, usage = result.stdout.partition("\n")
    assert loaded == "[]"
    assert "usage:" in usage and "(default: None)" not in usage
    assert "(default: Keras' download)" in usage
    assert all(line.count("default") <= 1 for line in usage.splitlines())
    assert "(default: 8epochs)" in usage


def test_auto_precision_keeps_the_faster_one_measured(monkeypatch):
    from core import precision

    fake = {"float32": 0.9, "bfloat16": 0.4}
    monkeypatch.setattr(precision, "seconds_per_step", lambda p, batch, steps: fake[p])
    assert precision.fastest_precision(128) == ("bfloat16", fake)
    fake.update(bfloat16=2.0)
    assert precision.fastest_precision(128)[0] == "float32"
    with pytest.raises(ValueError, match="steps"):
        precision.fastest_precision(128, steps=0)


@pytest.mark.slow  # trains
def test_a_real_step_is_measured_in_each_precision_and_the_policy_restored():
    from core import precision

    choice, measured = precision.fastest_precision(batch_size=4, steps=1)
    assert set(measured) == set(precision.PRECISIONS) and choice in measured
    assert all(seconds > 0 for seconds in measured.values())
    assert keras.mixed_precision.global_policy().name == "float32"
