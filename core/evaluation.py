"""Multi-label metrics in NumPy, for the evaluation CLI, the reports and the app.

Conventions: `y_true` is an (n, L) 0/1 matrix, `scores` an (n, L) matrix of probabilities and
`y_pred` an (n, L) boolean matrix of decisions. A label is decided present when its score is at
least the threshold (`score >= THRESHOLD`, the article's `K.greater_equal`), as in
`core.metrics`. Where a ratio has a zero denominator (a class never predicted, say) it is 0, as
scikit-learn's `zero_division=0`.
"""

from __future__ import annotations

from math import comb

import numpy as np

THRESHOLD = 0.5  # the article's: a label is present when its output is >= 0.5
EPSILON = 1e-7  # probabilities are clipped to [EPSILON, 1 - EPSILON] inside the logs
ARTICLE_RESULTS = {
    "bce": {"exact_match": 0.4919, "per_label_accuracy": 0.9116},
    "cce": {"exact_match": 0.3894, "per_label_accuracy": 0.8986},
}


def _as_labels(y_true) -> np.ndarray:
    return np.asarray(y_true) > 0.5


def _divide(numerator, denominator):
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def decide(scores, threshold: float = THRESHOLD) -> np.ndarray:
    """Decisions: label i is present when score_i >= threshold."""
    return np.asarray(scores) >= threshold


def top_k(scores, k: int) -> np.ndarray:
    """Decisions that keep exactly the k highest-scoring labels of each sample."""
    scores = np.asarray(scores)
    if not 1 <= k <= scores.shape[-1]:
        raise ValueError(f"k must be between 1 and {scores.shape[-1]}, got {k}.")
    order = np.argsort(-scores, axis=-1, kind="stable")[..., :k]
    decisions = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(decisions, order, True, axis=-1)
    return decisions


def top_true_count(y_true, scores) -> np.ndarray:
    """Decisions that keep, for each sample, as many top-scoring labels as it truly has: top-k
    when told k. A softmax model can name a set only this way."""
    truth, scores = _as_labels(y_true), np.asarray(scores)
    ranks = np.argsort(np.argsort(-scores, axis=-1, kind="stable"), axis=-1, kind="stable")
    return ranks < truth.sum(axis=-1, keepdims=True)


def exact_match(y_true, y_pred) -> float:
    """Share of samples whose whole label set is right ("total accuracy")."""
    return float(np.mean(np.all(_as_labels(y_true) == np.asarray(y_pred), axis=-1)))


def per_label_accuracy(y_true, y_pred) -> float:
    """Share of (sample, label) decisions that are right (1 - Hamming loss, "binary accuracy")."""
    return float(np.mean(_as_labels(y_true) == np.asarray(y_pred)))


def confusion_counts(y_true, y_pred) -> dict[str, np.ndarray]:
    """Per-class true/false positive/negative counts, each an array of length L."""
    truth, pred = _as_labels(y_true), np.asarray(y_pred, dtype=bool)
    return {
        "tp": np.sum(truth & pred, axis=0),
        "fp": np.sum(~truth & pred, axis=0),
        "fn": np.sum(truth & ~pred, axis=0),
        "tn": np.sum(~truth & ~pred, axis=0),
    }


def per_class_scores(y_true, y_pred) -> dict[str, np.ndarray]:
    """Per-class precision tp/(tp+fp), recall tp/(tp+fn) and F1 2tp/(2tp+fp+fn)."""
    c = confusion_counts(y_true, y_pred)
    return {
        "precision": _divide(c["tp"], c["tp"] + c["fp"]),
        "recall": _divide(c["tp"], c["tp"] + c["fn"]),
        "f1": _divide(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"]),
        "support": c["tp"] + c["fn"],
    }


def micro_f1(y_true, y_pred) -> float:
    """F1 of the counts pooled over all classes: 2 TP / (2 TP + FP + FN)."""
    c = confusion_counts(y_true, y_pred)
    tp, fp, fn = c["tp"].sum(), c["fp"].sum(), c["fn"].sum()
    return float(_divide(2 * tp, 2 * tp + fp + fn))


def macro_f1(y_true, y_pred) -> float:
    """Unweighted mean of the per-class F1 scores."""
    return float(np.mean(per_class_scores(y_true, y_pred)["f1"]))


def samples_f1(y_true, y_pred) -> float:
    """Mean over samples of 2 |T & P| / (|T| + |P|) (1 when both sets are empty)."""
    truth, pred = _as_labels(y_true), np.asarray(y_pred, dtype=bool)
    overlap = np.sum(truth & pred, axis=-1)
    sizes = truth.sum(axis=-1) + pred.sum(axis=-1)
    return float(np.mean(np.where(sizes == 0, 1.0, _divide(2 * overlap, sizes))))


def jaccard(y_true, y_pred) -> float:
    """Mean over samples of |T & P| / |T | P| (1 when both sets are empty)."""
    truth, pred = _as_labels(y_true), np.asarray(y_pred, dtype=bool)
    overlap = np.sum(truth & pred, axis=-1)
    union = np.sum(truth | pred, axis=-1)
    return float(np.mean(np.where(union == 0, 1.0, _divide(overlap, union))))


def average_precision(y_true, scores) -> np.ndarray:
    """Per-class average precision, AP = sum_n (R_n - R_{n-1}) P_n over the ranked scores.

    Tied scores are treated as one threshold, as scikit-learn's `average_precision_score`.
    A class with no positives gets 0.
    """
    truth, scores = _as_labels(y_true), np.asarray(scores, dtype=np.float64)
    result = np.zeros(truth.shape[1])
    for label in range(truth.shape[1]):
        positives = truth[:, label].sum()
        if positives == 0:
            continue
        order = np.argsort(-scores[:, label], kind="stable")
        ranked_scores = scores[order, label]
        hits = np.cumsum(truth[order, label])
        # Keep the last index of each run of equal scores: one threshold per distinct score.
        last = np.r_[ranked_scores[1:] != ranked_scores[:-1], True]
        tp = hits[last]
        predicted = (np.arange(1, len(order) + 1))[last]
        precision = tp / predicted
        recall = tp / positives
        result[label] = np.sum(np.diff(np.r_[0.0, recall]) * precision)
    return result


def mean_average_precision(y_true, scores) -> float:
    """Macro mean of the per-class average precision (threshold-free)."""
    return float(np.mean(average_precision(y_true, scores)))


def coverage_error(y_true, scores) -> float:
    """Mean over samples of how far down the ranking one must go to cover every true label.

    For each sample: the number of labels scoring at least as high as its lowest-scoring true
    label (scikit-learn's definition; 0 for a sample with no true label).
    """
    truth, scores = _as_labels(y_true), np.asarray(scores, dtype=np.float64)
    lowest_true = np.where(truth, scores, np.inf).min(axis=-1, keepdims=True)
    depth = np.sum(scores >= lowest_true, axis=-1)
    return float(np.mean(np.where(truth.any(axis=-1), depth, 0)))


def threshold_sweep(y_true, scores, thresholds=None) -> dict[str, list[float]]:
    """Exact match and per-label accuracy at each threshold (default 0, 0.01, ..., 1)."""
    thresholds = np.linspace(0.0, 1.0, 101) if thresholds is None else np.asarray(thresholds)
    truth, scores = _as_labels(y_true), np.asarray(scores)
    exact, per_label = [], []
    for threshold in thresholds:
        correct = truth == (scores >= threshold)
        exact.append(float(np.mean(np.all(correct, axis=-1))))
        per_label.append(float(np.mean(correct)))
    return {
        "threshold": [float(t) for t in thresholds],
        "exact_match": exact,
        "per_label_accuracy": per_label,
    }


def best_threshold(sweep: dict[str, list[float]], key: str = "exact_match") -> dict[str, float]:
    """The threshold of a sweep with the highest value of `key` (the first one on ties)."""
    index = int(np.argmax(sweep[key]))
    return {"threshold": sweep["threshold"][index], key: sweep[key][index]}


def baselines(y_true, labels_per_sample: int = 4) -> dict[str, float]:
    """Trivial reference points.

    all_negative_per_label: per-label accuracy of predicting no label at all (1 - mean(y); 0.6
    for 4 labels out of 10). chance_exact_match: guessing k distinct labels uniformly at random
    is right with probability 1 / C(L, k) (1/210 for 4 of 10).
    """
    truth = _as_labels(y_true)
    return {
        "all_negative_per_label": float(1.0 - truth.mean()),
        "all_negative_exact_match": float(np.mean(~truth.any(axis=-1))),
        "chance_exact_match": 1.0 / comb(truth.shape[1], labels_per_sample),
    }


def summarize(y_true, scores, threshold: float = THRESHOLD) -> dict:
    """Every headline metric at one threshold, plus the threshold-free ones."""
    y_pred = decide(scores, threshold)
    per_class = per_class_scores(y_true, y_pred)
    k = int(round(float(np.mean(_as_labels(y_true).sum(axis=-1)))))
    return {
        "threshold": threshold,
        "exact_match": exact_match(y_true, y_pred),
        "per_label_accuracy": per_label_accuracy(y_true, y_pred),
        "samples_f1": samples_f1(y_true, y_pred),
        "jaccard": jaccard(y_true, y_pred),
        "micro_f1": micro_f1(y_true, y_pred),
        "macro_f1": macro_f1(y_true, y_pred),
        "mean_average_precision": mean_average_precision(y_true, scores),
        "coverage_error": coverage_error(y_true, scores),
        "mean_predicted_labels": float(np.mean(y_pred.sum(axis=-1))),
        "top_k_exact_match": exact_match(y_true, top_k(scores, max(k, 1))),
        "per_class": {key: [float(v) for v in values] for key, values in per_class.items()},
        "per_class_average_precision": [float(v) for v in average_precision(y_true, scores)],
    }


OUTCOME_NAMES = ("true positive", "false positive", "false negative", "true negative")


def outcomes(y_true, y_pred) -> list[str]:
    """For one sample, each label's outcome: true/false positive/negative."""
    truth = _as_labels(y_true).reshape(-1)
    pred = np.asarray(y_pred, dtype=bool).reshape(-1)
    table = {(True, True): 0, (False, True): 1, (True, False): 2, (False, False): 3}
    return [OUTCOME_NAMES[table[(bool(t), bool(p))]] for t, p in zip(truth, pred, strict=True)]


def binary_cross_entropy(y_true, probabilities) -> np.ndarray:
    """Per-sample summed binary cross-entropy in NumPy, as `core.losses.binary_loss`:

    loss = -sum_i [ y_i log p_i + (1 - y_i) log(1 - p_i) ],  p clipped to [eps, 1 - eps].
    """
    truth = np.asarray(y_true, dtype=np.float64)
    p = np.clip(np.asarray(probabilities, dtype=np.float64), EPSILON, 1.0 - EPSILON)
    return -np.sum(truth * np.log(p) + (1.0 - truth) * np.log(1.0 - p), axis=-1)


def categorical_cross_entropy(y_true, probabilities) -> np.ndarray:
    """Per-sample categorical cross-entropy in NumPy, as `core.losses.categorical_loss`:

    q_i = p_i / sum_j p_j,  loss = -sum_i y_i log q_i,  q clipped to [eps, 1 - eps].
    """
    truth = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    q = p / np.maximum(np.sum(p, axis=-1, keepdims=True), EPSILON)
    q = np.clip(q, EPSILON, 1.0 - EPSILON)
    return -np.sum(truth * np.log(q), axis=-1)


def by_object_count(y_true, decisions, counts, scores=None) -> dict[str, dict[str, float]]:
    """For each number of objects in the composites: how many, exact match, per-label accuracy,
    and the mean number of true and of predicted labels (a model that always answers four
    classes shows it here). With `scores`, also the exact match of top-k when told k, the
    number of true labels (`told_count_exact_match`)."""
    truth, decided = _as_labels(y_true), np.asarray(decisions, dtype=bool)
    counts = np.asarray(counts).reshape(-1)
    told = None if scores is None else top_true_count(truth, scores)
    report = {}
    for count in np.unique(counts):
        rows = counts == count
        report[str(int(count))] = {
            "composites": int(rows.sum()),
            "exact_match": exact_match(truth[rows], decided[rows]),
            "per_label_accuracy": per_label_accuracy(truth[rows], decided[rows]),
            "mean_true_labels": float(truth[rows].sum(axis=-1).mean()),
            "mean_predicted_labels": float(decided[rows].sum(axis=-1).mean()),
        }
        if told is not None:
            report[str(int(count))]["told_count_exact_match"] = exact_match(truth[rows], told[rows])
    return report


# The keys every model's entry in an evaluation JSON has; `check_report` insists on them.
REPORT_MODEL_KEYS = (
    "exact_match",
    "per_label_accuracy",
    "micro_f1",
    "macro_f1",
    "mean_average_precision",
    "mean_predicted_labels",
    "threshold_sweep",
    "best_threshold",
    "per_class",
    "by_set",
)


def check_report(report) -> dict:
    """Return `report` (an evaluation JSON as `core.evaluate` writes it) if it has the shape the
    app reads; otherwise raise ValueError naming what is missing."""
    if not isinstance(report, dict):
        raise ValueError("the evaluation is not a JSON object")
    missing = [key for key in ("test_composites", "baselines", "models") if key not in report]
    if missing:
        raise ValueError(f"the evaluation lacks {', '.join(missing)}")
    if not isinstance(report["models"], dict) or not report["models"]:
        raise ValueError("the evaluation has no models")
    for key in ("chance_exact_match", "all_negative_per_label"):
        if not isinstance(report["baselines"], dict) or key not in report["baselines"]:
            raise ValueError(f"the evaluation's baselines lack {key}")
    for name, result in report["models"].items():
        lacking = [
            key for key in REPORT_MODEL_KEYS if not isinstance(result, dict) or key not in result
        ]
        if lacking:
            raise ValueError(f"the evaluation of {name!r} lacks {', '.join(lacking)}")
    return report
