"""What every view of the page draws from, gathered once per run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageContext:
    """The models and the address's choices that the free page, a lesson step and a class room
    share."""

    folder: str  # where the models and their manifest are
    manifest: object  # core.manifest.Manifest
    predictor: object | None  # every model that loaded, or None when none did
    signature: tuple  # the models' files as they are now: a key for cached predictions
    hidden: frozenset[str]  # the controls `?hide=` leaves out
    model_errors: dict[str, str]  # {model name: why it did not load}
