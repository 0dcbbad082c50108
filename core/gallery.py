"""The small gallery of CIFAR-10 test images the app composes from, shipped in `assets/`.

python -m core.gallery --data ../shared/data/cifar10-jpeg.tar.gz --per-class 30
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from core import data as data_module

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "assets" / "gallery.npz"


def build_gallery(images, labels, per_class: int, seed: int = 0):
    """`per_class` random images of every class, sorted by class: (images, labels, indices)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in range(data_module.NUM_CLASSES):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise ValueError(f"Only {len(members)} images of class {label}; need {per_class}.")
        chosen.append(np.sort(rng.choice(members, per_class, replace=False)))
    indices = np.concatenate(chosen)
    return images[indices], labels[indices], indices


def load_gallery(path: str | Path = DEFAULT_PATH) -> dict[int, np.ndarray]:
    """{class index: (m, 32, 32, 3) uint8 images}; `ValueError` if the file is unusable."""
    path = Path(path)
    try:
        with np.load(path) as stored:
            images, labels = stored["images"], stored["labels"]
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"Cannot read the image gallery {str(path)!r}: {error}") from error
    if images.ndim != 4 or images.shape[1:] != (32, 32, 3) or len(images) != len(labels):
        raise ValueError(f"The image gallery {str(path)!r} has unexpected shapes.")
    gallery = {label: images[labels == label] for label in range(data_module.NUM_CLASSES)}
    empty = [data_module.CLASS_NAMES[c] for c, group in gallery.items() if len(group) == 0]
    if empty:
        raise ValueError(f"The image gallery {str(path)!r} has no {', '.join(empty)} images.")
    return gallery


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="CIFAR-10 folder or tarball (default: Keras)")
    parser.add_argument("--per-class", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(DEFAULT_PATH))
    args = parser.parse_args(argv)
    _, (x_test, y_test) = data_module.load_cifar10(args.data)
    images, labels, indices = build_gallery(x_test, y_test, args.per_class, args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=images, labels=labels, test_indices=indices)
    print(f"Wrote {len(images)} CIFAR-10 test images to {args.out}")


if __name__ == "__main__":
    main()
