"""Fast inference for the app: a group of models in one compiled call, with logits and activation
maps."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.cam import class_activation_maps
from core.model import LAST_CONV_NAME, LOGITS_NAME


@dataclass
class Prediction:
    """One model's view of one composite."""

    logits: np.ndarray  # (10,) outputs before the last activation
    probabilities: np.ndarray  # (10,) sigmoid (or softmax) outputs
    maps: np.ndarray  # (h, w, 10) class activation maps


def sigmoid(logits):
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def softmax(logits):
    """Softmax over the last axis: the outputs share one unit of mass."""
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(shifted - shifted.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


ACTIVATIONS = {"sigmoid": sigmoid, "softmax": softmax}
ALL = "all"  # the Predictor's one group when it is given none


def output_of(model) -> str:
    """'sigmoid' or 'softmax': the activation of a `core.model` network's last layer."""
    from core.model import PROBABILITIES_NAME

    name = model.get_layer(PROBABILITIES_NAME).activation.__name__
    if name not in ACTIVATIONS:
        raise ValueError(f"The model ends in {name!r}, not in a sigmoid or a softmax.")
    return name


def one_thread_per_call() -> bool:
    """Run every TensorFlow call on the calling thread alone, as a server should: its cores are
    shared by many sessions, and a call spread over worker threads costs more CPU in all (the
    workers spin while they wait). Must come before TensorFlow runs its first operation; returns
    False, changing nothing, when that has already happened."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        return False
    return True


def load_trained_model(path: str | Path, output: str | None = None):
    """Load a `.keras` model for inference (no custom objects or optimizer needed), checked to be
    the network of `core.model` ending in `output` (when given); ValueError says what is wrong."""
    import keras

    model = keras.saving.load_model(Path(path), compile=False)
    check_architecture(model, output)
    return model


def check_architecture(model, output: str | None = None) -> None:
    """Raise ValueError unless `model` takes 64x64 RGB composites, gives 10 outputs and has the
    layers the Predictor reads (the last convolution block and the logits)."""
    from core.model import LAST_CONV_NAME, LOGITS_NAME

    names = {layer.name for layer in model.layers}
    missing = [name for name in (LAST_CONV_NAME, LOGITS_NAME) if name not in names]
    if missing:
        raise ValueError(f"it is not the network of core.model (no layer {', '.join(missing)})")
    if tuple(model.input_shape[1:]) != (64, 64, 3) or model.output_shape[-1] != 10:
        raise ValueError(
            f"it maps {model.input_shape[1:]} to {model.output_shape[-1]} outputs, "
            "not 64x64x3 composites to 10 classes"
        )
    if output is not None and output_of(model) != output:
        raise ValueError(f"it ends in a {output_of(model)}, the manifest says {output}")


class Predictor:
    """Runs several models with the same architecture on the same batch in one compiled call:
    one call per group of models (by default all of them), so that a page showing one group pays
    for that group alone."""

    def __init__(self, models: dict, groups: dict[str, list[str]] | None = None):
        if not models:
            raise ValueError("Predictor needs at least one model.")
        self.names = list(models)
        groups = {ALL: self.names} if groups is None else groups
        unknown = sorted({name for names in groups.values() for name in names} - set(models))
        if unknown:
            raise ValueError(f"Groups name models the Predictor was not given: {unknown}.")
        self.groups = {group: list(names) for group, names in groups.items() if names}
        self.kernels = {}
        self.outputs = {name: output_of(model) for name, model in models.items()}
        self._probes = {}
        for name, model in models.items():
            self._probes[name] = self._probe(model)
            self.kernels[name] = np.asarray(model.get_layer(LOGITS_NAME).kernel, dtype=np.float32)
        self._calls = {}  # group -> its compiled call, made on the group's first prediction
        self._lock = threading.Lock()
        self.calls = 0

    def _compiled(self, group: str):
        """The group's models in one call compiled with XLA, traced and compiled on the group's
        first use (a page that never shows a group never pays for it). A server may clear
        TensorFlow's kernel cache between requests (Streamlit calls
        `keras.backend.clear_session()` after every script run), which makes the next call of a
        plain `tf.function` rebuild its kernels (~140 ms instead of ~15 ms); an XLA executable
        survives it. Call with the lock held."""
        import tensorflow as tf

        call = self._calls.get(group)
        if call is None:
            combined = self._combined([self._probes[name] for name in self.groups[group]])
            call = tf.function(
                lambda pixels: combined(tf.cast(pixels, tf.float32), training=False),
                input_signature=[tf.TensorSpec((None, 64, 64, 3), tf.uint8)],
                jit_compile=True,
                autograph=False,
            )
            call(np.zeros((1, 64, 64, 3), np.uint8))  # traces and compiles
            self._calls[group] = call
        return call

    @property
    def compiled(self) -> list[str]:
        """The groups compiled so far."""
        return list(self._calls)

    def compile_all(self) -> None:
        """Compile every group now (a benchmark's or a warm-up's choice)."""
        with self._lock:
            for group in self.groups:
                self._compiled(group)

    @staticmethod
    def _probe(model):
        import keras

        return keras.Model(
            model.inputs,
            [model.get_layer(LAST_CONV_NAME).output, model.get_layer(LOGITS_NAME).output],
        )

    @staticmethod
    def _combined(probes: list):
        import keras

        pixels = keras.Input(shape=(64, 64, 3), name="pixels")
        outputs = [output for probe in probes for output in probe(pixels)]
        return keras.Model(pixels, outputs)

    def group_of(self, name: str) -> str:
        """The first group that holds model `name`."""
        for group, names in self.groups.items():
            if name in names:
                return group
        raise ValueError(f"No group holds the model {name!r}.")

    def predict(self, composites: np.ndarray, group: str | None = None):
        """(n, 64, 64, 3) pixels in 0..255 -> for each composite, {model name: Prediction} of
        the models of `group` (default: the first group)."""
        group = next(iter(self.groups)) if group is None else group
        if group not in self.groups:
            raise ValueError(f"Unknown group {group!r}; the groups are {list(self.groups)}.")
        composites = np.asarray(composites)
        if composites.ndim == 3:
            composites = composites[None]
        if composites.shape[1:] != (64, 64, 3):
            raise ValueError(f"composites must be (n, 64, 64, 3), got {composites.shape}.")
        pixels = np.clip(np.rint(composites), 0, 255).astype(np.uint8)
        with self._lock:
            call = self._compiled(group)
            self.calls += 1
            outputs = [np.asarray(o) for o in call(pixels)]
        results = [{} for _ in range(len(composites))]
        for position, name in enumerate(self.groups[group]):
            features, logits = outputs[2 * position], outputs[2 * position + 1]
            maps = class_activation_maps(features, self.kernels[name])
            probabilities = ACTIVATIONS[self.outputs[name]](logits)
            for index, result in enumerate(results):
                result[name] = Prediction(logits[index], probabilities[index], maps[index])
        return results
