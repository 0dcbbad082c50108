"""Evaluate trained models on the seeded 10k test composites, beside the article's numbers.

    python -m core.evaluate models/bce.keras models/cce.keras
    python -m core.evaluate models/bce.keras --data ../shared/data/cifar10-jpeg.tar.gz

Without `--data`, the CIFAR-10 source recorded in the first model's `.run.json` is used when it
exists on this machine (so the shipped numbers reproduce), otherwise the Keras download.

Prints a table and writes `models/evaluation.json` (per model: the headline metrics at 0.5,
per-class scores, mAP, the threshold sweep, exact match by number of distinct classes, and on
composites with one to four objects by the number of objects).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from core import data as data_module
from core import evaluation

SUBSET_COMPOSITES = 2_000  # composites per extra set (k distinct classes, repeats allowed)
ONE_TO_FOUR = "one_to_four"  # the set of composites with 1-4 objects and empty quadrants


def predict(model, images: np.ndarray, batch_size: int = 256, verbose: int | str = 0):
    return np.asarray(model.predict(images, batch_size=batch_size, verbose=verbose), np.float32)


def test_sets(
    x_test,
    y_test,
    seed: int = data_module.TEST_SEED,
    n: int = data_module.TEST_COMPOSITES,
    subset_n: int = SUBSET_COMPOSITES,
):
    """The headline test set and the extra sets, all drawn from the CIFAR test split."""
    sets = {"test": data_module.make_composites(x_test, y_test, n, seed=seed)}
    for distinct in (1, 2, 3):
        sets[f"distinct_{distinct}"] = data_module.make_composites(
            x_test, y_test, subset_n, seed=[seed, distinct], distinct=distinct
        )
    sets["repeats_allowed"] = data_module.make_composites(
        x_test, y_test, subset_n, seed=[seed, 9], distinct=None
    )
    # One to four objects, the other quadrants empty, balanced over the count: as many as the
    # headline set.
    sets[ONE_TO_FOUR] = data_module.make_object_composites(x_test, y_test, n, seed=[seed, 14])
    return sets


def evaluate_model(model, sets, verbose: int | str = 0) -> dict:
    x, y, _ = sets["test"]
    scores = predict(model, x, verbose=verbose)
    report = evaluation.summarize(y, scores)
    report["threshold_sweep"] = evaluation.threshold_sweep(y, scores)
    report["best_threshold"] = evaluation.best_threshold(report["threshold_sweep"])
    report["by_set"] = {}
    for name, (x_extra, y_extra, *_) in sets.items():
        if name == "test":
            continue
        extra_scores = predict(model, x_extra)
        decisions = evaluation.decide(extra_scores)
        report["by_set"][name] = {
            "exact_match": evaluation.exact_match(y_extra, decisions),
            "per_label_accuracy": evaluation.per_label_accuracy(y_extra, decisions),
            "mean_average_precision": evaluation.mean_average_precision(y_extra, extra_scores),
        }
        if name == ONE_TO_FOUR:
            counts = sets[ONE_TO_FOUR][3]
            report["by_set"][name]["by_objects"] = evaluation.by_object_count(
                y_extra, decisions, counts
            )
    return report


def build_report(models: dict, losses: dict, sets, data: dict, seed: int, verbose=0) -> dict:
    """The evaluation JSON: baselines, the article's numbers and a report per model."""
    results = {
        "data": data,
        "test_seed": seed,
        "test_composites": len(sets["test"][0]),
        "baselines": evaluation.baselines(sets["test"][1]),
        "article": evaluation.ARTICLE_RESULTS,
        "models": {},
    }
    for name, model in models.items():
        started = time.time()
        report = evaluate_model(model, sets, verbose=verbose)
        report["loss"] = losses[name]
        report["seconds"] = time.time() - started
        results["models"][name] = report
    return results


def format_table(results: dict) -> str:
    lines = [
        f"{'model':<12}{'exact match':>13}{'per-label':>11}{'micro F1':>10}{'macro F1':>10}"
        f"{'mAP':>8}{'article EM':>12}{'article PL':>12}"
    ]
    for name, report in results["models"].items():
        article = evaluation.ARTICLE_RESULTS.get(report["loss"], {})
        lines.append(
            f"{name:<12}{report['exact_match']:>13.2%}{report['per_label_accuracy']:>11.2%}"
            f"{report['micro_f1']:>10.3f}{report['macro_f1']:>10.3f}"
            f"{report['mean_average_precision']:>8.3f}"
            f"{article.get('exact_match', float('nan')):>12.2%}"
            f"{article.get('per_label_accuracy', float('nan')):>12.2%}"
        )
    base = results["baselines"]
    lines.append(
        f"{'baselines':<12}{base['chance_exact_match']:>13.2%}"
        f"{base['all_negative_per_label']:>11.2%}   (chance exact match, all-negative per-label)"
    )
    return "\n".join(lines)


def recorded_source(path: Path) -> str | None:
    """The data source a model was trained on, from its `.run.json`, if it exists here."""
    run_file = path.with_name(path.stem + ".run.json")
    try:
        source = json.loads(run_file.read_text())["data"]["source"]
    except (OSError, ValueError, KeyError):
        return None
    return source if Path(source).exists() else None


def loss_of(path: Path) -> str:
    run_file = path.with_name(path.stem + ".run.json")
    if run_file.exists():
        try:
            return json.loads(run_file.read_text())["config"]["loss"]
        except (ValueError, KeyError):
            pass
    return "cce" if "cce" in path.stem else "bce"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help=".keras files")
    parser.add_argument("--data", default=None, help="CIFAR-10 folder or tarball (default: Keras)")
    parser.add_argument("--out", default="models/evaluation.json")
    parser.add_argument("--seed", type=int, default=data_module.TEST_SEED)
    parser.add_argument("--composites", type=int, default=data_module.TEST_COMPOSITES)
    args = parser.parse_args(argv)

    import keras

    import core  # noqa: F401  (registers the custom losses and metrics)
    from core.provenance import describe_source

    paths = [Path(p) for p in args.models]
    for path in paths:
        if not path.is_file():
            raise SystemExit(
                f"Model file {str(path)!r} not found; train it with python -m core.train."
            )
    source = args.data if args.data is not None else recorded_source(paths[0])
    print(f"CIFAR-10 source: {source or 'keras.datasets.cifar10'}")
    _, (x_test, y_test) = data_module.load_cifar10(source)
    sets = test_sets(x_test, y_test, seed=args.seed, n=args.composites)
    models = {path.stem: keras.saving.load_model(path, compile=False) for path in paths}
    losses = {path.stem: loss_of(path) for path in paths}
    results = build_report(models, losses, sets, describe_source(source), args.seed, verbose=1)
    for path in paths:
        results["models"][path.stem]["file"] = path.as_posix()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".tmp")
    partial.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(partial, out)
    print(format_table(results))
    print(f"Wrote {out}")


if __name__ == "__main__":
    main()
