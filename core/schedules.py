"""Learning-rate schedules used by the training recipes."""

from __future__ import annotations

import math

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
