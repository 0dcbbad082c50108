"""The guided lesson, as data: each step's text, composite, models, panels and question.

A step's text may quote figures only through `{placeholders}` filled from the committed
evaluation JSON (`lesson_facts`); a question's answer is computed from the models' outputs on the
step's composite or from the loss lab's runs (`QUESTIONS`), never written down.
`demo.ui.lesson_step` draws a step; nothing here draws, so the steps and the answers are tested as
plain data and functions.

Every text a step shows is marked with `N_` and translated where it is shown (`_(step.title)`;
`fill(_(step.text), facts)`: the template first, the facts afterwards). The choices stay English
values (they are compared with the answer and stored by the class room) and are shown through
`choice_text`; the answers' "why" texts are translated when they are computed, in the page's
language (English outside a page).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data import CLASS_NAMES, QUADRANT_NAMES
from core.evaluation import ARTICLE_RESULTS, THRESHOLD
from core.kinds import KINDS
from core.map_aim import cell_fractions, quadrant_masks, region_shares
from demo import terms
from demo.i18n import N_, _, ngettext

EMPTY = terms.EMPTY  # "empty"
HIGHER_THRESHOLD = 0.9  # the threshold step asks what raising 0.5 to this does
SCALE = 0.5  # the BCE-against-CCE step asks what multiplying the CCE outputs by this does
LAB_MARGIN = 0.05  # an ending "works at 0.5" when that costs it at most this much exact match


@dataclass(frozen=True)
class Question:
    kind: str  # a key of QUESTIONS: how the answer is computed
    prompt: str  # may name {cam_class}
    choices: tuple[str, ...]  # what the student picks from (several for "classes")
    several: bool = False  # whether the student picks a set rather than one choice
    # One line per choice, in the order of `choices`: the belief that picking it stands for when
    # it is not the models' answer (marked with N_, translated where shown; "" for none).
    misconceptions: tuple[str, ...] = ()
    # A set question's two beliefs: behind naming a choice the answer lacks, and behind leaving
    # out one it holds.
    naming_extra: str = ""
    leaving_out: str = ""

    def __post_init__(self):
        if self.misconceptions and len(self.misconceptions) != len(self.choices):
            raise ValueError(
                f"The question {self.kind!r} has {len(self.choices)} choices but "
                f"{len(self.misconceptions)} misconception lines: give one per choice, in order."
            )


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    text: str  # at most three sentences; {placeholders} from `lesson_facts`
    classes: tuple[str, str, str, str]  # per quadrant: a CIFAR-10 class or "empty"
    samples: tuple[int, int, int, int] = (0, 0, 0, 0)  # which gallery image of each class
    models: tuple[str, ...] = ()  # manifest names, shown side by side after the reveal
    panels: tuple[str, ...] = ()  # what the step shows: see demo.lesson_step.PANELS
    question: Question | None = None
    cam_class: str | None = None  # the class of the activation-map step
    after: str = ""  # one sentence shown with the answer; {placeholders} too
    lab_data: str | None = None  # a data family: the step trains every ending in the lab on it
    layout: str = "grid"  # "grid": the classes tiled 2x2; "fill": the first fills the picture


COUNTS = ("0", "1", "2", "3", N_("4 or more"))
BIG_OBJECT_ANSWERS = (
    N_("the cat, and nothing else"),
    N_("the cat and other classes"),
    N_("other classes, not the cat"),
    N_("no class at all"),
)
CHANGES = (N_("get smaller"), N_("stay the same"), N_("get bigger"))
LOSS_CHANGES = (N_("go up"), N_("stay the same"), N_("go down"))
WRONG_QUADRANT = N_("a class's map lights up the strongest object, not the class it is for")
SHORTS = tuple(kind.short for kind in KINDS.values())
# The kinds' shorts are model labels and stay as they are, but for the one that is an English word.
SHORT_WORDS = (N_("focal"),)

STEPS = (
    Step(
        slug="input",
        title=N_("What the model sees"),
        text=N_(
            "Four CIFAR-10 pictures, each 32x32 pixels, are tiled 2x2 into one 64x64 image. Its "
            "label is not one class but ten slots, one per class, with a 1 for every class in "
            "the picture: a multi-hot label."
        ),
        classes=("airplane", "frog", "dog", "deer"),
        samples=(25, 18, 3, 1),
        panels=("label",),
        question=Question(
            "label_count",
            N_("How many of the ten label slots hold a 1 for this image?"),
            COUNTS,
            misconceptions=(
                N_("the label holds the model's guesses, not the classes really in the image"),
                N_("an image has one label, as in multi-class classification"),
                N_("only some of the four pictures get a 1 in the label"),
                N_("one of the four pictures gets no slot of its own"),
                N_("the label has a 1 for every class the image could be, not only those in it"),
            ),
        ),
        after=N_("Multi-class means one 1 among ten; multi-label means any number of them."),
    ),
    Step(
        slug="sigmoids",
        title=N_("One sigmoid per class"),
        text=N_(
            "The network ends in ten sigmoids, each a separate yes/no question: is there a cat? "
            "is there a ship? A class counts as present when its output is at least {threshold}."
        ),
        classes=("cat", "ship", "deer", "frog"),
        samples=(14, 15, 17, 16),
        models=("bce",),
        panels=("bars",),
        question=Question(
            "passing_classes",
            N_("Which classes will the model say are present (output at least {threshold})?"),
            CLASS_NAMES,
            several=True,
            naming_extra=N_("the model names whatever is in the picture, whatever its outputs say"),
            leaving_out=N_("the outputs must add up to 1, so only the strongest classes pass"),
        ),
        after=N_(
            "Each output was compared with {threshold} on its own: no class took anything from "
            "another."
        ),
    ),
    Step(
        slug="threshold",
        title=N_("The threshold decides the set"),
        text=N_(
            "The threshold turns ten outputs into a predicted set; exact match asks for the whole "
            "set to be right. Raise it and a class needs more confidence to stay in."
        ),
        classes=("deer", "truck", "dog", "airplane"),
        samples=(7, 1, 11, 22),
        models=("bce",),
        panels=("threshold", "bars"),
        question=Question(
            "higher_threshold",
            N_(
                "If the threshold rises from {threshold} to {higher_threshold}, the predicted set "
                "will…"
            ),
            CHANGES,
            misconceptions=(
                N_("a higher threshold always drops a class, even with no output between the two"),
                N_("the threshold does not change which classes are in the set"),
                N_("a higher threshold lets more classes in"),
            ),
        ),
        after=N_("Move the threshold yourself: watch the set and the exact match change."),
    ),
    Step(
        slug="softmax",
        title=N_("Softmax shares one unit"),
        text=N_(
            "A multi-class network ends in a softmax: its ten outputs always sum to 1. With four "
            "objects in the picture, they must share that one unit."
        ),
        classes=("cat", "truck", "bird", "ship"),
        samples=(14, 11, 7, 29),
        models=("softmax",),
        panels=("topk", "bars"),
        question=Question(
            "softmax_count",
            N_("How many labels will the softmax model answer at {threshold}?"),
            COUNTS,
            misconceptions=(
                N_("outputs that share one unit can never reach {threshold}"),
                N_("a softmax always names its top class, however small its share"),
                N_("several outputs can reach {threshold} although all ten add up to 1"),
                N_("several outputs can reach {threshold} although all ten add up to 1"),
                N_("each softmax output says yes or no on its own, as a sigmoid does"),
            ),
        ),
        after=N_(
            "Top-k names the k largest outputs: set it to 4 and the set comes back, but only "
            "because you told it how many objects there are."
        ),
    ),
    Step(
        slug="bce-cce",
        title=N_("BCE against CCE: where is the threshold?"),
        text=N_(
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
            N_("Multiply every output of the CCE model by {scale}. Its categorical loss will…"),
            LOSS_CHANGES,
            misconceptions=(
                N_("CCE's loss cares about the scale: smaller outputs cost more"),
                N_("a loss never changes when only the scale of the outputs changes"),
                N_("CCE's loss cares about the scale: smaller outputs cost less"),
            ),
        ),
        after=N_(
            "Binary cross-entropy asks each output to be 0 or 1, so {threshold} means something "
            "to it."
        ),
    ),
    Step(
        slug="fewer-objects",
        title=N_("Take objects away"),
        text=N_(
            "Here is one object and three empty quadrants. The article's models only ever saw "
            "four distinct classes; the models trained on one to four objects saw every count."
        ),
        classes=("frog", EMPTY, EMPTY, EMPTY),
        samples=(1, 0, 0, 0),
        models=("bce", "bce-one-to-four"),
        panels=("bars",),
        question=Question(
            "one_object_count",
            N_("How many labels will the article's BCE model answer for this one frog?"),
            COUNTS,
            misconceptions=(
                N_("a model trained on four objects finds nothing in a picture of one"),
                N_("the model names what is in the picture, whatever it saw in training"),
                N_("the model's count falls between the one object shown and the four it saw"),
                N_("the model's count falls between the one object shown and the four it saw"),
                N_("the model always names as many classes as it saw in training"),
            ),
        ),
        after=N_(
            "On the test composites with one object, the article's BCE model answers "
            "{bce_one_object_labels} labels on average; the one trained on one to four objects "
            "answers {bce_one_to_four_one_object_labels}."
        ),
    ),
    Step(
        slug="where",
        title=N_("Where the model looks"),
        text=N_(
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
            N_("Where will the model find the evidence for “{cam_class}”?"),
            QUADRANT_NAMES,
            misconceptions=(WRONG_QUADRANT,) * len(QUADRANT_NAMES),
        ),
        after=N_("The model was never told where the objects are; it found them on its own."),
    ),
    Step(
        slug="lab",
        title=N_("Train every ending yourself"),
        text=N_(
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
            N_(
                "Which endings will lose at most {lab_margin} of exact match by deciding at "
                "{threshold} instead of at their best threshold?"
            ),
            SHORTS,
            several=True,
            naming_extra=N_(
                "every ending's outputs mean the same at {threshold}, whatever its loss"
            ),
            leaving_out=N_("no ending decides well at {threshold} without a threshold of its own"),
        ),
        after=N_(
            "Binary cross-entropy asks every output for 0 or 1 on its own, so at {threshold} it "
            "stays close to its best; [try any ending in the lab](./lab)."
        ),
        lab_data="one-to-four",
    ),
    Step(
        slug="summary",
        title=N_("What we learned"),
        text=N_(
            "End a multi-label network in sigmoids, not a softmax, and train it with binary, not "
            "categorical, cross-entropy. On the test set our BCE model reaches {bce_exact_match} "
            "exact match (the article: {article_bce_exact_match}); the CCE model "
            "{cce_exact_match} (the article: {article_cce_exact_match})."
        ),
        classes=("frog", "horse", "dog", "ship"),
        samples=(28, 18, 27, 28),
        panels=("results",),
    ),
    Step(
        slug="big-object",
        title=N_("The grid is not the world"),
        text=N_(
            "Every picture so far was tiled 2x2, each object 32 pixels wide in its quadrant. A "
            "photo is not: here one cat fills the whole picture. The article's model never saw "
            "an object this big; the models trained on objects anywhere, at any size, did."
        ),
        classes=("cat", EMPTY, EMPTY, EMPTY),
        samples=(2, 0, 0, 0),
        layout="fill",
        models=("bce", "bce-anywhere"),
        panels=("bars",),
        question=Question(
            "big_object",
            N_("What will the article's BCE model name in this picture at {threshold}?"),
            BIG_OBJECT_ANSWERS,
            misconceptions=(
                N_("a model knows a class at any size, even one it never saw that big"),
                N_("the model still finds the cat at a size it never saw"),
                N_("a picture unlike the training ones makes the model miss the cat entirely"),
                N_("a model meeting an unfamiliar picture stays silent"),
            ),
        ),
        after=N_(
            "On test pictures of one object filling the frame, the BCE model trained on objects "
            "anywhere names exactly the right class in {bce_anywhere_fill_exact_match} of them."
        ),
    ),
)


# ---------------------------------------------------------------------------------------------
# Answers, from the models' outputs on the step's composite
# ---------------------------------------------------------------------------------------------


def count_choice(count: int) -> str:
    return COUNTS[min(count, len(COUNTS) - 1)]


def short_text(short: str) -> str:
    """A kind's short as the page shows it: a model label stays as it is, a word is translated."""
    return _(short) if short in SHORT_WORDS else short


def choice_text(choice: str) -> str:
    """A choice as the page shows it (`format_func` of the choices): the value itself stays
    English, since it is compared with the answer and stored by the class room."""
    return short_text(choice) if choice in SHORTS else _(choice)


def list_text(items) -> str:
    """Shown items as one list in the page's language ("cat, ship")."""
    return _(", ").join(items)


def label_count(step, truth, outputs, maps) -> tuple[object, str]:
    count = int(np.sum(truth))
    why = _("The image holds {count} classes, so {count} slots hold a 1.").format(count=count)
    return count_choice(count), why


def passing_classes(step, truth, outputs, maps) -> tuple[object, str]:
    probabilities = outputs[step.models[0]]
    answer = tuple(c for c, p in zip(CLASS_NAMES, probabilities, strict=True) if p >= THRESHOLD)
    why = _("{count} of the ten outputs reached {threshold}.")
    return answer, why.format(count=len(answer), threshold=THRESHOLD)


def higher_threshold(step, truth, outputs, maps) -> tuple[object, str]:
    probabilities = outputs[step.models[0]]
    at_half = int(np.sum(probabilities >= THRESHOLD))
    higher = int(np.sum(probabilities >= HIGHER_THRESHOLD))
    answer = CHANGES[0] if higher < at_half else CHANGES[1]
    why = _(
        "{at_threshold} outputs reach {threshold} and {higher} reach {higher_threshold}: a "
        "higher threshold can only take classes away."
    )
    return answer, why.format(
        at_threshold=at_half,
        threshold=THRESHOLD,
        higher=higher,
        higher_threshold=HIGHER_THRESHOLD,
    )


def softmax_count(step, truth, outputs, maps) -> tuple[object, str]:
    probabilities = outputs[step.models[0]]
    count = int(np.sum(probabilities >= THRESHOLD))
    why = _("Its outputs sum to {total}; the largest is {largest}, so {count} reach {threshold}.")
    return count_choice(count), why.format(
        total=f"{probabilities.sum():.2f}",
        largest=f"{probabilities.max():.2f}",
        count=count,
        threshold=THRESHOLD,
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
    why = _(
        "CCE divides the outputs by their sum, so it stays at {loss}; binary cross-entropy on "
        "the same outputs goes from {bce_before} to {bce_after}."
    )
    return answer, why.format(
        loss=f"{before:.3f}", bce_before=f"{bce_before:.3f}", bce_after=f"{bce_after:.3f}"
    )


def one_object_count(step, truth, outputs, maps) -> tuple[object, str]:
    counts = {name: int(np.sum(outputs[name] >= THRESHOLD)) for name in step.models}
    first, second = step.models[0], step.models[-1]
    why = ngettext(
        "The article's BCE model answers {count} label; the model trained on one to four "
        "objects answers {other}.",
        "The article's BCE model answers {count} labels; the model trained on one to four "
        "objects answers {other}.",
        counts[first],
    )
    return count_choice(counts[first]), why.format(count=counts[first], other=counts[second])


def named_classes(probabilities) -> set[str]:
    return {c for c, p in zip(CLASS_NAMES, probabilities, strict=True) if p >= THRESHOLD}


def big_object(step, truth, outputs, maps) -> tuple[object, str]:
    """What the first model names for the one big object, `step.classes[0]`."""
    named = named_classes(outputs[step.models[0]])
    present = step.classes[0]
    if named == {present}:
        answer = BIG_OBJECT_ANSWERS[0]
    elif present in named:
        answer = BIG_OBJECT_ANSWERS[1]
    else:
        answer = BIG_OBJECT_ANSWERS[2] if named else BIG_OBJECT_ANSWERS[3]
    said = [
        list_text(terms.term(c) for c in CLASS_NAMES if c in named_classes(outputs[name]))
        or _("nothing")
        for name in step.models
    ]
    why = _(
        "The article's BCE model names {first}; the BCE model trained on objects anywhere "
        "names {second}."
    )
    return answer, why.format(first=said[0], second=said[-1])


def quadrant_evidence(activation_map: np.ndarray) -> np.ndarray:
    """The positive evidence in each quadrant of an (h, w) map, as shares of the whole
    (`core.map_aim.region_shares`, which the evaluation's map aim uses too); a map with no
    positive evidence shares it equally."""
    activation_map = np.asarray(activation_map, dtype=np.float64)
    fractions = cell_fractions(quadrant_masks(), activation_map.shape)
    shares = region_shares(activation_map[None, :, :, None], fractions)[0, :, 0]
    return shares if shares.sum() > 0 else np.full(4, 0.25)


def cam_quadrant(step, truth, outputs, maps) -> tuple[object, str]:
    shares = quadrant_evidence(maps[step.models[0]][..., CLASS_NAMES.index(step.cam_class)])
    best = int(np.argmax(shares))
    why = _("The {quadrant} quadrant holds {share} of the positive evidence for “{cam_class}”.")
    return QUADRANT_NAMES[best], why.format(
        quadrant=terms.term(QUADRANT_NAMES[best]),
        share=f"{shares[best]:.0%}",
        cam_class=terms.term(step.cam_class),
    )


def margin_text() -> str:
    return _("{points} points").format(points=f"{LAB_MARGIN * 100:.0f}")


def lab_endings(step, truth, outputs, maps) -> tuple[object, str]:
    """`outputs` here are {kind: the lab's final figures} of a run of every kind (`core.lab`)."""
    # Rounded: a cost of exactly the margin counts, whatever the floating point says.
    cost = {k: round(f["best_exact_match"] - f["exact_match"], 9) for k, f in outputs.items()}
    works = tuple(KINDS[k].short for k in outputs if cost[k] <= LAB_MARGIN)
    others = [
        _("{ending} would be best at {threshold}").format(
            ending=short_text(KINDS[k].short), threshold=f"{outputs[k]['best_threshold']:.2f}"
        )
        for k in outputs
        if cost[k] > LAB_MARGIN
    ]
    if works and others:
        why = _("{endings} lost at most {margin} at {threshold}; {others}.")
    elif works:
        why = _("{endings} lost at most {margin} at {threshold}.")
    elif others:
        why = _("None lost at most {margin} at {threshold}; {others}.")
    else:
        why = _("None lost at most {margin} at {threshold}.")
    return works, why.format(
        endings=list_text(short_text(short) for short in works),
        margin=margin_text(),
        threshold=THRESHOLD,
        others=list_text(others),
    )


QUESTIONS = {
    "label_count": label_count,
    "passing_classes": passing_classes,
    "higher_threshold": higher_threshold,
    "softmax_count": softmax_count,
    "scaled_cce_loss": scaled_cce_loss,
    "one_object_count": one_object_count,
    "cam_quadrant": cam_quadrant,
    "lab_endings": lab_endings,
    "big_object": big_object,
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
        fill = result.get("by_layout", {}).get("fill")
        if fill:
            facts[f"{key}_fill_exact_match"] = f"{fill['exact_match']:.1%}"
    return facts


class MissingFacts(dict):
    def __missing__(self, key):
        return "?"


def fill(text: str, facts: dict[str, str], **more) -> str:
    return text.format_map(MissingFacts({**facts, **more}))
