"""Where a run starts and what it leaves: checkpoints, resuming, warm restarts, fine-tuning, and
the inference copy of the weights."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from core.recipes import FAST, RESTART_OPTIONS, TrainConfig


def write_json(path: Path, payload) -> None:
    """Write JSON atomically: a reader never sees half a file."""
    partial = path.with_suffix(path.suffix + ".tmp")
    partial.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(partial, path)


class Checkpoint:
    """The last finished epoch of run `name`: `<out>/checkpoints/<name>/last.keras` (model with
    optimizer state) and `state.json` (epochs done, seconds, history, restarts, config)."""

    def __init__(self, out: str | Path, name: str):
        self.folder = Path(out) / "checkpoints" / name
        self.model_path = self.folder / "last.keras"
        self.state_path = self.folder / "state.json"

    def exists(self) -> bool:
        return self.model_path.exists() and self.state_path.exists()

    def load(self):
        """(model with its optimizer, state); `ValueError` when there is none."""
        import keras

        from core import losses, metrics, schedules  # noqa: F401  (registers custom objects)

        if not self.exists():
            raise ValueError(
                f"There is no checkpoint in {self.folder} to continue; start the run with "
                "--init-from scratch."
            )
        state = json.loads(self.state_path.read_text())
        return keras.saving.load_model(self.model_path), state

    def save(self, model, state: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        model.save(self.model_path)
        write_json(self.state_path, state)


def new_state(config: TrainConfig) -> dict:
    return {
        "epochs_done": 0,
        "train_seconds": 0.0,
        "history": [],
        "restarts": [],
        "config": dataclasses.asdict(config),
    }


def check_continuation(saved: TrainConfig, config: TrainConfig, restarting: bool) -> None:
    """Refuse to continue a checkpoint with another recipe: only the run's length (and the data
    threads) may change, and in a warm restart also `RESTART_OPTIONS`."""
    changeable = {"epochs", "minutes", "data_workers"} | (
        set(RESTART_OPTIONS) if restarting else set()
    )
    differ = sorted(
        key
        for key, value in dataclasses.asdict(config).items()
        if key not in changeable and getattr(saved, key) != value
    )
    if differ:
        allowed = ", ".join("--" + option.replace("_", "-") for option in RESTART_OPTIONS)
        raise ValueError(
            f"The checkpoint of {config.name!r} was made with other options ({', '.join(differ)}). "
            f"Continue it with the same options (a warm restart may also change {allowed}), "
            "or start a new run under another --name."
        )
    if (saved.epochs is None) != (config.epochs is None):
        raise ValueError("A run's length stays in the unit it started with (epochs or minutes).")


def warm_restart(model, config: TrainConfig, state: dict, steps_per_epoch: int) -> dict:
    """Give a finished one-cycle run a new cycle over the epochs `config` adds; returns the
    restart's record. The restart may regularise more strongly: its weight decay and per-tile
    shift come from `config`."""
    from core.schedules import OneCycle

    saved = TrainConfig(**state["config"])
    if config.recipe != FAST or config.epochs is None:
        raise ValueError("A warm restart adds epochs to a fast-recipe run measured in epochs.")
    if state["epochs_done"] < saved.epochs:
        raise ValueError(
            f"The run planned {saved.epochs} epochs and finished {state['epochs_done']}: "
            f"continue it with --init-from resume first."
        )
    if config.epochs <= state["epochs_done"]:
        raise ValueError(
            f"A warm restart needs a length beyond the {state['epochs_done']} epochs done."
        )
    peak = config.learning_rate * config.restart_peak_fraction
    steps = steps_per_epoch * (config.epochs - state["epochs_done"])
    model.optimizer.learning_rate = OneCycle(
        peak, steps, config.warmup_fraction, start_step=int(model.optimizer.iterations)
    )
    model.optimizer.weight_decay = config.weight_decay
    return {
        "after_epoch": state["epochs_done"],
        "epochs": config.epochs,
        "peak": peak,
        "steps": steps,
    } | {option: getattr(config, option) for option in RESTART_OPTIONS}


def load_initial_weights(model, path: str) -> None:
    """Copy a saved model's weights into `model`; refuse a file of another architecture."""
    import keras

    if not Path(path).is_file():
        raise ValueError(f"Cannot start from {path}: no such model file.")
    source = keras.saving.load_model(path, compile=False)
    weights = source.get_weights()
    expected = [tuple(variable.shape) for variable in model.weights]
    if [tuple(w.shape) for w in weights] != expected:
        raise ValueError(
            f"Cannot start from {path}: its weights do not fit the model of core.model "
            f"({source.count_params():,} parameters, expected {model.count_params():,})."
        )
    model.set_weights(weights)


def history_payload(history: list[dict]) -> dict:
    """Per-epoch columns: {"epoch": [...], "loss": [...], "val_loss": [...], ...}."""
    keys = [k for k in history[0] if k != "epoch"] if history else []
    payload = {"epoch": [record["epoch"] for record in history]}
    for key in keys:
        payload[key] = [record.get(key) for record in history]
    return payload


def export_for_inference(model, output: str = "sigmoid"):
    """A float32, uncompiled copy of the trained weights: no optimizer state, a small file that
    loads anywhere without the project's custom losses."""
    import keras

    from core.model import build_model

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        clean = build_model(output=output)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    clean.set_weights([np.asarray(w, dtype=np.float32) for w in model.get_weights()])
    return clean
