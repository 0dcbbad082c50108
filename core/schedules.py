"""Learning-rate schedules used by the training recipes."""

from __future__ import annotations

import math
import time

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="multilabel")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak` over `warmup_fraction` of the steps, then cosine to 0.

    With s counted from `start_step` (0 before it):
    lr(s) = peak * s / w                                  for s < w = warmup_fraction * total
    lr(s) = peak * (1 + cos(pi * (s - w) / (total - w))) / 2   afterwards (0 after `total`).
    A `start_step` > 0 continues a finished run with a warm restart.
    """

    def __init__(self, peak, total_steps, warmup_fraction=0.2, start_step=0):
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_fraction = float(warmup_fraction)
        self.start_step = int(start_step)

    def __call__(self, step):
        step = ops.maximum(ops.cast(step, "float32") - float(self.start_step), 0.0)
        warmup = max(1.0, self.warmup_fraction * self.total_steps)
        rising = self.peak * step / warmup
        progress = ops.clip((step - warmup) / max(1.0, self.total_steps - warmup), 0.0, 1.0)
        falling = 0.5 * self.peak * (1.0 + ops.cos(math.pi * progress))
        return ops.where(step < warmup, rising, falling)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_fraction": self.warmup_fraction,
            "start_step": self.start_step,
        }


def one_cycle_factor(progress: float, warmup_fraction: float = 0.2) -> float:
    """`OneCycle`'s shape as a function of the share of the cycle done, p in [0, 1].

    factor(p) = p / w                                   for p < w = warmup_fraction
    factor(p) = (1 + cos(pi * (p - w) / (1 - w))) / 2   afterwards (0 from p = 1 on).
    """
    progress = min(max(float(progress), 0.0), 1.0)
    if progress < warmup_fraction:
        return progress / warmup_fraction
    falling = (progress - warmup_fraction) / max(1e-12, 1.0 - warmup_fraction)
    return 0.5 * (1.0 + math.cos(math.pi * falling))


class ClockCycle(keras.callbacks.Callback):
    """A one-cycle learning rate over a wall-clock budget instead of a step count.

    Before every batch the optimizer's learning rate becomes
    peak * one_cycle_factor((seconds_before + seconds into this `fit`) / (60 * minutes)),
    and `fit` stops after the first batch that ends with the budget spent. The same recipe thus
    anneals fully on a slow CPU and a fast GPU alike; `steps` counts the batches of the last `fit`.
    """

    def __init__(self, peak, minutes, warmup_fraction=0.2, seconds_before=0.0, clock=None):
        super().__init__()
        if minutes <= 0:
            raise ValueError(f"The cycle needs a positive number of minutes, got {minutes}.")
        self.peak = float(peak)
        self.minutes = float(minutes)
        self.warmup_fraction = float(warmup_fraction)
        self.seconds_before = float(seconds_before)
        self.clock = clock or time.monotonic
        self.steps = 0
        self._fit_started = self.clock()

    def progress(self) -> float:
        spent = self.seconds_before + self.clock() - self._fit_started
        return spent / (60.0 * self.minutes)

    def on_train_begin(self, logs=None):
        self._fit_started = self.clock()
        self.steps = 0

    def on_train_batch_begin(self, batch, logs=None):
        factor = one_cycle_factor(self.progress(), self.warmup_fraction)
        self.model.optimizer.learning_rate = self.peak * factor

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.progress() >= 1.0:
            self.model.stop_training = True
