"""What a serving process changes once, before its first page: Streamlit's per-run Keras clean-up
off, TCP_NODELAY on the server's sockets, limits on the uploads it holds, and the loaded objects
out of the garbage collector's reach."""

from __future__ import annotations

import gc

import streamlit as st

from demo.serve import keras_session, sockets, uploads


@st.cache_resource(show_spinner=False)
def freeze_loaded_objects() -> None:
    """Once per process, after the first page: take every object alive now out of the garbage
    collector's reach.

    After every run Streamlit clears the Keras session, which collects garbage: with TensorFlow
    loaded a full collection walks ~370,000 objects (~170 ms). The modules, models, compiled
    functions and caches loaded by the first page live as long as the process, so freezing them
    leaves each collection only the objects the runs create themselves.
    """
    gc.freeze()


@st.cache_resource(show_spinner=False)
def keep_keras_session() -> bool:
    """Once per process: no Keras clean-up after every run (see `demo.serve.keras_session`)."""
    return keras_session.keep_keras_session()


@st.cache_resource(show_spinner=False)
def server_sockets_without_nagle() -> int:
    """Once per process: TCP_NODELAY on the server's sockets (see `demo.serve.sockets`)."""
    return sockets.disable_nagle()


@st.cache_resource(show_spinner=False)
def bounded_uploads() -> bool:
    """Once per process: limits on the uploads a session and the process hold (see
    `demo.serve.uploads`)."""
    return uploads.bound_uploads()
