"""Shared fixtures: small generated CIFAR-like data in every supported layout."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from core.data import CLASS_NAMES  # noqa: E402
from core.kinds import KINDS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_CIFAR = REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"


def free_port() -> int:
    """A loopback port nobody listens on now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MULTILABEL_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def restored_main_module():
    """Streamlit's script runner puts the page's module in sys.modules["__main__"] and leaves
    it there; a process a later test spawns would run that page (or a deleted temporary
    script) as its main module. Each test gets back the runner's own."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


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
    {"data": "anywhere", "title": "Objects anywhere, at any size"},
]
TEST_COLOURS = (
    "#1565c0",
    "#ad1457",
    "#2e7d32",
    "#64b5f6",
    "#f06292",
    "#81c784",
    "#6d4c41",
    "#ff8f00",
)


def manifest_entry(name: str, loss: str, data: str, colour: str, label: str | None = None):
    """One model of a test manifest, its files named after it."""
    return {
        "name": name,
        "label": label or name,
        "file": f"{name}.keras",
        "loss": loss,
        "output": KINDS[loss].output,
        "data": data,
        "colour": colour,
        "history": f"{name}.history.json",
        "run": f"{name}.run.json",
    }


def write_manifest(folder: Path, entries: list[dict]) -> Path:

    path = folder / "models.json"
    path.write_text(
        json.dumps(
            {"evaluation": "evaluation.json", "families": FAMILIES, "models": entries}, indent=1
        )
    )
    return path


SIX = [
    ("bce", "bce", "four-distinct", "BCE"),
    ("cce", "cce", "four-distinct", "CCE"),
    ("softmax", "softmax", "four-distinct", "softmax"),
    ("bce-one-to-four", "bce", "one-to-four", "BCE 1-4"),
    ("cce-one-to-four", "cce", "one-to-four", "CCE 1-4"),
    ("softmax-one-to-four", "softmax", "one-to-four", "softmax 1-4"),
]
# The fixture's models: the six, and one BCE model of the family that answers photos.
MODELS = [*SIX, ("bce-anywhere", "bce", "anywhere", "BCE any")]


def save_models(folder, specs, zero_logits=False) -> dict:
    """Untrained models of the real architecture with their manifest and history JSON."""
    import keras

    from core.model import LOGITS_NAME, build_model

    keras.utils.set_random_seed(0)
    models, entries = {}, []
    for index, (name, loss, data, label) in enumerate(specs):
        model = build_model(output=KINDS[loss].output)
        if zero_logits:
            logits = model.get_layer(LOGITS_NAME)
            logits.set_weights([np.zeros_like(w) for w in logits.get_weights()])
        model.save(folder / f"{name}.keras")
        models[name] = model
        history = {"epoch": [1, 2]}
        for key in ("loss", "total_acc", "binary_acc"):
            history[key] = [0.5, 0.4]
            history[f"val_{key}"] = [0.6, 0.5]
        (folder / f"{name}.history.json").write_text(json.dumps(history))
        entries.append(manifest_entry(name, loss, data, TEST_COLOURS[index], label))
    write_manifest(folder, entries)
    return models


@pytest.fixture(scope="session")
def fixture_models(tmp_path_factory):
    """Seven untrained models (three losses on two kinds of data, and BCE on objects anywhere),
    their evaluation JSON."""
    from core.evaluate import build_report, test_sets

    folder = tmp_path_factory.mktemp("models")
    models = save_models(folder, MODELS)
    _, (x_test, y_test) = tiny_arrays(per_class_test=3)
    sets = test_sets(x_test, y_test, seed=0, n=40, subset_n=10)
    losses = {name: loss for name, loss, _, _ in MODELS}
    report = build_report(models, losses, sets, {"source": "tiny"}, 0)
    (folder / "evaluation.json").write_text(json.dumps(report))
    return folder


@pytest.fixture(scope="session")
def undecided_models(tmp_path_factory):
    """Two sigmoid models whose every output is exactly 0.5: zero kernel and bias at the end."""
    folder = tmp_path_factory.mktemp("undecided")
    save_models(folder, SIX[:2], zero_logits=True)
    return folder


APP_TIMEOUT = 180  # seconds: TensorFlow's import and the models' compilation come first


def start_app(app: str, folder, monkeypatch, query=None):
    """An AppTest of `app` on the models in `folder`, opened with the `query` parameters."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MULTILABEL_MODELS_DIR", str(folder))
    at = AppTest.from_file(app, default_timeout=APP_TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped test fails: a missing install step (Chromium, HAProxy, Redis)
    must not pass green."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which runs everything: {reason}"


@contextlib.contextmanager
def streamlit_server(log: Path, env: dict | None = None):
    """`streamlit run demo/app.py` on a free loopback port; yields its URL once healthy."""
    port = free_port()
    with open(log, "w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "demo/app.py",
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
            ],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while not healthy(url):
            if time.time() > deadline or process.poll() is not None:
                pytest.fail(f"streamlit did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextlib.contextmanager
def app_served_in(folder: Path):
    """`streamlit_server` with the app's data (its class rooms) in `folder`, its log there."""
    with streamlit_server(folder / "streamlit.log", {"MULTILABEL_DATA_DIR": str(folder)}) as url:
        yield url


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except OSError:
        return False


CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"  # screenshots of the browser tests, to look at
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
BROWSER_TEST = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, headless, driven by Playwright (which never downloads a browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


DECISIONS_COMPONENT = "multilabel.decisions"


def decision_panels(at) -> list[dict]:
    """The data of every decisions panel an AppTest run drew (what the browser decides from)."""
    import json

    return [
        json.loads(element.proto.json)
        for element in at.get("bidi_component")
        if element.proto.component_name == DECISIONS_COMPONENT
    ]


def shown_models(at) -> list[str]:
    """The labels of the models the page's decisions panels show, in order."""
    return [model["label"] for panel in decision_panels(at) for model in panel["models"]]


def predicted_sets(panel: dict) -> list[list[str]]:
    """Each model's predicted classes under the panel's rule, by `core.evaluation`: what the
    browser must show (the browser tests check it does)."""
    import numpy as np

    from core import evaluation

    sets = []
    for model in panel["models"]:
        outputs = np.asarray(model["outputs"])
        if panel["top_k"]:
            decided = evaluation.top_k(outputs[None], panel["top_k"])[0]
        else:
            decided = evaluation.decide(outputs, panel["threshold"])
        sets.append(
            [name for name, chosen in zip(panel["classes"], decided, strict=True) if chosen]
        )
    return sets
