"""The loss lab's trainer: only the last Dense layer, in NumPy, on a frozen trunk's features.

    python -m core.lab --loss cce --optimizer sgd --data one-to-four
    python -m core.lab --table          # every loss on both families, SGD and AdamW

The network's last layer maps 256 pooled features to 10 logits (2,570 weights). Trained from
random weights on features computed once (`core.lab_features`), a run of 20 epochs of 4,000
composites takes a fraction of a second, so a student can try every ending and loss on the
same features and compare them. Each loss sends the gradient of `core.lab_losses` to the logits;
the rest is the chain rule through one matrix product.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np

from core import evaluation
from core.kinds import KINDS, kind_of

SGD, ADAM, ADAMW = "sgd", "adam", "adamw"
OPTIMIZERS = (SGD, ADAM, ADAMW)
OPTIMIZER_TITLES = {SGD: "SGD, momentum 0.9 (the article's)", ADAM: "Adam", ADAMW: "AdamW"}
DEFAULT_RATES = {SGD: 0.01, ADAM: 1e-3, ADAMW: 1e-3}
MOMENTUM = 0.9  # SGD's, as the article's
BETAS = (0.9, 0.999)  # Adam's and AdamW's moment decay, Keras' defaults
ADAM_EPSILON = 1e-7  # Keras' default
THRESHOLDS = np.round(np.linspace(0.0, 1.0, 101), 2)


@dataclass(frozen=True)
class LabConfig:
    loss: str = "bce"  # a key of core.kinds.KINDS
    optimizer: str = SGD  # "sgd", "adam" or "adamw"
    learning_rate: float | None = None  # None: DEFAULT_RATES[optimizer]
    epochs: int = 20
    batch_size: int = 128
    weight_decay: float = 0.01  # decoupled, AdamW only (Keras' default is 0.004)
    seed: int = 0  # seeds the initial weights and the order of the batches

    def __post_init__(self):
        kind_of(self.loss)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}."
            )
        if self.learning_rate is not None and not 0 < self.learning_rate <= 10:
            raise ValueError(f"learning_rate must be in (0, 10], got {self.learning_rate}.")
        if not 1 <= self.epochs <= 200 or self.batch_size < 1:
            raise ValueError("epochs must be 1..200 and batch_size positive.")

    @property
    def rate(self) -> float:
        return DEFAULT_RATES[self.optimizer] if self.learning_rate is None else self.learning_rate


@dataclass
class LabRun:
    """One training run: its settings, a row per epoch and the final figures on the test set."""

    config: LabConfig
    epochs: list[dict] = field(default_factory=list)  # epoch, loss, exact_match, best_threshold
    final: dict = field(default_factory=dict)
    shown_logits: list[np.ndarray] = field(default_factory=list)  # per epoch: (m, 10) logits
    seconds: float = 0.0  # CPU seconds of this thread for the run


def activate(kind, logits: np.ndarray) -> np.ndarray:
    """The kind's outputs: independent sigmoids, or a softmax whose outputs sum to 1."""
    if kind.shares_one_unit:
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    return 1.0 / (1.0 + np.exp(-logits))


def initial_weights(features: int, classes: int, rng: np.random.Generator):
    """Glorot-uniform weights and zero biases, as Keras' Dense layer starts."""
    limit = np.sqrt(6.0 / (features + classes))
    return [rng.uniform(-limit, limit, (features, classes)), np.zeros(classes)]


class Optimizer:
    """SGD with momentum, Adam or AdamW (decoupled weight decay on the weights, not the bias),
    following Keras' update rules."""

    def __init__(self, config: LabConfig, parameters: list[np.ndarray]):
        self.config, self.steps = config, 0
        self.first = [np.zeros_like(p) for p in parameters]
        self.second = [np.zeros_like(p) for p in parameters]

    def step(self, parameters: list[np.ndarray], gradients: list[np.ndarray]) -> None:
        self.steps += 1
        rate = self.config.rate
        for index, (parameter, gradient) in enumerate(zip(parameters, gradients, strict=True)):
            if self.config.optimizer == SGD:
                self.first[index] = MOMENTUM * self.first[index] - rate * gradient
                parameter += self.first[index]
                continue
            if self.config.optimizer == ADAMW and index == 0:
                parameter -= rate * self.config.weight_decay * parameter
            parameter -= rate * self.adam_direction(index, gradient)

    def adam_direction(self, index: int, gradient: np.ndarray) -> np.ndarray:
        beta1, beta2 = BETAS
        self.first[index] = beta1 * self.first[index] + (1 - beta1) * gradient
        self.second[index] = beta2 * self.second[index] + (1 - beta2) * gradient**2
        corrected = np.sqrt(1 - beta2**self.steps) / (1 - beta1**self.steps)
        return corrected * self.first[index] / (np.sqrt(self.second[index]) + ADAM_EPSILON)


def epoch_figures(y_test: np.ndarray, outputs: np.ndarray) -> dict:
    """Exact match at 0.5 and the threshold (0, 0.01, ..., 1) with the best exact match."""
    truth = y_test.astype(bool)
    decided = outputs[None] >= THRESHOLDS[:, None, None]
    exact = np.all(decided == truth[None], axis=-1).mean(axis=-1)
    best = int(np.argmax(exact))
    return {
        "exact_match": float(np.all((outputs >= evaluation.THRESHOLD) == truth, axis=-1).mean()),
        "best_threshold": float(THRESHOLDS[best]),
        "best_exact_match": float(exact[best]),
    }


def final_figures(y_test: np.ndarray, outputs: np.ndarray) -> dict:
    """The end-of-run figures: exact match at 0.5 and at the best threshold, top-k told k, mAP,
    and how many labels the model answers at 0.5 against how many are true."""
    told = evaluation.top_true_count(y_test, outputs)
    return {
        **epoch_figures(y_test, outputs),
        "top_k_told_k": evaluation.exact_match(y_test, told),
        "mean_average_precision": evaluation.mean_average_precision(y_test, outputs),
        "labels_answered": float((outputs >= evaluation.THRESHOLD).sum(axis=-1).mean()),
        "labels_true": float(y_test.sum(axis=-1).mean()),
    }


def train_last_layer(config: LabConfig, features, shown: np.ndarray | None = None) -> LabRun:
    """Train the Dense layer on `features` (a `core.lab_features.FamilyFeatures`) as `config`
    says; `shown` (m, 256) are features whose logits are recorded after every epoch."""
    started = time.thread_time()
    kind, rng = KINDS[config.loss], np.random.default_rng(config.seed)
    x, y = features.x_train, features.y_train
    parameters = initial_weights(x.shape[1], y.shape[1], rng)
    optimizer, run = Optimizer(config, parameters), LabRun(config)
    for epoch in range(1, config.epochs + 1):
        losses, order = [], rng.permutation(len(x))
        for start in range(0, len(x), config.batch_size):
            batch = order[start : start + config.batch_size]
            logits = x[batch] @ parameters[0] + parameters[1]
            loss, gradient = kind.lab_loss(y[batch], logits)
            gradient /= len(batch)  # the batch's mean loss
            optimizer.step(parameters, [x[batch].T @ gradient, gradient.sum(axis=0)])
            losses.append(loss.mean())
        outputs = activate(kind, features.x_test @ parameters[0] + parameters[1])
        figures = epoch_figures(features.y_test, outputs)
        run.epochs.append({"epoch": epoch, "loss": float(np.mean(losses)), **figures})
        if shown is not None:
            run.shown_logits.append(shown @ parameters[0] + parameters[1])
    run.final = final_figures(features.y_test, outputs)
    run.seconds = time.thread_time() - started
    return run


def run_row(data: str, run: LabRun) -> dict:
    """One row of a table of runs: what was trained and its final figures."""
    return {
        "data": data,
        "loss": run.config.loss,
        "optimizer": run.config.optimizer,
        "learning_rate": run.config.rate,
        **run.final,
        "seconds": run.seconds,
    }


def markdown_table(rows: list[dict]) -> str:
    """The rows as the Markdown table of docs/experiments.md."""
    lines = [
        "| data | ending + loss | optimizer | exact match at 0.5 | best threshold (its exact "
        "match) | top-k told k | mAP | labels answered / true |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['data']} | {KINDS[row['loss']].title} | {row['optimizer']} "
            f"{row['learning_rate']:g} | {row['exact_match']:.1%} | {row['best_threshold']:.2f} "
            f"({row['best_exact_match']:.1%}) | {row['top_k_told_k']:.1%} | "
            f"{row['mean_average_precision']:.3f} | {row['labels_answered']:.2f} / "
            f"{row['labels_true']:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    from core.lab_features import DEFAULT_PATH, load_features

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loss", choices=list(KINDS), default="bce")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=SGD)
    parser.add_argument("--learning-rate", type=float, help="default: 0.01 SGD, 1e-3 Adam(W)")
    parser.add_argument("--data", help="a data family of the features (default: every one)")
    parser.add_argument("--epochs", type=int, default=LabConfig.epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", action="store_true", help="every loss, with SGD and AdamW")
    parser.add_argument("--features", default=str(DEFAULT_PATH))
    args = parser.parse_args(argv)
    families = load_features(args.features)
    chosen = [args.data] if args.data else list(families)
    settings = [(loss, optimizer) for loss in KINDS for optimizer in (SGD, ADAMW)]
    rows = []
    for data in chosen:
        for loss, optimizer in settings if args.table else [(args.loss, args.optimizer)]:
            rate = None if args.table else args.learning_rate
            config = LabConfig(loss, optimizer, rate, epochs=args.epochs, seed=args.seed)
            rows.append(run_row(data, train_last_layer(config, families[data])))
    print(markdown_table(rows))
    seconds = [row["seconds"] for row in rows]
    print(f"\n{len(rows)} runs, {np.mean(seconds):.2f} CPU s each (most {max(seconds):.2f} s)")


if __name__ == "__main__":
    main()
