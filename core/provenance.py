"""Where a run happened: the machine, the libraries and the data, for the run and report files."""

from __future__ import annotations

import importlib
import os
import platform
from pathlib import Path

import numpy as np

from core import data as data_module

CPUINFO = Path("/proc/cpuinfo")


def cpu_info() -> dict:
    """The CPU's model name and flags from /proc/cpuinfo (empty where there is none)."""
    try:
        text = CPUINFO.read_text()
    except OSError:
        return {"model": None, "flags": set()}
    model, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model is None:
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return {"model": model, "flags": flags}


def cpu_has_bf16() -> bool:
    """Whether the CPU has bfloat16 units (AVX-512 BF16 or AMX)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_info()["flags"])


def library_versions() -> dict:
    """Python, NumPy, Keras and the version of the Keras backend that trained."""
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
    return f"CPU: {cpu_info()['model'] or 'unknown CPU'}, {os.cpu_count()} cores"


def describe_source(source: str | None) -> dict:
    """The CIFAR-10 source of a run: the Keras download, or a local file with its sha256."""
    if source is None:
        return {"source": "keras.datasets.cifar10 (original CIFAR-10)"}
    path = Path(source)
    description = {"source": str(path)}
    if path.is_file():
        description["sha256"] = data_module.file_sha256(path)
    return description
