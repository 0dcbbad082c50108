"""What every view of the page draws from, gathered once per run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from core.gallery import DEFAULT_PATH as GALLERY_PATH
from demo import cache, lesson, url
from demo.i18n import _

if TYPE_CHECKING:  # the types only: importing core.inference here would load TensorFlow
    from core.inference import Predictor
    from core.manifest import Manifest


@dataclass(frozen=True)
class PageContext:
    """The models and the address's choices that the free page, a lesson step and a class room
    share."""

    folder: str  # where the models and their manifest are
    manifest: Manifest
    predictor: Predictor | None  # every model that loaded, or None when none did
    signature: tuple  # the models' files as they are now: a key for cached predictions
    hidden: frozenset[str]  # the controls `?hide=` leaves out
    model_errors: dict[str, str]  # {model name: why it did not load}


def page_context() -> PageContext | None:
    """Everything the views draw from, built once per run; None, with a message why, when the
    page cannot be drawn."""
    folder = cache.models_folder()
    signature = cache.models_signature(folder)
    manifest, problem = cache.manifest_for(folder, signature)
    if manifest is None:
        st.error(problem)
        return None
    if not warn_about_the_address(manifest):
        return None
    hidden = url.hidden_controls(st.query_params.get("hide"))[0]
    predictor, model_errors = cache.load_predictor(folder, signature)
    return PageContext(folder, manifest, predictor, signature, frozenset(hidden), model_errors)


def warn_about_the_address(manifest) -> bool:
    """Restores the controls from the address (once per session) and warns about the parameters
    it ignored; False, with a message why, when the gallery cannot be read."""
    try:
        sizes = cache.gallery_sizes(str(GALLERY_PATH))
    except ValueError as error:
        st.error(_("{error} Rebuild it with `python -m core.gallery`.").format(error=error))
        return False
    families = [family.data for family in manifest.families]
    problems = url.address_problems(sizes, families, len(lesson.STEPS))
    if problems:
        message = _("Some link parameters were ignored: {problems}.")
        st.warning(message.format(problems="; ".join(problems)))
    return True
