"""Streamlit's per-run Keras clean-up is replaced once per process, and only it."""

from __future__ import annotations

import sys
import types

from demo.serve import keras_session


def test_the_clean_up_is_replaced_and_keeps_matplotlib_s(monkeypatch):
    from streamlit.runtime.scriptrunner import script_runner

    monkeypatch.setattr(
        script_runner, "_clean_problem_modules", script_runner._clean_problem_modules
    )
    assert keras_session.keep_keras_session()
    assert script_runner._clean_problem_modules is keras_session.clean_up_without_keras
    closed = []
    pyplot = types.SimpleNamespace(close=closed.append)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", pyplot)
    cleared = []
    keras = types.SimpleNamespace(
        backend=types.SimpleNamespace(clear_session=lambda: cleared.append(1))
    )
    monkeypatch.setitem(sys.modules, "keras", keras)
    script_runner._clean_problem_modules()
    assert closed == ["all"] and cleared == []  # Streamlit's own would have cleared Keras


def test_a_streamlit_without_the_clean_up_is_left_alone(monkeypatch):
    from streamlit.runtime.scriptrunner import script_runner

    monkeypatch.delattr(script_runner, "_clean_problem_modules")
    assert keras_session.keep_keras_session() is False
    assert not hasattr(script_runner, "_clean_problem_modules")
