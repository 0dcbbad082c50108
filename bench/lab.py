"""The loss lab's costs (not a test): CPU seconds of one training run, and what a class of
students pressing Train at once does to a cheap request running beside them.

    OPENBLAS_NUM_THREADS=1 python bench/lab.py [--runs 12] [--students 30]

1. One run: `core.lab.train_last_layer` on the shipped features, each loss in turn, measured
   with the process's CPU clock (every thread counted), so the figure is core-seconds.
2. A class: `--students` threads each press Train once through the page's training slots
   (`demo.app_pages.lab.train_when_free`, whose waiting releases the GIL), while one more thread
   times a small NumPy request every 10 ms: its slowest answer is what the rest of a page waits.
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np

from core import lab
from core.kinds import KINDS
from core.lab_features import load_features


def one_run_seconds(features, runs: int) -> list[float]:
    seconds = []
    for index in range(runs):
        loss = list(KINDS)[index % len(KINDS)]
        started = time.process_time()
        lab.train_last_layer(lab.LabConfig(loss), features)
        seconds.append(time.process_time() - started)
    return seconds


def class_pressing_train(features, students: int) -> dict:
    """Trained, refused as busy, and the slowest and median beside-request time in seconds."""
    from demo.app_pages import lab as lab_page

    slots = threading.BoundedSemaphore(lab_page.TRAINING_SLOTS)
    lab_page.training_slots = lambda: slots  # outside Streamlit: the same slots, uncached
    results, beside, done = [], [], threading.Event()

    def student():
        results.append(lab_page.train_when_free(lab.LabConfig(), features) is not None)

    def request():
        while not done.is_set():
            started = time.perf_counter()
            np.sort(np.random.default_rng(0).random(20_000))
            beside.append(time.perf_counter() - started)
            time.sleep(0.01)

    threads = [threading.Thread(target=student) for _ in range(students)]
    watcher = threading.Thread(target=request)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    return {
        "trained": sum(results),
        "busy": len(results) - sum(results),
        "slowest_beside": max(beside),
        "median_beside": float(np.median(beside)),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--students", type=int, default=30)
    args = parser.parse_args(argv)
    features = load_features()["one-to-four"]
    seconds = one_run_seconds(features, args.runs)
    print(f"one run: {np.mean(seconds):.3f} core-s mean, {max(seconds):.3f} most ({args.runs})")
    tally = class_pressing_train(features, args.students)
    print(
        f"{args.students} students at once: {tally['trained']} trained, {tally['busy']} told "
        f"busy; a request beside them: median {tally['median_beside'] * 1e3:.1f} ms, slowest "
        f"{tally['slowest_beside'] * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
