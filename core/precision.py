"""`--precision auto`: train a few steps in each precision on this machine and keep the faster.

CPU flags do not tell: on one Intel CPU with AVX-512 BF16 and no AMX, bfloat16 trained at 0.45x
the speed of float32; on an AMD EPYC with the same flag, at 2.7x.
"""

from __future__ import annotations

import time

import numpy as np

PRECISIONS = ("float32", "bfloat16")
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}
MEASURED_STEPS = 3  # timed training steps per precision, after one untimed step that compiles


def seconds_per_step(precision: str, batch_size: int, steps: int = MEASURED_STEPS) -> float:
    """Median seconds of one training step of the project's network in `precision`, on random
    composites of `batch_size`."""
    import keras

    from core.losses import binary_loss
    from core.model import build_model

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(POLICIES[precision])
    try:
        model = build_model()
        model.compile(optimizer=keras.optimizers.AdamW(1e-4), loss=binary_loss)
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, 256, (batch_size, 64, 64, 3)).astype(np.float32)
        labels = (rng.random((batch_size, 10)) < 0.4).astype(np.float32)
        model.train_on_batch(pixels, labels)
        timings = []
        for _ in range(steps):
            started = time.perf_counter()
            model.train_on_batch(pixels, labels)
            timings.append(time.perf_counter() - started)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return float(np.median(timings))


def fastest_precision(batch_size: int, steps: int = MEASURED_STEPS) -> tuple[str, dict]:
    """(the faster precision here, {precision: seconds per step})."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}.")
    measured = {p: seconds_per_step(p, batch_size, steps) for p in PRECISIONS}
    return min(measured, key=measured.get), measured
