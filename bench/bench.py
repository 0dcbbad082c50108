"""Benchmarks (not tests): prints one table, every ratio measured side by side in this run.

    python bench/bench.py [--models models] [--train-steps 6]

1. Tiling: composites/s of the vectorized `make_composites` vs a per-composite Python loop
   written the way the article builds its data set; the training augmentation (flip and shift
   of every tile) with sliding-window views vs indexing every pixel.
2. Training: images/s of `fit` steps in float32 vs mixed_bfloat16.
3. Inference for one composite: eager `model(x)` per model vs the app's `Predictor`
   (every model of the manifest in one compiled call, with activation maps).
4. The core calls of one new composite (compose + all predictions + maps + overlays), the
   cold start (load the models), and the two costs a Streamlit
   server adds between runs: Keras' clear_session (a plain tf.function rebuilds its kernels, an
   XLA one does not) and a full garbage collection (cheap once the loaded objects are frozen);
   what a fresh worker's first page waits for: one family's call compiled vs every family's.
   The page's cost through the server is bench/classroom.py's to measure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from core import data  # noqa: E402

ROWS: list[tuple[str, str, str]] = []


def row(name: str, value: str, note: str = "") -> None:
    ROWS.append((name, value, note))
    print(f"  {name}: {value} {note}", flush=True)


def best_of(function, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def article_style_composites(images, labels, n, seed):
    """One composite at a time: pick 4 distinct classes, one random image each, paste."""
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(labels == c) for c in range(10)]
    x = np.zeros((n, 64, 64, 3), np.uint8)
    y = np.zeros((n, 10), np.float32)
    for i in range(n):
        classes = rng.choice(10, 4, replace=False)
        for quadrant, label in enumerate(classes):
            image = images[rng.choice(by_class[label])]
            top, left = 32 * (quadrant // 2), 32 * (quadrant % 2)
            x[i, top : top + 32, left : left + 32] = image
            y[i, label] = 1.0
    return x, y


def pixel_indexed_augment(tiles, rng, max_shift):
    """`data.augment_tiles` written with one fancy index per pixel (the same draws and output)."""
    m = tiles.shape[0]
    flip = rng.random(m) < 0.5
    tiles = tiles.copy()
    tiles[flip] = tiles[flip, :, ::-1]
    pad = ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0))
    padded = np.pad(tiles, pad, mode="reflect")
    top = rng.integers(0, 2 * max_shift + 1, size=m)
    left = rng.integers(0, 2 * max_shift + 1, size=m)
    rows = top[:, None] + np.arange(32)
    cols = left[:, None] + np.arange(32)
    return padded[np.arange(m)[:, None, None], rows[:, :, None], cols[:, None, :]]


def bench_augmentation(images, composites=256, max_shift=4):
    tiles = images[np.arange(4 * composites) % len(images)]
    same = np.array_equal(
        data.augment_tiles(tiles, np.random.default_rng(0), max_shift),
        pixel_indexed_augment(tiles, np.random.default_rng(0), max_shift),
    )
    if not same:
        raise SystemExit("The two augmentations disagree; the comparison would be meaningless.")
    windows = best_of(lambda: data.augment_tiles(tiles, np.random.default_rng(0), max_shift), 10)
    pixels = best_of(lambda: pixel_indexed_augment(tiles, np.random.default_rng(0), max_shift), 10)
    row("augment, sliding windows", f"{composites / windows:,.0f} composites/s", "(4 tiles each)")
    row("augment, per-pixel index", f"{composites / pixels:,.0f} composites/s", "(same output)")
    row("augment speed-up", f"{pixels / windows:.1f}x")


def bench_tiling(images, labels, n=10_000):
    print("Tiling", flush=True)
    vectorized = best_of(lambda: data.make_composites(images, labels, n, seed=0), 3)
    looped = best_of(lambda: article_style_composites(images, labels, n, 0), 1)
    row("tiler, vectorized", f"{n / vectorized:,.0f} composites/s")
    row("tiler, per-composite loop", f"{n / looped:,.0f} composites/s")
    row("tiler speed-up", f"{looped / vectorized:.1f}x")


def bench_training(images, labels, steps, batch_size=128):
    import keras

    from core.losses import binary_loss
    from core.model import build_model

    print("Training", flush=True)
    x, y, _ = data.make_composites(images, labels, batch_size * (steps + 2), seed=1)
    rates = {}
    for policy in ("float32", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        model = build_model()
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=binary_loss)
        model.fit(x[: 2 * batch_size], y[: 2 * batch_size], batch_size=batch_size, verbose=0)
        started = time.perf_counter()
        model.fit(x[2 * batch_size :], y[2 * batch_size :], batch_size=batch_size, verbose=0)
        rates[policy] = steps * batch_size / (time.perf_counter() - started)
        row(f"train {policy}", f"{rates[policy]:.0f} img/s", f"(batch {batch_size})")
    keras.mixed_precision.set_global_policy("float32")
    row("train bf16 / fp32", f"{rates['mixed_bfloat16'] / rates['float32']:.2f}x")


def load_models(folder: Path):
    """Every model of the manifest in `folder` (an untrained one where its file is missing)."""
    from core.inference import load_trained_model
    from core.manifest import load_manifest
    from core.model import build_model

    models = {}
    for entry in load_manifest(folder).models:
        if entry.file.exists():
            models[entry.name] = load_trained_model(entry.file, entry.output)
        else:
            print(f"  ({entry.file} not found: an untrained {entry.output} model stands in)")
            models[entry.name] = build_model(output=entry.output)
    return models


def bench_inference(images, labels, folder: Path):
    from core.cam import overlay
    from core.images import enlarge
    from core.inference import Predictor

    print("Inference", flush=True)
    started = time.perf_counter()
    models = load_models(folder)
    predictor = Predictor(models)
    cold = time.perf_counter() - started
    x, _, _ = data.make_composites(images, labels, 64, seed=2)

    def eager_each():
        for model in models.values():
            np.asarray(model(x[:1], training=False))

    def predictor_one():
        predictor.predict(x[:1])

    for function in (eager_each, predictor_one):
        function()
    eager = statistics.median(best_of(eager_each, 1) for _ in range(20))
    compiled = statistics.median(best_of(predictor_one, 1) for _ in range(20))
    row(f"one composite, eager model(x) x{len(models)}", f"{eager * 1000:.1f} ms")
    row(f"one composite, Predictor ({len(models)} models + maps)", f"{compiled * 1000:.1f} ms")
    row("Predictor speed-up", f"{eager / compiled:.1f}x")

    counter = iter(range(10**9))

    def interaction():
        index = next(counter) % 60
        composite = data.compose(np.stack([images[index + q] for q in range(4)]))
        results = predictor.predict(composite)[0]
        for prediction in results.values():
            overlay(enlarge(composite, 4), prediction.maps[..., 3])

    interaction()
    per_interaction = statistics.median(best_of(interaction, 1) for _ in range(20))
    row(
        "core calls of one new composite",
        f"{per_interaction * 1000:.1f} ms",
        "(not the page: bench/classroom.py measures a page's runs through the server)",
    )
    row("app cold start (load the models)", f"{cold:.1f} s")
    bench_server_effects(models, predictor, x[:1])
    bench_first_page(models, folder, x[:1])


def bench_first_page(models, folder: Path, composite):
    """What the first page of a fresh worker waits for besides loading the models: the app's
    Predictor groups the models by family and compiles a family's call when a page first shows
    it, against compiling every family's call at once."""
    from core.inference import Predictor
    from core.manifest import load_manifest

    manifest = load_manifest(folder)
    groups = {
        family.data: [entry.name for entry in manifest.in_family(family.data)]
        for family in manifest.families
    }
    started = time.perf_counter()
    every = Predictor(models, groups)
    every.compile_all()
    all_at_once = time.perf_counter() - started
    started = time.perf_counter()
    lazy = Predictor(models, groups)
    lazy.predict(composite, next(iter(groups)))
    first_only = time.perf_counter() - started
    row(f"compile all {len(groups)} families' calls", f"{all_at_once:.1f} s")
    row("compile the shown family's call (app)", f"{first_only:.1f} s", "(and predict once)")


def bench_server_effects(models, predictor, composite):
    """What a Streamlit server does between two runs, and how the app copes with it."""
    import gc

    import keras
    import tensorflow as tf

    plain = tf.function(lambda pixels: [m(pixels, training=False) for m in models.values()])
    pixels = tf.constant(composite.astype(np.float32))
    plain(pixels)

    def after_clear_session(function):
        # Streamlit calls keras.backend.clear_session() after every script run.
        def run():
            keras.backend.clear_session(free_memory=False)
            function()

        return run

    plain_cleared = statistics.median(
        best_of(after_clear_session(lambda: plain(pixels)), 1) for _ in range(10)
    )
    xla_cleared = statistics.median(
        best_of(after_clear_session(lambda: predictor.predict(composite)), 1) for _ in range(10)
    )
    row("all models after clear_session, tf.function", f"{plain_cleared * 1000:.1f} ms")
    row("all models after clear_session, XLA (app)", f"{xla_cleared * 1000:.1f} ms")
    full = best_of(gc.collect, 3)
    gc.freeze()
    frozen = best_of(gc.collect, 3)
    gc.unfreeze()
    row("gc.collect() with TensorFlow loaded", f"{full * 1000:.1f} ms", "(after every run)")
    row("gc.collect() after gc.freeze() (app)", f"{frozen * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="CIFAR-10 source (default: small random)")
    parser.add_argument("--models", default="models")
    parser.add_argument("--train-steps", type=int, default=6)
    args = parser.parse_args()
    if args.data:
        (images, labels), _ = data.load_cifar10(args.data)
    else:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (5_000, 32, 32, 3), dtype=np.uint8)
        labels = np.repeat(np.arange(10), 500)
    bench_tiling(images, labels)
    bench_augmentation(images)
    bench_inference(images, labels, Path(args.models))
    bench_training(images, labels, args.train_steps)
    width = max(len(name) for name, _, _ in ROWS)
    print(f"\n{'benchmark':<{width}} | {'result':>22} | note")
    print(f"{'-' * width}-|-{'-' * 22}-|-----")
    for name, value, note in ROWS:
        print(f"{name:<{width}} | {value:>22} | {note}")


if __name__ == "__main__":
    main()
