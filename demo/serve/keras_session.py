"""Keep the Keras session between the server's script runs.

After every script run Streamlit calls `keras.backend.clear_session()` when Keras is imported
(`_clean_problem_modules` in `streamlit.runtime.scriptrunner.script_runner`), a clean-up meant for
apps that build a graph per run. This app builds its models once per process and only calls
compiled functions, so the clean-up is pure cost: measured on one composite's run, the clean-up
and the re-initialisation it forces on the next TensorFlow call held the interpreter lock for
about a third of the run's Python time. Replacing it, once per process, with the same clean-up
minus Keras keeps what Streamlit does for matplotlib.
"""

from __future__ import annotations

import sys


def clean_up_without_keras() -> None:
    """Streamlit's per-run clean-up of stateful modules, without the Keras session."""
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def keep_keras_session() -> bool:
    """Replace Streamlit's per-run clean-up; False, changing nothing, when this Streamlit has no
    such function (a later version may have dropped or renamed it)."""
    from streamlit.runtime.scriptrunner import script_runner

    if not callable(getattr(script_runner, "_clean_problem_modules", None)):
        return False
    script_runner._clean_problem_modules = clean_up_without_keras
    return True
