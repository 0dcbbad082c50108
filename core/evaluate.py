"""Evaluate the manifest's models on the seeded 10k test composites, beside the article's numbers.

    python -m core.evaluate                        # every model of models/models.json
    python -m core.evaluate softmax bce-one-to-four   # these, kept beside the others' results
    python -m core.evaluate --data ../cifar-10-batches-py

Without `--data`, the CIFAR-10 source recorded in the first model's run file is used when it
exists on this machine (so the shipped numbers reproduce), otherwise the Keras download.

Prints a table and writes the manifest's evaluation JSON (per model: the headline metrics at
0.5, per-class scores, mAP, the threshold sweep, exact match by number of distinct classes, and
on composites with one to four objects by the number of objects; `by_layout`, the figures on
composites of objects anywhere, one set per layout of `core.data.LAYOUTS`; `map_aim`, how often
a present class's activation map puts most of its mass on that class, `core.map_aim`). A model
file that is missing, damaged or of another network ends the run with a message and exit
status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from core import data as data_module
from core import evaluation, map_aim

SUBSET_COMPOSITES = 2_000  # composites per extra set (k distinct classes, repeats allowed)
ONE_TO_FOUR = "one_to_four"  # the set of composites with 1-4 objects and empty quadrants
# One set of objects anywhere per layout, drawn with the seed [seed, LAYOUT_SEEDS[layout]].
LAYOUT_SEEDS = {layout: 20 + index for index, layout in enumerate(data_module.LAYOUTS)}
LAYOUT_SETS = {layout: f"layout_{layout}" for layout in data_module.LAYOUTS}  # their keys in sets
SCATTERED_COUNTS = (2, 3, 4)  # the scattered set holds as many composites of each count


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
    sets.update(layout_sets(x_test, y_test, seed, subset_n))
    return sets


def layout_sets(x_test, y_test, seed: int, n: int) -> dict:
    """{LAYOUT_SETS[layout]: Scenes} of `n` composites of objects anywhere per layout, drawn
    from the CIFAR test split; the scattered one balanced over SCATTERED_COUNTS objects."""
    sets = {}
    for layout in data_module.LAYOUTS:
        counts = np.resize(SCATTERED_COUNTS, n) if layout == data_module.SCATTERED else None
        sets[LAYOUT_SETS[layout]] = data_module.make_anywhere_composites(
            x_test, y_test, n, [seed, LAYOUT_SEEDS[layout]], layouts=layout, counts=counts
        )
    return sets


def set_figures(y_true, scores) -> dict:
    """Exact match and per-label accuracy at 0.5, mAP and the mean number of labels answered."""
    decisions = evaluation.decide(scores)
    return {
        "exact_match": evaluation.exact_match(y_true, decisions),
        "per_label_accuracy": evaluation.per_label_accuracy(y_true, decisions),
        "mean_average_precision": evaluation.mean_average_precision(y_true, scores),
        "mean_predicted_labels": float(decisions.sum(axis=-1).mean()),
    }


def layout_figures(model, scenes, by_objects: bool = False) -> dict:
    """A layout set's figures (`set_figures`, its size and top-k told k's exact match); with
    `by_objects`, the same by number of objects (`evaluation.by_object_count`)."""
    scores = predict(model, scenes.x)
    report = {"composites": len(scenes.x), **set_figures(scenes.y, scores)}
    told = evaluation.top_true_count(scenes.y, scores)
    report["told_count_exact_match"] = evaluation.exact_match(scenes.y, told)
    if by_objects:
        decisions = evaluation.decide(scores)
        report["by_objects"] = evaluation.by_object_count(
            scenes.y, decisions, scenes.counts, scores
        )
    return report


def map_aim_figures(model, sets) -> dict:
    """How often a present class's map aims at it (`core.map_aim`): on the first composites of
    the headline and one-to-four sets, as many as the scattered layout set holds (by quadrant),
    and on that set (by the pixels each object shows)."""
    from core.cam import model_maps

    scenes = sets[LAYOUT_SETS[data_module.SCATTERED]]
    n = len(scenes.x)
    x, _, classes = sets["test"]
    four = map_aim.quadrant_aim(model_maps(model, x[:n]), classes[:n])
    x, _, classes, counts = sets[ONE_TO_FOUR]
    one_to_four = map_aim.quadrant_aim(model_maps(model, x[:n]), classes[:n])
    anywhere = map_aim.object_aim(model_maps(model, scenes.x), scenes.classes, scenes.boxes)
    return {
        "four_distinct": map_aim.summarize_aim(four),
        "one_to_four": map_aim.summarize_aim(one_to_four, counts[:n]),
        "anywhere": map_aim.summarize_aim(anywhere, scenes.counts),
    }


def evaluate_model(model, sets, verbose: int | str = 0) -> dict:
    x, y, _ = sets["test"]
    scores = predict(model, x, verbose=verbose)
    report = evaluation.summarize(y, scores)
    report["threshold_sweep"] = evaluation.threshold_sweep(y, scores)
    report["best_threshold"] = evaluation.best_threshold(report["threshold_sweep"])
    report["by_set"] = {}
    for name, drawn in sets.items():
        if name == "test" or name in LAYOUT_SETS.values():
            continue
        x_extra, y_extra = drawn[:2]
        extra_scores = predict(model, x_extra)
        report["by_set"][name] = set_figures(y_extra, extra_scores)
        if name == ONE_TO_FOUR:
            counts = sets[ONE_TO_FOUR][3]
            report["by_set"][name]["by_objects"] = evaluation.by_object_count(
                y_extra, evaluation.decide(extra_scores), counts, extra_scores
            )
    report["by_layout"] = {
        layout: layout_figures(model, sets[name], by_objects=layout == data_module.SCATTERED)
        for layout, name in LAYOUT_SETS.items()
    }
    report["map_aim"] = map_aim_figures(model, sets)
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
    """The headline numbers on the four-distinct test set and on one to four objects."""
    lines = [
        f"{'model':<22}{'exact match':>13}{'per-label':>11}{'mAP':>8}{'labels':>8}"
        f"{'1-4: exact':>12}{'labels':>8}"
    ]
    for name, report in results["models"].items():
        objects = report["by_set"].get(ONE_TO_FOUR, {})
        lines.append(
            f"{name:<22}{report['exact_match']:>13.2%}{report['per_label_accuracy']:>11.2%}"
            f"{report['mean_average_precision']:>8.3f}{report['mean_predicted_labels']:>8.2f}"
            f"{objects.get('exact_match', float('nan')):>12.2%}"
            f"{objects.get('mean_predicted_labels', float('nan')):>8.2f}"
        )
    for loss, article in evaluation.ARTICLE_RESULTS.items():
        lines.append(
            f"{loss + ', article':<22}{article['exact_match']:>13.2%}"
            f"{article['per_label_accuracy']:>11.2%}"
        )
    base = results["baselines"]
    lines.append(
        f"{'baselines':<22}{base['chance_exact_match']:>13.2%}"
        f"{base['all_negative_per_label']:>11.2%}   (chance exact match, all-negative per-label)"
    )
    return "\n".join(lines)


def format_layouts(results: dict) -> str:
    """Exact match at 0.5 on each layout of objects anywhere, and how often a present class's
    map aims at it (four distinct, one to four, objects anywhere)."""
    heads = "".join(f"{layout:>11}" for layout in data_module.LAYOUTS)
    lines = [f"{'model':<22}{heads}{'aim 4':>8}{'aim 1-4':>9}{'aim any':>9}"]
    for name, report in results["models"].items():
        layouts, aim = report.get("by_layout", {}), report.get("map_aim", {})
        cells = "".join(
            f"{layouts.get(layout, {}).get('exact_match', float('nan')):>11.2%}"
            for layout in data_module.LAYOUTS
        )
        rates = [
            aim.get(key, {}).get("hit_rate") for key in ("four_distinct", "one_to_four", "anywhere")
        ]
        rates = [float("nan") if rate is None else rate for rate in rates]
        lines.append(f"{name:<22}{cells}{rates[0]:>8.1%}{rates[1]:>9.1%}{rates[2]:>9.1%}")
    return "\n".join(lines)


def recorded_source(run_file: Path | None) -> str | None:
    """The data source a model was trained on, from its run file, if it exists here."""
    try:
        source = json.loads(run_file.read_text())["data"]["source"]
    except (AttributeError, OSError, ValueError, KeyError, TypeError):
        return None
    return source if Path(source).exists() else None


def load_models(entries) -> dict:
    """{name: Keras model} for manifest entries; SystemExit with the reason for one that does not
    load as the project's network."""
    from core.inference import load_trained_model

    models = {}
    for entry in entries:
        if not entry.file.is_file():
            raise SystemExit(
                f"Model file {entry.file} ({entry.name}) not found; train it with "
                "python -m core.train."
            )
        try:
            models[entry.name] = load_trained_model(entry.file, entry.output)
        except Exception as error:  # A damaged file can fail in many ways inside Keras.
            reason = str(error) if isinstance(error, ValueError) else type(error).__name__
            raise SystemExit(
                f"Model file {entry.file} ({entry.name}) cannot be evaluated: {reason}."
            ) from error
    return models


def merged(previous: dict | None, results: dict) -> dict:
    """`results` with the other models' entries of an earlier evaluation on the same test set."""
    same_set = previous and all(
        previous.get(key) == results[key] for key in ("test_seed", "test_composites", "data")
    )
    if not same_set:
        return results
    models = {**previous.get("models", {}), **results["models"]}
    return {**results, "models": models}


def main(argv=None) -> None:
    from core.manifest import ManifestError, load_manifest

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="models of the manifest (default: all)")
    parser.add_argument("--models", default="models", help="the folder of models.json")
    parser.add_argument("--data", help="CIFAR-10 folder or tarball (default: Keras' download)")
    parser.add_argument("--seed", type=int, default=data_module.TEST_SEED)
    parser.add_argument(
        "--composites",
        type=int,
        default=data_module.TEST_COMPOSITES,
        help="composites of the headline set; the extra sets hold as many, at most "
        f"{SUBSET_COMPOSITES:,} each",
    )
    args = parser.parse_args(argv)
    try:
        manifest = load_manifest(args.models)
        entries = [manifest.by_name(name) for name in args.names] or list(manifest.models)
    except ManifestError as error:
        raise SystemExit(str(error)) from error
    except KeyError as error:
        known = ", ".join(model.name for model in manifest.models)
        raise SystemExit(f"No model {error} in the manifest; it lists {known}.") from error
    models = load_models(entries)
    source = args.data if args.data is not None else recorded_source(entries[0].run)
    print(f"CIFAR-10 source: {source or 'keras.datasets.cifar10'}")
    _, (x_test, y_test) = data_module.load_cifar10(source)
    subset_n = min(SUBSET_COMPOSITES, args.composites)
    sets = test_sets(x_test, y_test, seed=args.seed, n=args.composites, subset_n=subset_n)
    from core.provenance import describe_source

    losses = {entry.name: entry.loss for entry in entries}
    results = build_report(models, losses, sets, describe_source(source), args.seed, verbose=1)
    for entry in entries:
        results["models"][entry.name]["file"] = entry.file.relative_to(manifest.folder).as_posix()
    previous = (
        json.loads(manifest.evaluation.read_text()) if manifest.evaluation.is_file() else None
    )
    results = merged(previous, results)
    partial = manifest.evaluation.with_suffix(".tmp")
    partial.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(partial, manifest.evaluation)
    print(format_table(results))
    print(format_layouts(results))
    print(f"Wrote {manifest.evaluation}")


if __name__ == "__main__":
    main()
