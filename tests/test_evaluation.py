import json

import numpy as np
import pytest
from sklearn import metrics as sk

from core import evaluation as ev

Y = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 1], [0, 0, 0, 0]])
S = np.array(
    [
        [0.9, 0.2, 0.6, 0.1],
        [0.7, 0.8, 0.3, 0.1],
        [0.4, 0.9, 0.2, 0.6],
        [0.1, 0.3, 0.2, 0.4],
    ]
)
P = S > 0.5  # [[1,0,1,0],[1,1,0,0],[0,1,0,1],[0,0,0,0]]


def test_hand_computed_values():
    assert ev.exact_match(Y, P) == 0.5  # rows 1 and 4
    assert ev.per_label_accuracy(Y, P) == 14 / 16
    counts = ev.confusion_counts(Y, P)
    assert counts["tp"].tolist() == [1, 2, 1, 1]
    assert counts["fp"].tolist() == [1, 0, 0, 0]
    assert counts["fn"].tolist() == [1, 0, 0, 0]
    scores = ev.per_class_scores(Y, P)
    np.testing.assert_allclose(scores["f1"], [0.5, 1, 1, 1])
    assert ev.macro_f1(Y, P) == pytest.approx(0.875)
    assert ev.micro_f1(Y, P) == pytest.approx(10 / 12)
    # samples F1 per row: 1, 2*1/3, 2*2/5, 1 (both empty)
    assert ev.samples_f1(Y, P) == pytest.approx((1 + 2 / 3 + 4 / 5 + 1) / 4)
    assert ev.jaccard(Y, P) == pytest.approx((1 + 1 / 2 + 2 / 3 + 1) / 4)


def test_against_scikit_learn():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 10)) < 0.4).astype(int)
    s = np.clip(y * 0.3 + rng.random((200, 10)) * 0.7, 0, 1).round(2)  # rounding makes ties
    p = s > 0.5
    assert ev.exact_match(y, p) == pytest.approx(sk.accuracy_score(y, p))
    assert ev.per_label_accuracy(y, p) == pytest.approx(1 - sk.hamming_loss(y, p))
    assert ev.micro_f1(y, p) == pytest.approx(sk.f1_score(y, p, average="micro"))
    assert ev.macro_f1(y, p) == pytest.approx(sk.f1_score(y, p, average="macro"))
    assert ev.samples_f1(y, p) == pytest.approx(
        sk.f1_score(y, p, average="samples", zero_division=1)
    )
    assert ev.jaccard(y, p) == pytest.approx(
        sk.jaccard_score(y, p, average="samples", zero_division=1)
    )
    np.testing.assert_allclose(
        ev.average_precision(y, s), sk.average_precision_score(y, s, average=None)
    )
    assert ev.coverage_error(y[y.any(1)], s[y.any(1)]) == pytest.approx(
        sk.coverage_error(y[y.any(1)], s[y.any(1)])
    )
    np.testing.assert_allclose(
        ev.per_class_scores(y, p)["precision"], sk.precision_score(y, p, average=None)
    )


def test_average_precision_by_hand():
    y = np.array([[1], [0], [1], [0]])
    s = np.array([[0.9], [0.8], [0.7], [0.1]])
    # Ranked: hit (P=1, R=.5), miss, hit (P=2/3, R=1) -> 0.5*1 + 0.5*2/3
    assert ev.average_precision(y, s)[0] == pytest.approx(0.5 + 1 / 3)
    assert ev.mean_average_precision(Y, S) == pytest.approx(np.mean(ev.average_precision(Y, S)))


def test_coverage_error_by_hand():
    # Row 1: lowest true score 0.6, two labels >= 0.6 -> 2. Row 2: 0.8 -> 1. Row 3: 0.4 -> 3.
    assert ev.coverage_error(Y[:3], S[:3]) == pytest.approx((2 + 1 + 3) / 3)


def test_threshold_sweep_end_points_and_values():
    sweep = ev.threshold_sweep(Y, S, thresholds=[0.0, 0.5, 1.0])
    assert sweep["exact_match"][1] == ev.exact_match(Y, P)
    # Threshold 0 predicts everything (every score > 0), threshold 1 nothing.
    assert sweep["per_label_accuracy"][0] == Y.mean()
    assert sweep["per_label_accuracy"][2] == 1 - Y.mean()
    assert sweep["exact_match"][2] == 0.25  # only the empty row
    assert len(ev.threshold_sweep(Y, S)["threshold"]) == 101
    best = ev.best_threshold({"threshold": [0.1, 0.2, 0.3], "exact_match": [0.1, 0.4, 0.4]})
    assert best == {"threshold": 0.2, "exact_match": 0.4}


def test_top_k():
    decisions = ev.top_k(S, 2)
    assert decisions.sum(axis=1).tolist() == [2, 2, 2, 2]
    assert decisions[0].tolist() == [True, False, True, False]
    with pytest.raises(ValueError, match="k must be between 1 and 4"):
        ev.top_k(S, 5)


def test_baselines():
    y = np.zeros((5, 10))
    y[:, :4] = 1
    base = ev.baselines(y)
    assert base["all_negative_per_label"] == pytest.approx(0.6)
    assert base["chance_exact_match"] == pytest.approx(1 / 210)
    assert base["all_negative_exact_match"] == 0


def test_summarize_perfect_scores():
    y = np.eye(10)
    report = ev.summarize(y, y * 0.98 + 0.01)
    for key in ("exact_match", "per_label_accuracy", "micro_f1", "mean_average_precision"):
        assert report[key] == pytest.approx(1.0)
    assert report["coverage_error"] == 1.0
    assert report["mean_predicted_labels"] == 1.0


def test_outcomes():
    assert ev.outcomes([1, 0, 1, 0], [True, True, False, False]) == [
        "true positive",
        "false positive",
        "false negative",
        "true negative",
    ]


def test_an_output_exactly_at_the_threshold_is_present():
    assert ev.THRESHOLD == 0.5
    scores = np.array([[0.5, 0.49999997, 0.7]])
    assert ev.decide(scores).tolist() == [[True, False, True]]
    assert ev.decide(scores, 0.7).tolist() == [[False, False, True]]
    truth = np.array([[1, 0, 1]])
    assert ev.exact_match(truth, ev.decide(scores)) == 1.0
    sweep = ev.threshold_sweep(truth, scores, thresholds=[0.5, 0.51])
    assert sweep["exact_match"] == [1.0, 0.0]


def test_by_object_count_hand_computed():
    truth = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [1, 0, 1]])
    decided = np.array([[1, 1, 1], [0, 1, 0], [1, 1, 0], [1, 0, 0]], bool)
    report = ev.by_object_count(truth, decided, counts=[1, 1, 2, 2])
    assert report["1"] == {
        "composites": 2,
        "exact_match": 0.5,
        "per_label_accuracy": 4 / 6,
        "mean_true_labels": 1.0,
        "mean_predicted_labels": 2.0,
    }
    assert report["2"]["exact_match"] == 0.5 and report["2"]["mean_predicted_labels"] == 1.5


def test_top_k_when_told_the_true_count_by_hand():
    truth = np.array([[1, 0, 0, 0], [1, 0, 1, 0], [0, 1, 1, 1]])
    scores = np.array([[0.2, 0.3, 0.1, 0.0], [0.4, 0.1, 0.3, 0.2], [0.1, 0.2, 0.3, 0.4]])
    told = ev.top_true_count(truth, scores)
    # One label: the largest (class 1, wrong); two: classes 0 and 2 (right); three: 1, 2, 3.
    assert told.tolist() == [
        [False, True, False, False],
        [True, False, True, False],
        [False, True, True, True],
    ]
    report = ev.by_object_count(truth, ev.decide(scores, 0.25), [1, 2, 3], scores)
    assert [report[k]["told_count_exact_match"] for k in "123"] == [0.0, 1.0, 1.0]
    assert "told_count_exact_match" not in ev.by_object_count(truth, told, [1, 2, 3])["1"]


def test_check_report_names_what_an_evaluation_lacks():
    with pytest.raises(ValueError, match="lacks test_composites, baselines"):
        ev.check_report({"models": {}})
    with pytest.raises(ValueError, match="has no models"):
        ev.check_report({"test_composites": 1, "baselines": {}, "models": {}})
    base = {"chance_exact_match": 0.1, "all_negative_per_label": 0.6}
    partial = {"test_composites": 1, "baselines": base, "models": {"bce": {"exact_match": 1}}}
    with pytest.raises(ValueError, match="of 'bce' lacks per_label_accuracy"):
        ev.check_report(partial)
    whole = {key: 0 for key in ev.REPORT_MODEL_KEYS}
    report = {"test_composites": 1, "baselines": base, "models": {"bce": whole}}
    assert ev.check_report(report) is report


def test_the_committed_evaluation_has_the_shape_the_app_reads():
    from conftest import REPO

    from core.manifest import load_manifest

    manifest = load_manifest(REPO / "models")
    report = ev.check_report(json.loads(manifest.evaluation.read_text()))
    assert set(report["models"]) == {model.name for model in manifest.models}


def flat_test_split(per_class=3):
    """CIFAR-like test images, each one flat colour (200, 20 * class + 5, 7): a composite's
    object shows which class its pixels came from."""
    labels = np.repeat(np.arange(10), per_class)
    images = np.zeros((len(labels), 32, 32, 3), np.uint8)
    images[..., 0], images[..., 2] = 200, 7
    images[..., 1] = (20 * labels + 5)[:, None, None]
    return images, labels


class ColourModel:
    """A stand-in for a Keras model on `flat_test_split` composites: each class scores three
    times the share of the pixels in its colour (at most 1), so a small object is missed at 0.5
    but still ranks above the absent classes."""

    def predict(self, images, batch_size=None, verbose=0):
        colours = np.stack([np.full(10, 200), 20 * np.arange(10) + 5, np.full(10, 7)], axis=1)
        images = np.asarray(images)[:, None]
        shares = (images == colours[None, :, None, None, :]).all(axis=-1).mean(axis=(2, 3))
        return np.minimum(3 * shares, 1.0)


def test_the_layout_sets_shapes_and_counts():
    from core import data
    from core.evaluate import LAYOUT_SETS, test_sets

    x_test, y_test = flat_test_split()
    sets = test_sets(x_test, y_test, seed=4, n=30, subset_n=12)
    assert [name for name in sets if name.startswith("layout_")] == list(LAYOUT_SETS.values())
    expected_counts = {"fill": [1] * 12, "single": [1] * 12, "grid": [4] * 12}
    expected_counts["scattered"] = [2, 3, 4] * 4  # balanced over the count
    for layout, name in LAYOUT_SETS.items():
        scenes = sets[name]
        assert scenes.x.shape == (12, 64, 64, 3) and scenes.x.dtype == np.uint8
        assert scenes.y.shape == (12, 10) and scenes.boxes.shape == (12, 4, 3)
        assert (scenes.layouts == data.LAYOUTS.index(layout)).all()
        assert scenes.counts.tolist() == expected_counts[layout]
        assert scenes.y.sum(axis=1).tolist() == expected_counts[layout]
    # Drawn again from the same seed: the same composites; each layout's seed is its own.
    again = test_sets(x_test, y_test, seed=4, n=30, subset_n=12)
    np.testing.assert_array_equal(again["layout_single"].x, sets["layout_single"].x)
    assert not np.array_equal(sets["layout_fill"].x, sets["test"][0][:12])


def test_the_layout_sets_objects_are_test_images_of_their_label():
    from core.evaluate import LAYOUT_SETS, layout_sets
    from core.map_aim import visible_masks

    x_test, y_test = flat_test_split()
    for scenes in layout_sets(x_test, y_test, seed=4, n=9).values():
        shown = visible_masks(scenes.boxes)
        for row, slot in zip(*np.nonzero(scenes.classes >= 0), strict=True):
            label = scenes.classes[row, slot]
            assert scenes.y[row, label] == 1
            pixels = scenes.x[row][shown[row, slot]]
            assert (pixels == (200, 20 * label + 5, 7)).all()
    fill = layout_sets(x_test, y_test, seed=4, n=9)[LAYOUT_SETS["fill"]]
    assert (fill.x[:, :, :, 1] == (20 * fill.classes[:, :1, None] + 5)).all()


def test_the_scattered_sets_figures_by_count_add_up_to_the_whole():
    from core.evaluate import layout_figures, layout_sets

    x_test, y_test = flat_test_split()
    scenes = layout_sets(x_test, y_test, seed=4, n=30)["layout_scattered"]
    report = layout_figures(ColourModel(), scenes, by_objects=True)
    assert report["composites"] == 30 and set(report["by_objects"]) == {"2", "3", "4"}
    assert 0 < report["exact_match"] < report["told_count_exact_match"] == 1
    parts = report["by_objects"].values()
    for key in ("exact_match", "per_label_accuracy", "mean_predicted_labels"):
        weighted = sum(part["composites"] * part[key] for part in parts) / report["composites"]
        assert weighted == pytest.approx(report[key]), key
    assert [part["composites"] for part in parts] == [10, 10, 10]
    assert "by_objects" not in layout_figures(ColourModel(), scenes)
