"""A training run's configuration: the two recipes, how long a run lasts, the validation split."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core import data as data_module
from core.kinds import KINDS, kind_of

FAST = "fast"
ARTICLE = "article"
INIT_SCRATCH, INIT_RESUME, INIT_RESTART = "scratch", "resume", "restart"
# Options a warm restart (`--init-from restart`) may change; everything else stays the run's.
RESTART_OPTIONS = ("weight_decay", "max_shift", "restart_peak_fraction")
LENGTH_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(epochs?|min)\s*$")


@dataclass
class TrainConfig:
    loss: str = "bce"  # a kind of `core.kinds.KINDS`: "bce" (sigmoids, summed binary
    # cross-entropy), "cce" (sigmoids, categorical cross-entropy: the article's), "softmax", ...
    composites: str = data_module.FOUR_DISTINCT  # "four-distinct" (the article's),
    # "one-to-four" (one to four objects, the other quadrants empty) or "anywhere" (objects of
    # any size at any place, a mix of layouts that includes the article's grid)
    recipe: str = FAST  # "fast" (fresh composites, one-cycle AdamW) or "article" (fixed set, SGD)
    epochs: int | None = 8  # run length in passes of `composites_per_epoch` composites, or ...
    minutes: float | None = None  # ... in minutes of training: the fast recipe's learning rate
    # then follows the clock over one cycle; the article's stops before an epoch that would end
    # past them. Exactly one of the two is set.
    batch_size: int = 128  # composites per step ("article" uses 256)
    composites_per_epoch: int = 50_000  # the article's training set size
    learning_rate: float = 3e-3  # peak learning rate ("article": 0.01, constant)
    weight_decay: float = 0.05  # decoupled AdamW weight decay (fast recipe only)
    warmup_fraction: float = 0.2  # share of the cycle spent ramping up the learning rate
    restart_peak_fraction: float = 0.3  # a warm restart's peak, as a fraction of learning_rate
    augment: bool = True  # per-tile flip and shift (fast recipe only)
    max_shift: int = 2  # largest per-tile shift in pixels (4 is CIFAR's usual pad-and-crop)
    validation_images: int = 2_000  # CIFAR train images held out (balanced) for validation
    validation_composites: int = 2_000  # composites drawn from the held-out images
    seed: int = 0  # seeds weights, composites, the hold-out and the augmentation
    precision: str = "auto"  # "auto" (bfloat16 on a GPU or a CPU with bf16 units), "bfloat16",
    # or "float32"
    data_workers: int = 1  # threads drawing training composites (a GPU needs several)
    data: str | None = None  # CIFAR-10 source path; None downloads through Keras
    name: str | None = None  # output name, default the loss
    out: str = "models"  # output folder

    def __post_init__(self):
        kind_of(self.loss)  # raises ValueError naming the known losses
        if self.composites not in data_module.COMPOSITE_KINDS:
            kinds = ", ".join(data_module.COMPOSITE_KINDS)
            raise ValueError(f"composites must be one of {kinds}: {self.composites!r}")
        if self.recipe not in (FAST, ARTICLE):
            raise ValueError(f"recipe must be '{FAST}' or '{ARTICLE}', got {self.recipe!r}.")
        if self.precision not in ("auto", "bfloat16", "float32"):
            raise ValueError(f"precision must be auto, bfloat16 or float32: {self.precision!r}.")
        largest_shift = data_module.TILE_SIZE // 2 - 1
        if not 0 <= self.max_shift <= largest_shift:
            raise ValueError(f"max_shift must be 0..{largest_shift} pixels, got {self.max_shift}.")
        if (self.epochs is None) == (self.minutes is None):
            raise ValueError("Give the run's length either in epochs or in minutes, not both.")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs must be positive, got {self.epochs}.")
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"minutes must be positive, got {self.minutes}.")
        if self.batch_size < 1 or self.composites_per_epoch < 1:
            raise ValueError("batch_size and composites_per_epoch must be positive.")
        if self.data_workers < 1:
            raise ValueError(f"data_workers must be at least 1, got {self.data_workers}.")
        if self.name is None:
            self.name = self.loss

    @property
    def output(self) -> str:
        """The model's last activation, as its kind says: sigmoids or a softmax."""
        return KINDS[self.loss].output

    @property
    def follows_the_clock(self) -> bool:
        """Whether the fast recipe's learning rate follows the clock (a length in minutes)."""
        return self.recipe == FAST and self.minutes is not None


def article_config(**overrides) -> TrainConfig:
    """The article's recipe: a fixed set of 50k composites, SGD lr 0.01 momentum 0.9, batch 256."""
    settings = dict(recipe=ARTICLE, batch_size=256, learning_rate=0.01, augment=False)
    settings.update(overrides)
    return TrainConfig(**settings)


def parse_length(text: str) -> dict:
    """'6epochs' or '6 epochs' -> {"epochs": 6, "minutes": None}; '45min' -> minutes 45.0."""
    match = LENGTH_PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"A run's length is a number of epochs or minutes, e.g. 6epochs or 45min; got {text!r}."
        )
    number, unit = match.groups()
    if unit.startswith("epoch"):
        if not float(number).is_integer():
            raise ValueError(f"A number of epochs is whole, got {number}.")
        return {"epochs": int(float(number)), "minutes": None}
    return {"epochs": None, "minutes": float(number)}


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
