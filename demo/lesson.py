"""The guided lesson, as data: each step's text, composite, models, panels and question.

A step's text may quote figures only through `{placeholders}` filled from the committed
evaluation JSON (`lesson_facts`); a question's answer is computed from the models' outputs on the
step's composite or from the loss lab's runs (`QUESTIONS`), never written down.
`demo.lesson_page` draws a step; nothing here imports Streamlit, so the steps and the answers are
tested as plain data and functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data import CLASS_NAMES, QUADRANT_NAMES
from core.evaluation import ARTICLE_RESULTS, THRESHOLD
from core.kinds import KINDS

EMPTY = "empty"
HIGHER_THRESHOLD = 0.9  # the threshold step asks what raising 0.5 to this does
SCALE = 0.5  # the BCE-against-CCE step asks what multiplying the CCE outputs by this does
LAB_MARGIN = 0.05  # an ending "works at 0.5" when that costs it at most this much exact match


@dataclass(frozen=True)
class Question:
    kind: str  # a key of QUESTIONS: how the answer is computed
    prompt: str  # may name {cam_class}
    choices: tuple[str, ...]  # what the student picks from (several for "classes")
    several: bool = False  # whether the student picks a set rather than one choice


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    text: str  # at most three sentences; {placeholders} from `lesson_facts`
    classes: tuple[str, str, str, str]  # per quadrant: a CIFAR-10 class or "empty"
    samples: tuple[int, int, int, int] = (0, 0, 0, 0)  # which gallery image of each class
    models: tuple[str, ...] = ()  # manifest names, shown side by side after the reveal
    panels: tuple[str, ...] = ()  # what the step shows: see demo.lesson_page.PANELS
    question: Question | None = None
    cam_class: str | None = None  # the class of the activation-map step
    after: str = ""  # one sentence shown with the answer; {placeholders} too
    lab_data: str | None = None  # a data family: the step trains every ending in the lab on it


COUNTS = ("0", "1", "2", "3", "4 or more")
CHANGES = ("get smaller", "stay the same", "get bigger")
LOSS_CHANGES = ("go up", "stay the same", "go down")

STEPS = (
    Step(
        slug="input",
        title="What the model sees",
        text=(
            "Four CIFAR-10 pictures, each 32x32 pixels, are tiled 2x2 into one 64x64 image. Its "
            "label is not one class but ten slots, one per class, with a 1 for every class in "
            "the picture: a multi-hot label."
        ),
        classes=("airplane", "frog", "dog", "deer"),
        samples=(25, 18, 3, 1),
        panels=("label",),
        question=Question(
            "label_count", "How many of the ten label slots hold a 1 for this image?", COUNTS
        ),
        after="Multi-class means one 1 among ten; multi-label means any number of them.",
    ),
    Step(
        slug="sigmoids",
        title="One sigmoid per class",
        text=(
            "The network ends in ten sigmoids, each a separate yes/no question: is there a cat? "
            "is there a ship? A class counts as present when its output is at least {threshold}."
        ),
        classes=("cat", "ship", "deer", "frog"),
        samples=(14, 15, 17, 16),
        models=("bce",),
        panels=("bars",),
        question=Question(
            "passing_classes",
            "Which classes will the model say are present (output at least {threshold})?",
            CLASS_NAMES,
            several=True,
        ),
        after=(
            "Each output was compared with {threshold} on its own: no class took anything from "
            "another."
        ),
    ),
    Step(
        slug="threshold",
        title="The threshold decides the set",
        text=(
            "The threshold turns ten outputs into a predicted set; exact match asks for the whole "
            "set to be right. Raise it and a class needs more confidence to stay in."
        ),
        classes=("deer", "truck", "dog", "airplane"),
        samples=(7, 1, 11, 22),
        models=("bce",),
        panels=("threshold", "bars"),
        question=Question(
            "higher_threshold",
            "If the threshold rises from {threshold} to {higher_threshold}, the predicted set "
            "will…",
            CHANGES,
        ),
        after="Move the threshold yourself: watch the set and the exact match change.",
    ),
    Step(
        slug="softmax",
        title="Softmax shares one unit",
        text=(
            "A multi-class network ends in a softmax: its ten outputs always sum to 1. With four "
            "objects in the picture, they must share that one unit."
        ),
        classes=("cat", "truck", "bird", "ship"),
        samples=(14, 11, 7, 29),
        models=("softmax",),
        panels=("topk", "bars"),
        question=Question(
            "softmax_count", "How many labels will the softmax model answer at {threshold}?", COUNTS
        ),
        after=(
            "Top-k names the k largest outputs: set it to 4 and the set comes back, but only "
            "because you told it how many objects there are."
        ),
    ),
    Step(
        slug="bce-cce",
        title="BCE against CCE: where is the threshold?",
        text=(
            "Both models end in sigmoids; one learned with binary cross-entropy, the other with "
            "categorical cross-entropy. On the test set they reach {bce_exact_match} and "
            "{cce_exact_match} exact match at {threshold}, but their best thresholds are "
            "{bce_best_threshold} and {cce_best_threshold}."
        ),
        classes=("bird", "cat", "dog", "deer"),
        samples=(0, 27, 3, 12),
        models=("bce", "cce"),
        panels=("bars", "scale"),
        question=Question(
            "scaled_cce_loss",
            "Multiply every output of the CCE model by {scale}. Its categorical loss will…",
            LOSS_CHANGES,
        ),
        after=(
            "Binary cross-entropy asks each output to be 0 or 1, so {threshold} means something "
            "to it."
        ),
    ),
    Step(
        slug="fewer-objects",
        title="Take objects away",
        text=(
            "Here is one object and three empty quadrants. The article's models only ever saw "
            "four distinct classes; the models trained on one to four objects saw every count."
        ),
        classes=("frog", EMPTY, EMPTY, EMPTY),
        samples=(1, 0, 0, 0),
        models=("bce", "bce-one-to-four"),
        panels=("bars",),
        question=Question(
            "one_object_count",
            "How many labels will the article's BCE model answer for this one frog?",
            COUNTS,
        ),
        after=(
            "On the test composites with one object, the article's BCE model answers "
            "{bce_one_object_labels} labels on average; the one trained on one to four objects "
            "answers {bce_one_to_four_one_object_labels}."
        ),
    ),
    Step(
        slug="where",
        title="Where the model looks",
        text=(
            "An activation map shows which part of the image pushed one output up. It is exact "
            "for this network: the class's weights applied to the last convolution block."
        ),
        classes=("automobile", "cat", "deer", "truck"),
        samples=(17, 9, 6, 4),
        models=("bce",),
        panels=("maps",),
        cam_class="cat",
        question=Question(
            "cam_quadrant",
            "Where will the model find the evidence for “{cam_class}”?",
            QUADRANT_NAMES,
        ),
        after="The model was never told where the objects are; it found them on its own.",
    ),
    Step(
        slug="lab",
        title="Train every ending yourself",
        text=(
            "The loss lab trains only the last layer, on one frozen trunk's features of "
            "composites with one to four objects, once for every ending and loss, with SGD as "
            "in the article. At {threshold}, some endings find the right classes about as well "
            "as at their best threshold; others need a threshold of their own."
        ),
        classes=("horse", EMPTY, "ship", EMPTY),
        samples=(5, 0, 8, 0),
        panels=("lab",),
        question=Question(
            "lab_endings",
            "Which endings will lose at most {lab_margin} of exact match by deciding at "
            "{threshold} instead of at their best threshold?",
            tuple(kind.short for kind in KINDS.values()),
            several=True,
        ),
        after=(
            "Binary cross-entropy asks every output for 0 or 1 on its own, so at {threshold} it "
            "stays close to its best; [try any ending in the lab](?lab=1)."
        ),
        lab_data="one-to-four",
    ),
    Step(
        slug="summary",
        title="What we learned",
        text=(
            "End a multi-label network in sigmoids, not a softmax, and train it with binary, not "
            "categorical, cross-entropy. On the test set our BCE model reaches {bce_exact_match} "
            "exact match (the article: {article_bce_exact_match}); the CCE model "
            "{cce_exact_match} (the article: {article_cce_exact_match})."
        ),
        classes=("frog", "horse", "dog", "ship"),
        samples=(28, 18, 27, 28),
        panels=("results",),
    ),
)


# ---------------------------------------------------------------------------------------------
# Answers, from the models' outputs on the step's composite
# ---------------------------------------------------------------------------------------------


def count_choice(count: int) -> str:
    return COUNTS[min(count, len(COUNTS) - 1)]


def label_count(step, truth, outputs, maps) -> tuple[object, str]:
    count = int(np.sum(truth))
    return count_choice(count), f"The image holds {count} classes, so {count} slots hold a 1."


def passing_classes(step, truth, outputs, maps) -> tuple[object, str]:
    probabilities = outputs[step.models[0]]
    answer = tuple(c for c, p in zip(CLASS_NAMES, probabilities, strict=True) if p >= THRESHOLD)
    return answer, f"{len(answer)} of the ten outputs reached {THRESHOLD}."


def higher_threshold(step, truth, outputs, maps) -> tuple[object, str]:
    probabilities = outputs[step.models[0]]
    at_half = int(np.sum(probabilities >= THRESHOLD))
    higher = int(np.sum(probabilities >= HIGHER_THRESHOLD))
    answer = CHANGES[0] if higher < at_half else CHANGES[1]
    return answer, (
        f"{at_half} outputs reach {THRESHOLD} and {higher} reach {HIGHER_THRESHOLD}: a higher "
        "threshold can only take classes away."
    )


def softmax_count(step, truth, outputs, maps) -> tuple[object, str]:
    probabilities = outputs[step.models[0]]
    count = int(np.sum(probabilities >= THRESHOLD))
    return count_choice(count), (
        f"Its outputs sum to {probabilities.sum():.2f}; the largest is {probabilities.max():.2f}, "
        f"so {count} reach {THRESHOLD}."
    )


def scaled_cce_loss(step, truth, outputs, maps) -> tuple[object, str]:
    from core.evaluation import binary_cross_entropy, categorical_cross_entropy

    probabilities = np.asarray(outputs[step.models[-1]], dtype=np.float64)
    before = float(categorical_cross_entropy(truth, probabilities))
    after = float(categorical_cross_entropy(truth, SCALE * probabilities))
    bce_before = float(binary_cross_entropy(truth, probabilities))
    bce_after = float(binary_cross_entropy(truth, SCALE * probabilities))
    if abs(after - before) < 1e-3:
        answer = LOSS_CHANGES[1]
    else:
        answer = LOSS_CHANGES[0] if after > before else LOSS_CHANGES[2]
    return answer, (
        f"CCE divides the outputs by their sum, so it stays at {before:.3f}; binary "
        f"cross-entropy on the same outputs goes from {bce_before:.3f} to {bce_after:.3f}."
    )


def one_object_count(step, truth, outputs, maps) -> tuple[object, str]:
    counts = {name: int(np.sum(outputs[name] >= THRESHOLD)) for name in step.models}
    first, second = step.models[0], step.models[-1]
    return count_choice(counts[first]), (
        f"The article's BCE model answers {counts[first]} label{'s' * (counts[first] != 1)}; "
        f"the model trained on one to four objects answers {counts[second]}."
    )


def quadrant_evidence(activation_map: np.ndarray) -> np.ndarray:
    """The positive evidence in each quadrant of an (h, w) map, as shares of the whole."""
    positive = np.maximum(np.asarray(activation_map, dtype=np.float64), 0.0)
    half_h, half_w = positive.shape[0] // 2, positive.shape[1] // 2
    sums = np.array(
        [
            positive[:half_h, :half_w].sum(),
            positive[:half_h, half_w:].sum(),
            positive[half_h:, :half_w].sum(),
            positive[half_h:, half_w:].sum(),
        ]
    )
    total = sums.sum()
    return sums / total if total > 0 else np.full(4, 0.25)


def cam_quadrant(step, truth, outputs, maps) -> tuple[object, str]:
    shares = quadrant_evidence(maps[step.models[0]][..., CLASS_NAMES.index(step.cam_class)])
    best = int(np.argmax(shares))
    return QUADRANT_NAMES[best], (
        f"The {QUADRANT_NAMES[best]} quadrant holds {shares[best]:.0%} of the positive evidence "
        f"for “{step.cam_class}”."
    )


def margin_text() -> str:
    return f"{LAB_MARGIN * 100:.0f} points"


def lab_endings(step, truth, outputs, maps) -> tuple[object, str]:
    """`outputs` here are {kind: the lab's final figures} of a run of every kind (`core.lab`)."""
    # Rounded: a cost of exactly the margin counts, whatever the floating point says.
    cost = {k: round(f["best_exact_match"] - f["exact_match"], 9) for k, f in outputs.items()}
    works = tuple(KINDS[k].short for k in outputs if cost[k] <= LAB_MARGIN)
    others = [
        f"{KINDS[k].short} would be best at {outputs[k]['best_threshold']:.2f}"
        for k in outputs
        if cost[k] > LAB_MARGIN
    ]
    why = f"{', '.join(works) or 'None'} lost at most {margin_text()} at {THRESHOLD}"
    return works, why + (f"; {', '.join(others)}." if others else ".")


QUESTIONS = {
    "label_count": label_count,
    "passing_classes": passing_classes,
    "higher_threshold": higher_threshold,
    "softmax_count": softmax_count,
    "scaled_cce_loss": scaled_cce_loss,
    "one_object_count": one_object_count,
    "cam_quadrant": cam_quadrant,
    "lab_endings": lab_endings,
}


def answer(step: Step, truth, outputs: dict, maps: dict) -> tuple[object, str]:
    """(the right choice, or a tuple of classes for a set question; why) for `step`'s question,
    from `outputs` ({model name: probabilities}) and `maps` ({model name: (h, w, 10) maps}); for
    a step with `lab_data`, `outputs` are {kind: figures} of the lab's runs on that data."""
    return QUESTIONS[step.question.kind](step, np.asarray(truth), outputs, maps)


def is_right(step: Step, guess, right) -> bool:
    if step.question.several:
        return set(guess or ()) == set(right)
    return guess == right


# ---------------------------------------------------------------------------------------------
# Figures quoted in the text, from the committed evaluation
# ---------------------------------------------------------------------------------------------


def lesson_facts(report: dict | None) -> dict[str, str]:
    """{placeholder: text} for the steps' figures; "?" where the evaluation lacks one."""
    facts = {"threshold": f"{THRESHOLD}", "higher_threshold": f"{HIGHER_THRESHOLD}"}
    facts["scale"] = f"{SCALE}"
    facts["lab_margin"] = margin_text()
    for loss, numbers in ARTICLE_RESULTS.items():
        facts[f"article_{loss}_exact_match"] = f"{numbers['exact_match']:.2%}"
    models = (report or {}).get("models", {})
    for name, result in models.items():
        key = name.replace("-", "_")
        facts[f"{key}_exact_match"] = f"{result['exact_match']:.2%}"
        facts[f"{key}_best_threshold"] = f"{result['best_threshold']['threshold']:.2f}"
        one = result["by_set"].get("one_to_four", {}).get("by_objects", {}).get("1")
        if one:
            facts[f"{key}_one_object_labels"] = f"{one['mean_predicted_labels']:.2f}"
    return facts


class MissingFacts(dict):
    def __missing__(self, key):
        return "?"


def fill(text: str, facts: dict[str, str], **more) -> str:
    return text.format_map(MissingFacts({**facts, **more}))
