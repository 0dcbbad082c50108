"""Train the multi-label VGG on CIFAR-10 composites with either loss.

    python -m core.train --loss bce --data ../shared/data/cifar10-jpeg.tar.gz
    python -m core.train --loss cce --recipe article --epochs 4
    python -m core.train --loss bce --cycle-minutes 45   # one cycle fitted to 45 minutes
    python -m core.train --loss bce --resume             # continue after a crash or kill
    python -m core.train --init-from models/bce.keras --name bce-tuned --epochs 2   # fine-tune
    KERAS_BACKEND=jax python -m core.train --cycle-minutes 7 --data-workers 6   # on a GPU

Writes `<out>/<name>.keras` (inference weights, float32), `<name>.history.json` (per-epoch train
and validation loss, total_acc, binary_acc, wall-clock minutes) and `<name>.run.json` (recipe,
data source, seeds, library versions, wall time, img/s). Every finished epoch is checkpointed
to `<out>/checkpoints/<name>/`; `--resume` continues from there without losing an epoch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import data as data_module

ARTICLE = "article"
FAST = "fast"
# Options a warm restart (more --epochs after a finished fast run) may change.
RESTART_OPTIONS = ("weight_decay", "max_shift", "restart_peak_fraction")


@dataclass
class TrainConfig:
    loss: str = "bce"  # "bce" (summed binary cross-entropy) or "cce" (categorical)
    recipe: str = FAST  # "fast" (fresh composites, one-cycle AdamW) or "article" (fixed set, SGD)
    epochs: int = 8  # full passes of `composites_per_epoch` composites
    batch_size: int = 128  # composites per step ("article" uses 256)
    composites_per_epoch: int = 50_000  # the article's training set size
    learning_rate: float = 3e-3  # peak learning rate ("article": 0.01, constant)
    weight_decay: float = 0.05  # decoupled AdamW weight decay (fast recipe only)
    warmup_fraction: float = 0.2  # share of the steps spent ramping up the learning rate
    restart_peak_fraction: float = 0.3  # peak of a warm restart (more --epochs after a finished
    # run), as a fraction of `learning_rate`
    augment: bool = True  # per-tile flip and shift (fast recipe only)
    max_shift: int = 2  # largest per-tile shift in pixels (4 is CIFAR's usual pad-and-crop)
    validation_images: int = 2_000  # CIFAR train images held out (balanced) for validation
    validation_composites: int = 2_000  # composites drawn from the held-out images
    seed: int = 0  # seeds weights, composites, the hold-out and the augmentation
    precision: str = "auto"  # "auto" (bfloat16 on a GPU or a CPU with bf16 units), "bfloat16",
    # or "float32"
    data_workers: int = 1  # threads drawing training composites (a GPU needs several)
    time_budget_minutes: float | None = None  # stop before an epoch that would exceed this
    cycle_minutes: float | None = None  # fast recipe: one learning-rate cycle over this many
    # minutes of training, following the clock; the run stops when they are spent (no --epochs)
    init_from: str | None = None  # fast recipe: start from this saved model's weights instead of
    # a random initialisation (fine-tuning); None trains from scratch
    data: str | None = None  # CIFAR-10 source path; None downloads through Keras
    name: str | None = None  # output name, default the loss
    out: str = "models"  # output folder

    def __post_init__(self):
        if self.loss not in ("bce", "cce"):
            raise ValueError(f"loss must be 'bce' or 'cce', got {self.loss!r}.")
        if self.recipe not in (FAST, ARTICLE):
            raise ValueError(f"recipe must be '{FAST}' or '{ARTICLE}', got {self.recipe!r}.")
        if self.precision not in ("auto", "bfloat16", "float32"):
            raise ValueError(f"precision must be auto, bfloat16 or float32: {self.precision!r}.")
        largest_shift = data_module.TILE_SIZE // 2 - 1
        if not 0 <= self.max_shift <= largest_shift:
            raise ValueError(f"max_shift must be 0..{largest_shift} pixels, got {self.max_shift}.")
        if self.epochs < 1 or self.batch_size < 1 or self.composites_per_epoch < 1:
            raise ValueError("epochs, batch_size and composites_per_epoch must be positive.")
        if self.data_workers < 1:
            raise ValueError(f"data_workers must be at least 1, got {self.data_workers}.")
        if self.cycle_minutes is not None:
            if self.recipe != FAST:
                raise ValueError("cycle_minutes shapes the fast recipe's learning rate only.")
            if not self.cycle_minutes > 0:
                raise ValueError(f"cycle_minutes must be positive, got {self.cycle_minutes}.")
        if self.init_from is not None and self.recipe != FAST:
            raise ValueError("init_from fine-tunes with the fast recipe only.")
        if self.name is None:
            self.name = self.loss


def article_config(**overrides) -> TrainConfig:
    """The article's recipe: a fixed set of 50k composites, SGD lr 0.01 momentum 0.9, batch 256."""
    settings = dict(recipe=ARTICLE, batch_size=256, learning_rate=0.01, augment=False)
    settings.update(overrides)
    return TrainConfig(**settings)


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(requested: str) -> str:
    if requested == "auto":
        return "bfloat16" if accelerator_names() or cpu_has_bf16() else "float32"
    return requested


def hold_out(labels: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split train indices into (training, validation) with `count` validation images, balanced."""
    rng = np.random.default_rng([seed, 1])
    per_class = count // data_module.NUM_CLASSES
    validation = []
    for label in range(data_module.NUM_CLASSES):
        members = np.flatnonzero(labels == label)
        validation.append(rng.choice(members, size=min(per_class, len(members)), replace=False))
    validation = np.sort(np.concatenate(validation))
    training = np.setdiff1d(np.arange(len(labels)), validation)
    return training, validation


def make_schedule(config: TrainConfig, total_steps: int):
    from core.schedules import OneCycle

    if config.recipe == ARTICLE:
        return config.learning_rate
    if config.cycle_minutes is not None:
        return 0.0  # set before every batch by `ClockCycle`
    return OneCycle(config.learning_rate, total_steps, config.warmup_fraction)


def make_optimizer(config: TrainConfig, total_steps: int):
    import keras

    schedule = make_schedule(config, total_steps)
    if config.recipe == ARTICLE:
        return keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=config.weight_decay)


def compile_model(model, config: TrainConfig, optimizer):
    from core.losses import LOSSES
    from core.metrics import binary_acc, total_acc

    model.compile(optimizer=optimizer, loss=LOSSES[config.loss], metrics=[total_acc, binary_acc])
    return model


def library_versions() -> dict:
    """Python, NumPy, Keras and the version of the Keras backend that trained."""
    import importlib

    import keras

    backend = keras.backend.backend()
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": keras.__version__,
        "backend": backend,
        # Every Keras backend is named after the library it imports.
        backend: importlib.import_module(backend).__version__,
    }


def accelerator_names() -> list[str]:
    """The GPUs the Keras backend sees (empty on a CPU-only machine)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        names = []
        for gpu in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(gpu)
            names.append(details.get("device_name", gpu.name))
        return names
    if backend == "jax":
        import jax

        return [device.device_kind for device in jax.devices() if device.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def device_description() -> str:
    gpus = accelerator_names()
    if gpus:
        return f"GPU: {', '.join(gpus)}"
    model_name = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model_name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {model_name}, {os.cpu_count()} cores"


def describe_source(source: str | None) -> dict:
    if source is None:
        return {"source": "keras.datasets.cifar10 (original CIFAR-10)"}
    path = Path(source)
    description = {"source": str(path)}
    if path.is_file():
        description["sha256"] = data_module.file_sha256(path)
    return description


def _write_json(path: Path, payload) -> None:
    partial = path.with_suffix(path.suffix + ".tmp")
    partial.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(partial, path)


def train(config: TrainConfig, resume: bool = False, verbose: int | str = "auto") -> dict:
    """Run or resume one training run; returns the record also written to `<name>.run.json`."""
    import keras

    precision = resolve_precision(config.precision)
    keras.mixed_precision.set_global_policy(
        "mixed_bfloat16" if precision == "bfloat16" else "float32"
    )
    keras.utils.set_random_seed(config.seed)

    from core.model import build_model

    out = Path(config.out)
    checkpoint_folder = out / "checkpoints" / config.name
    checkpoint_folder.mkdir(parents=True, exist_ok=True)
    checkpoint_path = checkpoint_folder / "last.keras"
    state_path = checkpoint_folder / "state.json"

    (x_train, y_train), _ = data_module.load_cifar10(config.data)
    training_indices, validation_indices = hold_out(y_train, config.validation_images, config.seed)
    train_images, train_labels = x_train[training_indices], y_train[training_indices]
    x_val, y_val, _ = data_module.make_composites(
        x_train[validation_indices],
        y_train[validation_indices],
        config.validation_composites,
        seed=[config.seed, 2],
    )

    steps_per_epoch = data_module.composite_batches_per_epoch(
        config.composites_per_epoch, config.batch_size
    )
    total_steps = steps_per_epoch * config.epochs

    state = {"epochs_done": 0, "train_seconds": 0.0, "history": [], "restarts": []}
    if resume and checkpoint_path.exists() and state_path.exists():
        state = json.loads(state_path.read_text())
        state.setdefault("restarts", [])
        saved = TrainConfig(**state["config"])
        restarting = (
            config.epochs > saved.epochs and config.recipe == FAST and config.cycle_minutes is None
        )
        changeable = ("epochs", "time_budget_minutes", "data_workers")
        if restarting:
            changeable += RESTART_OPTIONS
        if _without(saved, changeable) != _without(config, changeable):
            restart_flags = ", ".join("--" + option.replace("_", "-") for option in RESTART_OPTIONS)
            raise ValueError(
                f"--resume found a checkpoint in {checkpoint_folder} made with a different "
                "configuration; pass the same options (only --epochs and the time budget may "
                f"change, and when adding epochs to a finished run also {restart_flags}) "
                "or a new --name."
            )
        model = keras.saving.load_model(checkpoint_path)
        print(f"Resuming {config.name} after epoch {state['epochs_done']}.", flush=True)
        if restarting:
            extend_schedule(model, config, state["epochs_done"], saved.epochs, steps_per_epoch)
            state["restarts"].append(
                {"after_epoch": state["epochs_done"], "epochs": config.epochs}
                | {option: getattr(config, option) for option in RESTART_OPTIONS}
            )
    else:
        model = build_model()
        if config.init_from is not None:
            load_initial_weights(model, config.init_from)
            print(f"Fine-tuning from {config.init_from}.", flush=True)
        model = compile_model(model, config, make_optimizer(config, total_steps))

    if config.recipe == ARTICLE:
        x_fixed, y_fixed, _ = data_module.make_composites(
            train_images, train_labels, config.composites_per_epoch, seed=[config.seed, 3]
        )
        training_data = None
    else:
        training_data = data_module.fresh_composites(
            train_images,
            train_labels,
            config.composites_per_epoch,
            config.batch_size,
            seed=config.seed,
            augment=config.augment,
            max_shift=config.max_shift,
            first_epoch=state["epochs_done"],
            workers=config.data_workers,
        )

    clock_cycle = None
    last_epoch = config.epochs
    if config.cycle_minutes is not None:
        from core.schedules import ClockCycle

        clock_cycle = ClockCycle(config.learning_rate, config.cycle_minutes, config.warmup_fraction)
        last_epoch = sys.maxsize  # the clock ends the run

    run_start = time.time()
    for epoch in range(state["epochs_done"], last_epoch):
        spent = state["train_seconds"]
        if clock_cycle is not None:
            if spent >= 60 * config.cycle_minutes:
                break
            clock_cycle.seconds_before = spent
        if config.time_budget_minutes is not None and state["history"]:
            last = state["history"][-1]["seconds"]
            if spent + last > 60 * config.time_budget_minutes:
                print(f"Time budget of {config.time_budget_minutes} min reached.", flush=True)
                break
        started = time.time()
        if training_data is None:
            # One epoch on the fixed set, shuffled by Keras; seeded per epoch for repeatability.
            keras.utils.set_random_seed(config.seed * 1000 + epoch)
            result = model.fit(
                x_fixed,
                y_fixed,
                batch_size=config.batch_size,
                epochs=epoch + 1,
                initial_epoch=epoch,
                validation_data=(x_val, y_val),
                validation_batch_size=256,
                verbose=verbose,
            )
        else:
            training_data.epoch = epoch
            result = model.fit(
                training_data,
                epochs=epoch + 1,
                initial_epoch=epoch,
                validation_data=(x_val, y_val),
                validation_batch_size=256,
                verbose=verbose,
                callbacks=[] if clock_cycle is None else [clock_cycle],
            )
        seconds = time.time() - started
        composites = config.composites_per_epoch
        if clock_cycle is not None:
            composites = min(composites, clock_cycle.steps * config.batch_size)
        record = {k: float(v[-1]) for k, v in result.history.items()}
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
        state["config"] = dataclasses.asdict(config)
        model.save(checkpoint_path)
        _write_json(state_path, state)
        _write_json(out / f"{config.name}.history.json", history_payload(state["history"]))
        print(
            f"epoch {epoch + 1}: loss {record['loss']:.4f} total_acc {record['total_acc']:.4f} "
            f"val_total_acc {record['val_total_acc']:.4f} val_binary_acc "
            f"{record['val_binary_acc']:.4f} ({seconds / 60:.1f} min)",
            flush=True,
        )

    inference_model = export_for_inference(model, config)
    inference_model.save(out / f"{config.name}.keras")
    history = state["history"]
    composites_seen = sum(r.get("composites", config.composites_per_epoch) for r in history)
    images_per_second = composites_seen / max(state["train_seconds"], 1e-9)
    run = {
        "name": config.name,
        "config": dataclasses.asdict(config),
        "precision": precision,
        "data": describe_source(config.data),
        "initialized_from": None if config.init_from is None else describe_source(config.init_from),
        "training_images": int(len(training_indices)),
        "validation_images": int(len(validation_indices)),
        "epochs_done": state["epochs_done"],
        "warm_restarts": state["restarts"],
        "composites_seen": composites_seen,
        "train_minutes": state["train_seconds"] / 60,
        "images_per_second": images_per_second,
        "device": device_description(),
        "versions": library_versions(),
        "command": " ".join(sys.argv),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "session_seconds": time.time() - run_start,
    }
    _write_json(out / f"{config.name}.run.json", run)
    return run


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


def _without(config: TrainConfig, options: tuple[str, ...]) -> dict:
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in options}


def extend_schedule(model, config, epochs_done, planned_epochs, steps_per_epoch) -> None:
    """Continue a finished one-cycle run: a warm restart over the added epochs.

    The restart may regularise more strongly than the first cycle: the weight decay and the
    per-tile shift come from `config`, the rest of the recipe from the checkpoint.
    """
    from core.schedules import OneCycle

    if epochs_done < planned_epochs:
        raise ValueError(
            f"The run planned {planned_epochs} epochs and finished {epochs_done}: resume it with "
            f"--epochs {planned_epochs} first, then add epochs."
        )
    model.optimizer.learning_rate = OneCycle(
        config.learning_rate * config.restart_peak_fraction,
        steps_per_epoch * (config.epochs - epochs_done),
        config.warmup_fraction,
        start_step=int(model.optimizer.iterations),
    )
    model.optimizer.weight_decay = config.weight_decay
    print(
        f"Warm restart over epochs {epochs_done + 1}-{config.epochs} (peak "
        f"{config.learning_rate * config.restart_peak_fraction:g}, weight decay "
        f"{config.weight_decay:g}, max shift {config.max_shift}).",
        flush=True,
    )


def history_payload(history: list[dict]) -> dict:
    """Per-epoch columns: {"epoch": [...], "loss": [...], "val_loss": [...], ...}."""
    keys = [k for k in history[0] if k != "epoch"] if history else []
    payload = {"epoch": [record["epoch"] for record in history]}
    for key in keys:
        payload[key] = [record.get(key) for record in history]
    return payload


def export_for_inference(model, config: TrainConfig):
    """A float32 copy of the trained weights, compiled without optimizer state (a small file)."""
    import keras

    from core.model import build_model

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        clean = build_model()
    finally:
        keras.mixed_precision.set_global_policy(policy)
    clean.set_weights([np.asarray(w, dtype=np.float32) for w in model.get_weights()])
    from core.losses import LOSSES
    from core.metrics import binary_acc, total_acc

    clean.compile(loss=LOSSES[config.loss], metrics=[total_acc, binary_acc])
    return clean


def parse_args(argv=None) -> tuple[TrainConfig, bool, int]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loss", choices=["bce", "cce"], default="bce")
    parser.add_argument("--recipe", choices=[FAST, ARTICLE], default=FAST)
    parser.add_argument("--data", default=None, help="CIFAR-10 folder or tarball (default: Keras)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--composites-per-epoch", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument(
        "--restart-peak-fraction", type=float, help="warm-restart peak / --learning-rate (0.3)"
    )
    parser.add_argument("--max-shift", type=int, help="per-tile shift in pixels (default 2)")
    parser.add_argument("--validation-images", type=int)
    parser.add_argument("--validation-composites", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--precision", choices=["auto", "bfloat16", "float32"])
    parser.add_argument(
        "--data-workers", type=int, help="threads drawing training composites (default 1)"
    )
    parser.add_argument(
        "--time-budget-minutes", type=float, help="stop before an epoch that would end past this"
    )
    parser.add_argument(
        "--cycle-minutes",
        type=float,
        help="fast recipe: one learning-rate cycle over this many minutes, then stop (no --epochs)",
    )
    parser.add_argument(
        "--init-from", help="fine-tune: start from this saved .keras model instead of scratch"
    )
    parser.add_argument("--name")
    parser.add_argument("--out")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument(
        "--verbose", type=int, choices=[0, 1, 2], default=1, help="1: progress bar, 2: a line"
    )
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in vars(args).items()
        if key not in ("recipe", "resume", "verbose") and value is not None
    }
    config = article_config(**overrides) if args.recipe == ARTICLE else TrainConfig(**overrides)
    return config, args.resume, args.verbose


def main(argv=None) -> None:
    config, resume, verbose = parse_args(argv)
    run = train(config, resume=resume, verbose=verbose)
    print(
        f"Saved {Path(config.out) / (config.name + '.keras')} after {run['epochs_done']} epochs, "
        f"{run['train_minutes']:.1f} min, {run['images_per_second']:.0f} img/s."
    )


if __name__ == "__main__":
    main()
