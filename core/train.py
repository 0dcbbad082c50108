"""Train the multi-label VGG on CIFAR-10 composites with either loss.

    python -m core.train --loss bce                          # the fast recipe, 8 epochs
    python -m core.train --loss cce --length 45min           # one learning-rate cycle in 45 min
    python -m core.train --loss bce --recipe article --length 4epochs
    python -m core.train --loss bce --init-from resume       # continue after a crash or a kill
    python -m core.train --loss bce --init-from restart --length 12epochs   # a warm restart
    python -m core.train --init-from models/bce.keras --name bce-tuned --length 2epochs
    KERAS_BACKEND=jax python -m core.train --length 7min --data-workers 6   # on a GPU

`--init-from` says where a run starts: `scratch`, `resume` (the checkpoint of `--name`, same
options, to the same or a longer length), `restart` (a finished run's checkpoint with a new
learning-rate cycle over the epochs added) or a `.keras` file (its weights, then a new run).
`--length` says how long it trains, in epochs or in minutes.

Writes `<out>/<name>.keras` (inference weights, float32), `<name>.history.json` (per-epoch train
and validation loss, total_acc, binary_acc, minutes) and `<name>.run.json` (recipe, data, seeds,
versions, device, time, img/s). Every finished epoch is checkpointed to `<out>/checkpoints/<name>/`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from core import data as data_module
from core.checkpoints import (
    Checkpoint,
    check_continuation,
    export_for_inference,
    load_initial_weights,
    new_state,
    warm_restart,
    write_json,
)
from core.kinds import KINDS
from core.provenance import describe_source, device_description, library_versions
from core.recipes import (
    ARTICLE,
    FAST,
    INIT_RESTART,
    INIT_RESUME,
    INIT_SCRATCH,
    TrainConfig,
    article_config,
    hold_out,
    parse_length,
)

VALIDATION_BATCH = 256
MAX_CLOCK_EPOCHS = 100_000  # a bound for `fit` when the clock, not a count, ends the run


def resolve_precision(requested: str, batch_size: int) -> tuple[str, dict | None]:
    """(precision, {precision: measured seconds per step} or None when not measured)."""
    if requested != "auto":
        return requested, None
    from core.precision import fastest_precision

    choice, measured = fastest_precision(batch_size)
    timings = ", ".join(f"{p} {seconds:.2f} s" for p, seconds in measured.items())
    print(f"Precision: {choice} (one training step: {timings}).", flush=True)
    return choice, measured


def make_optimizer(config: TrainConfig, total_steps: int):
    import keras

    from core.schedules import OneCycle

    if config.recipe == ARTICLE:
        return keras.optimizers.SGD(learning_rate=config.learning_rate, momentum=0.9)
    # A clock-driven cycle sets the learning rate before every batch (`ClockCycle`).
    schedule = (
        0.0
        if config.follows_the_clock
        else OneCycle(config.learning_rate, total_steps, config.warmup_fraction)
    )
    return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=config.weight_decay)


def compile_model(model, config: TrainConfig, optimizer):
    from core.metrics import binary_acc, total_acc

    loss = KINDS[config.loss].training_loss()
    model.compile(optimizer=optimizer, loss=loss, metrics=[total_acc, binary_acc])
    return model


def start_model(config: TrainConfig, init_from: str, checkpoint: Checkpoint, steps: int):
    """(compiled model, state) for a run that starts as `init_from` says."""
    from core.model import build_model

    if init_from in (INIT_RESUME, INIT_RESTART):
        model, state = checkpoint.load()
        saved, restarting = TrainConfig(**state["config"]), init_from == INIT_RESTART
        check_continuation(saved, config, restarting)
        if restarting:
            state["restarts"].append(warm_restart(model, config, state, steps))
        elif config.recipe == FAST and config.epochs not in (None, saved.epochs):
            raise ValueError(
                f"The run's learning-rate cycle spans {saved.epochs} epochs; resume it to that "
                "length, or add epochs with --init-from restart."
            )
        state["config"] = dataclasses.asdict(config)
        print(f"Continuing {config.name} after epoch {state['epochs_done']}.", flush=True)
        return model, state
    model = build_model(output=config.output)
    if init_from != INIT_SCRATCH:
        load_initial_weights(model, init_from)
        print(f"Fine-tuning from {init_from}.", flush=True)
    total_steps = steps * (config.epochs or 1)
    return compile_model(model, config, make_optimizer(config, total_steps)), new_state(config)


def training_data(config: TrainConfig, images, labels, first_epoch: int):
    """Fresh composites every epoch (fast recipe) or one fixed, reshuffled set (the article's)."""
    if config.recipe == ARTICLE:
        x, y = data_module.draw_composites(
            images, labels, config.composites_per_epoch, [config.seed, 3], config.composites
        )
        return data_module.fixed_composites(x, y, config.batch_size, config.seed, first_epoch)
    return data_module.fresh_composites(
        images,
        labels,
        config.composites_per_epoch,
        config.batch_size,
        seed=config.seed,
        augment=config.augment,
        max_shift=config.max_shift,
        first_epoch=first_epoch,
        workers=config.data_workers,
        kind=config.composites,
    )


def train(config: TrainConfig, init_from: str = INIT_SCRATCH, verbose: int | str = "auto") -> dict:
    """Run a training run from `init_from`; returns the record also written to `.run.json`."""
    import keras

    from core.callbacks import EpochRecorder, finished

    precision, measured = resolve_precision(config.precision, config.batch_size)
    keras.mixed_precision.set_global_policy(
        "mixed_bfloat16" if precision == "bfloat16" else "float32"
    )
    keras.utils.set_random_seed(config.seed)
    (x_train, y_train), _ = data_module.load_cifar10(config.data)
    training, validation = hold_out(y_train, config.validation_images, config.seed)
    x_val, y_val = data_module.draw_composites(
        x_train[validation],
        y_train[validation],
        config.validation_composites,
        [config.seed, 2],
        config.composites,
    )
    steps = data_module.composite_batches_per_epoch(config.composites_per_epoch, config.batch_size)
    checkpoint = Checkpoint(config.out, config.name)
    model, state = start_model(config, init_from, checkpoint, steps)
    callbacks = [EpochRecorder(config, checkpoint, state)]
    if config.follows_the_clock:
        from core.schedules import ClockCycle

        callbacks.append(
            ClockCycle(
                config.learning_rate, config.minutes, config.warmup_fraction, state["train_seconds"]
            )
        )
    started = time.time()
    if not finished(config, state):
        model.fit(
            training_data(config, x_train[training], y_train[training], state["epochs_done"]),
            epochs=config.epochs or MAX_CLOCK_EPOCHS,
            initial_epoch=state["epochs_done"],
            validation_data=(x_val, y_val),
            validation_batch_size=VALIDATION_BATCH,
            verbose=verbose,
            callbacks=callbacks,
        )
    export_for_inference(model, config.output).save(Path(config.out) / f"{config.name}.keras")
    run = run_record(config, precision, state, init_from, len(training), len(validation))
    run["precision_measured_seconds_per_step"] = measured
    run["session_seconds"] = time.time() - started
    write_json(Path(config.out) / f"{config.name}.run.json", run)
    return run


def run_record(config, precision, state, init_from, training_images, validation_images) -> dict:
    composites_seen = sum(record["composites"] for record in state["history"])
    fine_tuned = init_from not in (INIT_SCRATCH, INIT_RESUME, INIT_RESTART)
    return {
        "name": config.name,
        "config": dataclasses.asdict(config),
        "precision": precision,
        "data": describe_source(config.data),
        "initialized_from": describe_source(init_from) if fine_tuned else None,
        "training_images": training_images,
        "validation_images": validation_images,
        "epochs_done": state["epochs_done"],
        "warm_restarts": state["restarts"],
        "composites_seen": composites_seen,
        "train_minutes": state["train_seconds"] / 60,
        "images_per_second": composites_seen / max(state["train_seconds"], 1e-9),
        "device": device_description(),
        "versions": library_versions(),
        "command": " ".join(sys.argv),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: ...)" only where the help does not already say what happens without it."""

    def _get_help_string(self, action):
        if action.default is None or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def parse_args(argv=None) -> tuple[TrainConfig, str, int]:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=DefaultsFormatter
    )
    parser.add_argument(
        "--loss",
        choices=list(KINDS),
        default="bce",
        help="the ending and loss, from core.kinds; softmax: multi-class",
    )
    parser.add_argument(
        "--composites",
        choices=list(data_module.COMPOSITE_KINDS),
        default=data_module.FOUR_DISTINCT,
        help="the article's four distinct classes, one to four objects, or objects anywhere",
    )
    parser.add_argument(
        "--recipe",
        choices=[FAST, ARTICLE],
        default=FAST,
        help="fresh composites and one-cycle AdamW, or the article's fixed set and SGD",
    )
    parser.add_argument(
        "--init-from",
        default=INIT_SCRATCH,
        help="scratch, resume, restart, or a .keras model whose weights start the run",
    )
    parser.add_argument("--length", default="8epochs", help="how long: e.g. 6epochs or 45min")
    parser.add_argument("--data", help="CIFAR-10 folder or tarball (default: Keras' download)")
    parser.add_argument("--name", help="output name (default: the loss)")
    parser.add_argument("--out", default=defaults.out, help="output folder")
    parser.add_argument(
        "--batch-size", type=int, help="composites per step (fast 128, article 256)"
    )
    parser.add_argument(
        "--composites-per-epoch",
        type=int,
        default=defaults.composites_per_epoch,
        help="composites in one epoch",
    )
    parser.add_argument(
        "--learning-rate", type=float, help="peak (fast 3e-3) or constant (article 0.01)"
    )
    parser.add_argument(
        "--weight-decay", type=float, default=defaults.weight_decay, help="AdamW's, decoupled"
    )
    parser.add_argument(
        "--max-shift", type=int, default=defaults.max_shift, help="per-tile shift, pixels"
    )
    parser.add_argument(
        "--restart-peak-fraction",
        type=float,
        default=defaults.restart_peak_fraction,
        help="a warm restart's peak learning rate / --learning-rate",
    )
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="weights, composites and hold-out"
    )
    parser.add_argument(
        "--precision",
        choices=["auto", "bfloat16", "float32"],
        default="auto",
        help="auto: the faster in a few measured training steps on this machine",
    )
    parser.add_argument("--data-workers", type=int, default=1, help="threads drawing composites")
    parser.add_argument(
        "--verbose", type=int, choices=[0, 1, 2], default=1, help="2: a line an epoch"
    )
    args = parser.parse_args(argv)
    options = {
        key: value
        for key, value in vars(args).items()
        if key not in ("recipe", "init_from", "length", "verbose") and value is not None
    }
    options.update(parse_length(args.length))
    config = article_config(**options) if args.recipe == ARTICLE else TrainConfig(**options)
    return config, args.init_from, args.verbose


def main(argv=None) -> None:
    config, init_from, verbose = parse_args(argv)
    run = train(config, init_from=init_from, verbose=verbose)
    print(
        f"Saved {Path(config.out) / (config.name + '.keras')} after {run['epochs_done']} epochs, "
        f"{run['train_minutes']:.1f} min, {run['images_per_second']:.0f} img/s."
    )


if __name__ == "__main__":
    main()
