"""The loss lab's features: what a shipped model's frozen trunk sees in composites, computed once.

    python -m core.lab_features --data path/to/cifar10 [--train 4000 --test 1000]

The network ends in GlobalAveragePooling (256 numbers per composite) and one Dense layer. The lab
trains only that last layer, so every run needs the same pooled features; computing them costs a
minute and a half of CPU, far too much per student, so they are computed here once per data
family and shipped as float16 in `assets/lab-features.npz`. Each family's features come from the
trunk of that family's BCE model (`TRUNKS`), on training and test composites drawn from two
halves of CIFAR's test images, which no trunk was trained on (`lab_image_split`).

A few test composites travel as pixels too, so the lab can show one while its outputs move.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import data as data_module

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "assets" / "lab-features.npz"
TRUNKS = {data_module.FOUR_DISTINCT: "bce", data_module.ONE_TO_FOUR: "bce-one-to-four"}
POOL_NAME = "global_pool"
FEATURE_SIZE = 256
SHOWN_COMPOSITES = 8  # test composites kept as pixels, to show beside their outputs
TRAIN_SEED = 25  # seeds the split of the images and the training composites


@dataclass(frozen=True)
class FamilyFeatures:
    """One data family's pooled features: float32 in memory, float16 on disk."""

    data: str  # the data family: "four-distinct" or "one-to-four"
    trunk: str  # the manifest name of the model whose frozen trunk computed them
    x_train: np.ndarray  # (n, 256)
    y_train: np.ndarray  # (n, 10) multi-hot
    x_test: np.ndarray
    y_test: np.ndarray
    shown_pixels: np.ndarray  # (SHOWN_COMPOSITES, 64, 64, 3) uint8: the first test composites


def pooled_features(model, composites: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The 256 GlobalAveragePooling outputs of `model` for each composite, float32."""
    import keras

    trunk = keras.Model(model.input, model.get_layer(POOL_NAME).output)
    return np.asarray(trunk.predict(composites, batch_size=batch_size, verbose=0), np.float32)


def family_features(model, trunk: str, data: str, arrays, train: int, test: int):
    """`FamilyFeatures` of `train` + `test` composites of family `data` through `model`, drawn
    from two halves of CIFAR's test images (`lab_image_split`)."""
    _, (images, labels) = arrays
    train_images, test_images = lab_image_split(labels)
    seed = list(TRUNKS).index(data)
    train_pixels, train_labels = data_module.draw_composites(
        images[train_images], labels[train_images], train, [TRAIN_SEED, seed], data
    )
    test_pixels, test_labels = data_module.draw_composites(
        images[test_images], labels[test_images], test, [data_module.TEST_SEED, seed], data
    )
    return FamilyFeatures(
        data=data,
        trunk=trunk,
        x_train=pooled_features(model, train_pixels),
        y_train=train_labels,
        x_test=pooled_features(model, test_pixels),
        y_test=test_labels,
        shown_pixels=test_pixels[:SHOWN_COMPOSITES],
    )


def lab_image_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(training, test) indices: CIFAR's test images in two class-balanced halves.

    The trunks memorised their training images (~99% exact match on them), so features of
    those are far more confident than a new picture's: a last layer trained on them would
    answer the test composites with outputs too small, its best threshold well below 0.5.
    Both halves here are images no trunk was trained on, so training and test features are
    alike, as they are for a new picture.
    """
    from core.recipes import hold_out

    return hold_out(labels, len(labels) // 2, TRAIN_SEED)


def save_features(families: list[FamilyFeatures], path: str | Path = DEFAULT_PATH) -> None:
    """One compressed .npz: `<family>/<field>` arrays, features as float16, labels as uint8."""
    arrays = {}
    for family in families:
        arrays[f"{family.data}/trunk"] = np.array(family.trunk)
        for name in ("x_train", "x_test"):
            arrays[f"{family.data}/{name}"] = getattr(family, name).astype(np.float16)
        for name in ("y_train", "y_test"):
            arrays[f"{family.data}/{name}"] = getattr(family, name).astype(np.uint8)
        arrays[f"{family.data}/shown_pixels"] = family.shown_pixels.astype(np.uint8)
    path = Path(path)
    partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(partial, **arrays)
    os.replace(partial, path)


def load_features(path: str | Path = DEFAULT_PATH) -> dict[str, FamilyFeatures]:
    """{data family: FamilyFeatures} from `save_features`' file; ValueError when it is not one."""
    try:
        with np.load(path) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"The lab's features {path} cannot be read: {error}") from error
    families = sorted({name.split("/")[0] for name in arrays})
    try:
        return {data: unpacked(arrays, data) for data in families}
    except KeyError as error:
        raise ValueError(f"The lab's features {path} lack {error}.") from error


def unpacked(arrays: dict, data: str) -> FamilyFeatures:
    def field(name, dtype):
        return arrays[f"{data}/{name}"].astype(dtype)

    return FamilyFeatures(
        data=data,
        trunk=str(arrays[f"{data}/trunk"]),
        x_train=field("x_train", np.float32),
        y_train=field("y_train", np.float32),
        x_test=field("x_test", np.float32),
        y_test=field("y_test", np.float32),
        shown_pixels=field("shown_pixels", np.uint8),
    )


def main(argv=None) -> None:
    from core.evaluate import recorded_source
    from core.inference import load_trained_model
    from core.manifest import load_manifest

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="models", help="the folder of models.json")
    parser.add_argument("--data", help="CIFAR-10 folder or tarball (default: the trunks' own)")
    parser.add_argument("--train", type=int, default=4_000, help="training composites per family")
    parser.add_argument("--test", type=int, default=1_000, help="test composites per family")
    parser.add_argument("--out", default=str(DEFAULT_PATH))
    args = parser.parse_args(argv)
    manifest = load_manifest(args.models)
    families = []
    for data, name in TRUNKS.items():
        entry = manifest.by_name(name)
        source = args.data if args.data is not None else recorded_source(entry.run)
        arrays = data_module.load_cifar10(source)
        model = load_trained_model(entry.file, entry.output)
        families.append(family_features(model, name, data, arrays, args.train, args.test))
        print(f"{data}: {args.train} + {args.test} composites through {entry.file.name}")
    save_features(families, args.out)
    print(f"Wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
