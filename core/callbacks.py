"""The trainer's Keras callback: records every epoch, checkpoints it, and stops a run measured in
minutes."""

from __future__ import annotations

import time
from pathlib import Path

import keras

from core.checkpoints import Checkpoint, history_payload, write_json
from core.recipes import TrainConfig


def finished(config: TrainConfig, state: dict) -> bool:
    """Whether the run has nothing left to train."""
    if config.epochs is not None:
        return state["epochs_done"] >= config.epochs
    spent = state["train_seconds"]
    last = state["history"][-1]["seconds"] if state["history"] else 0.0
    if config.follows_the_clock:
        return spent >= 60 * config.minutes
    return bool(state["history"]) and spent + last > 60 * config.minutes


class EpochRecorder(keras.callbacks.Callback):
    """Records every epoch, checkpoints it, and ends a run of the article's recipe measured in
    minutes before an epoch that would end past them."""

    def __init__(self, config: TrainConfig, checkpoint: Checkpoint, state: dict):
        super().__init__()
        self.config, self.checkpoint, self.state = config, checkpoint, state

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.batches = time.time(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.time() - self.started
        config, state = self.config, self.state
        composites = min(config.composites_per_epoch, self.batches * config.batch_size)
        record = {key: float(value) for key, value in (logs or {}).items()}
        record.update(
            epoch=epoch + 1,
            seconds=seconds,
            minutes_elapsed=(state["train_seconds"] + seconds) / 60,
            composites=composites,
            images_per_second=composites / seconds,
        )
        state["history"].append(record)
        state["epochs_done"] = epoch + 1
        state["train_seconds"] += seconds
        self.checkpoint.save(self.model, state)
        history_file = Path(config.out) / f"{config.name}.history.json"
        write_json(history_file, history_payload(state["history"]))
        print(
            f"epoch {epoch + 1}: loss {record['loss']:.4f} total_acc {record['total_acc']:.4f} "
            f"val_total_acc {record['val_total_acc']:.4f} val_binary_acc "
            f"{record['val_binary_acc']:.4f} ({seconds / 60:.1f} min)",
            flush=True,
        )
        if not config.follows_the_clock and finished(config, state):
            self.model.stop_training = True
