"""The one list of models: `models/models.json`, loaded and checked.

The manifest names the training-data families and, for every model, its files, its loss, its
output activation, the family it was trained on and its colour. The app, `core.evaluate`,
`demo.figures` and the benchmarks read it; adding a model is one entry and its files.

    {
      "evaluation": "evaluation.json",
      "families": [{"data": "four-distinct", "title": "..."}, ...],
      "models": [{"name": "bce", "label": "BCE", "file": "bce.keras", "loss": "bce",
                  "output": "sigmoid", "data": "four-distinct", "colour": "#1565c0",
                  "history": "bce.history.json", "run": "bce.run.json", "start": "..."}, ...]
    }
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from core.data import COMPOSITE_KINDS
from core.kinds import KINDS

MANIFEST_NAME = "models.json"
# How the app names each ending and loss (the address's views are these): from the kinds' table.
LOSS_TITLES = {loss: kind.title for loss, kind in KINDS.items()}
DATA_KINDS = COMPOSITE_KINDS  # the training-data families: the kinds of composites
COLOUR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
REQUIRED = ("name", "label", "file", "loss", "output", "data", "colour")


class ManifestError(ValueError):
    """The manifest is missing, is not JSON, or describes models that cannot be right."""


@dataclass(frozen=True)
class ModelEntry:
    name: str  # unique key: the evaluation JSON and the URL use it
    label: str  # short, unique: chart legends and column heads
    file: Path  # the .keras file
    loss: str  # a key of core.kinds.KINDS: "bce", "cce", "softmax", ...
    output: str  # "sigmoid" or "softmax"
    data: str  # the training-data family: "four-distinct", "one-to-four" or "anywhere"
    colour: str  # "#rrggbb", the same on every chart
    history: Path | None = None  # per-epoch JSON written by core.train
    run: Path | None = None  # the run record written by core.train
    start: str = ""  # how the run started (scratch on a GPU, fine-tuned from ... on a CPU)

    @property
    def kind(self):
        """Its `core.kinds.Kind`: what its ending and loss are."""
        return KINDS[self.loss]

    @property
    def title(self) -> str:
        return f"{self.label} · {self.kind.title}"


@dataclass(frozen=True)
class Family:
    data: str
    title: str


@dataclass(frozen=True)
class Manifest:
    folder: Path
    families: tuple[Family, ...]
    models: tuple[ModelEntry, ...]
    evaluation: Path

    def by_name(self, name: str) -> ModelEntry:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)

    def in_family(self, data: str) -> list[ModelEntry]:
        return [model for model in self.models if model.data == data]

    def colours(self) -> dict[str, str]:
        """{label: colour} of every model, for chart legends."""
        return {model.label: model.colour for model in self.models}

    def labels(self) -> dict[str, str]:
        return {model.name: model.label for model in self.models}


def load_manifest(folder: str | Path, check_files: bool = False) -> Manifest:
    """Read and check `<folder>/models.json`. With `check_files`, every listed file must exist
    (the app does not ask: it reports a missing model file by itself and serves the others)."""
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise ManifestError(f"No model manifest at {path}: it lists the models.") from error
    except (OSError, ValueError) as error:
        raise ManifestError(f"The model manifest {path} is not readable JSON: {error}") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("models"), list):
        raise ManifestError(f"{path} must be an object with a list under 'models'.")
    families = tuple(parse_family(item, path) for item in raw.get("families", []))
    if not families:
        raise ManifestError(f"{path} names no training-data family under 'families'.")
    models = tuple(parse_model(item, folder, path) for item in raw["models"])
    check_unique(path, "family", [family.data for family in families])
    check_unique(path, "model name", [model.name for model in models])
    check_unique(path, "model label", [model.label for model in models])
    known = {family.data for family in families}
    for model in models:
        if model.data not in known:
            raise ManifestError(
                f"{path}: model {model.name!r} is of data family {model.data!r}, "
                f"which 'families' does not list."
            )
    manifest = Manifest(folder, families, models, folder / raw.get("evaluation", "evaluation.json"))
    if check_files:
        for model in models:
            for file in (model.file, model.history, model.run):
                if file is not None and not file.is_file():
                    raise ManifestError(f"{path}: model {model.name!r} lists {file}, not found.")
    return manifest


def parse_family(item, path: Path) -> Family:
    if not isinstance(item, dict) or item.get("data") not in DATA_KINDS:
        raise ManifestError(
            f"{path}: every family needs 'data', one of {', '.join(DATA_KINDS)}; got {item!r}."
        )
    return Family(item["data"], str(item.get("title", item["data"])))


def parse_model(item, folder: Path, path: Path) -> ModelEntry:
    if not isinstance(item, dict):
        raise ManifestError(f"{path}: every model is an object, got {item!r}.")
    missing = [key for key in REQUIRED if not isinstance(item.get(key), str)]
    where = f"{path}: model {item.get('name', '?')!r}"
    if missing:
        raise ManifestError(f"{where} lacks {', '.join(missing)} (text).")
    if not NAME_PATTERN.match(item["name"]):
        raise ManifestError(f"{where}: a name is lower-case letters, digits, '.', '-' and '_'.")
    if item["loss"] not in KINDS:
        raise ManifestError(f"{where}: unknown loss; one of {', '.join(KINDS)}.")
    if item["output"] != KINDS[item["loss"]].output:
        raise ManifestError(
            f"{where}: loss {item['loss']!r} trains a {KINDS[item['loss']].output} output, "
            f"not {item['output']!r}."
        )
    if item["data"] not in DATA_KINDS:
        raise ManifestError(
            f"{where}: unknown data {item['data']!r}; one of {', '.join(DATA_KINDS)}."
        )
    if not COLOUR_PATTERN.match(item["colour"]):
        raise ManifestError(f"{where}: colour must be '#rrggbb', got {item['colour']!r}.")
    optional = {key: folder / item[key] if item.get(key) else None for key in ("history", "run")}
    return ModelEntry(
        name=item["name"],
        label=item["label"],
        file=folder / item["file"],
        loss=item["loss"],
        output=item["output"],
        data=item["data"],
        colour=item["colour"],
        start=str(item.get("start", "")),
        **optional,
    )


def check_unique(path: Path, what: str, values: list[str]) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise ManifestError(f"{path}: the {what} {value!r} appears twice.")
        seen.add(value)
