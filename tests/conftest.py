"""Shared fixtures: small generated CIFAR-like data in every supported layout."""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from core.data import CLASS_NAMES  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_CIFAR = REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MULTILABEL_CACHE", str(tmp_path_factory.mktemp("cache")))


def tiny_arrays(per_class_train=3, per_class_test=2, seed=0):
    """Random 32x32 RGB images whose top-left pixel encodes (split, class, index)."""
    rng = np.random.default_rng(seed)

    def split(per_class, split_id):
        images = rng.integers(0, 256, size=(10 * per_class, 32, 32, 3), dtype=np.uint8)
        labels = np.repeat(np.arange(10), per_class)
        images[:, 0, 0, 0] = split_id
        images[:, 0, 0, 1] = labels
        images[:, 0, 0, 2] = np.tile(np.arange(per_class), 10)
        return images, labels

    return split(per_class_train, 1), split(per_class_test, 2)


def write_class_folders(root: Path, arrays, suffix=".png"):
    from PIL import Image

    for split_name, (images, labels) in zip(("train", "test"), arrays, strict=True):
        counters = {}
        for image, label in zip(images, labels, strict=True):
            folder = root / split_name / CLASS_NAMES[label]
            folder.mkdir(parents=True, exist_ok=True)
            index = counters.get(label, 0)
            counters[label] = index + 1
            Image.fromarray(image).save(folder / f"{index:04d}{suffix}")
    return root


def write_batches(root: Path, arrays):
    root.mkdir(parents=True, exist_ok=True)
    (train_images, train_labels), (test_images, test_labels) = arrays
    chunks = np.array_split(np.arange(len(train_images)), 5)
    for number, chunk in enumerate(chunks, start=1):
        batch = {
            b"data": train_images[chunk].transpose(0, 3, 1, 2).reshape(len(chunk), -1),
            b"labels": train_labels[chunk].tolist(),
        }
        (root / f"data_batch_{number}").write_bytes(pickle.dumps(batch))
    test = {
        b"data": test_images.transpose(0, 3, 1, 2).reshape(len(test_images), -1),
        b"labels": test_labels.tolist(),
    }
    (root / "test_batch").write_bytes(pickle.dumps(test))
    return root


def make_tarball(folder: Path, archive: Path, arcname: str) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=arcname)
    return archive


def add_bytes_to_tar(tar: tarfile.TarFile, name: str, payload: bytes):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


@pytest.fixture
def arrays():
    return tiny_arrays()


FAMILIES = [
    {"data": "four-distinct", "title": "The article's: always four distinct classes"},
    {"data": "one-to-four", "title": "One to four objects"},
]
TEST_COLOURS = ("#1565c0", "#ad1457", "#2e7d32", "#64b5f6", "#f06292", "#81c784", "#6d4c41")


def manifest_entry(name: str, loss: str, data: str, colour: str, label: str | None = None):
    """One model of a test manifest, its files named after it."""
    return {
        "name": name,
        "label": label or name,
        "file": f"{name}.keras",
        "loss": loss,
        "output": "softmax" if loss == "softmax" else "sigmoid",
        "data": data,
        "colour": colour,
        "history": f"{name}.history.json",
        "run": f"{name}.run.json",
    }


def write_manifest(folder: Path, entries: list[dict]) -> Path:
    import json

    path = folder / "models.json"
    path.write_text(
        json.dumps(
            {"evaluation": "evaluation.json", "families": FAMILIES, "models": entries}, indent=1
        )
    )
    return path
