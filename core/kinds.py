"""The one table of model kinds: for every loss a model can be trained with, its ending.

The trainer's `--loss` choices, the manifest's check of a model's output, the app's views and
titles and the loss lab all read `KINDS`; adding a loss is one entry here (with its Keras loss
in `core.losses` and its NumPy value and gradient in `core.lab_losses`).

A question about a model is asked of its kind, never of its loss's name: `kind.categorical`
(trained with a categorical cross-entropy, whose least value with k true labels is k ln k),
`kind.shares_one_unit` (its outputs sum to 1), `kind.scale_free` (only the outputs' ratios
count, so nothing ties them to the 0.5 threshold).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core import lab_losses

SIGMOID, SOFTMAX = "sigmoid", "softmax"  # the two endings of core.model


@dataclass(frozen=True)
class Kind:
    output: str  # the last activation: "sigmoid" (independent outputs) or "softmax"
    title: str  # the ending and the loss, in words
    short: str  # a few letters for buttons, legends and "<short> only"
    categorical: bool  # trained with a categorical cross-entropy
    keras_loss: str  # the name of its loss function in `core.losses`
    lab_loss: Callable  # (y, logits) -> (loss per sample, d loss / d logits), in NumPy

    @property
    def shares_one_unit(self) -> bool:
        """Whether the outputs share one unit of mass (a softmax): they compete."""
        return self.output == SOFTMAX

    @property
    def scale_free(self) -> bool:
        """Whether only the outputs' ratios count: a categorical loss on independent sigmoids."""
        return self.categorical and not self.shares_one_unit

    def training_loss(self) -> Callable:
        """The Keras loss function (imported on demand: Keras is slow to import)."""
        from core import losses

        return getattr(losses, self.keras_loss)


KINDS = {
    "bce": Kind(
        output=SIGMOID,
        title="sigmoids + binary cross-entropy",
        short="BCE",
        categorical=False,
        keras_loss="binary_loss",
        lab_loss=lab_losses.sigmoid_bce,
    ),
    "cce": Kind(
        output=SIGMOID,
        title="sigmoids + categorical cross-entropy",
        short="CCE",
        categorical=True,
        keras_loss="categorical_loss",
        lab_loss=lab_losses.sigmoid_cce,
    ),
    # The textbook multi-class model; on outputs that already sum to 1, `categorical_loss` is
    # the plain formula.
    "softmax": Kind(
        output=SOFTMAX,
        title="softmax + categorical cross-entropy",
        short="softmax",
        categorical=True,
        keras_loss="categorical_loss",
        lab_loss=lab_losses.softmax_cce,
    ),
    "mse": Kind(
        output=SIGMOID,
        title="sigmoids + squared error",
        short="MSE",
        categorical=False,
        keras_loss="squared_loss",
        lab_loss=lab_losses.sigmoid_mse,
    ),
    "focal": Kind(
        output=SIGMOID,
        title="sigmoids + focal loss (gamma 2)",
        short="focal",
        categorical=False,
        keras_loss="focal_loss",
        lab_loss=lab_losses.sigmoid_focal,
    ),
    "asl": Kind(
        output=SIGMOID,
        title="sigmoids + asymmetric loss (ASL)",
        short="ASL",
        categorical=False,
        keras_loss="asymmetric_loss",
        lab_loss=lab_losses.sigmoid_asl,
    ),
}


def kind_of(loss: str) -> Kind:
    """The kind of a loss name; ValueError naming the known ones otherwise."""
    if loss not in KINDS:
        raise ValueError(f"loss must be one of {', '.join(KINDS)}, got {loss!r}.")
    return KINDS[loss]
