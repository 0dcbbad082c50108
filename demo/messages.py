"""Texts kept in English in caches that every session shares, shown in each page's language."""

from __future__ import annotations

from demo.i18n import _


class Message(str):
    """A text kept in English in a cache shared by every session, with what it takes to show it
    in another language: its message (marked with `N_`) and the values of its placeholders.
    It reads as the English text; `translated` gives it in the page's language."""

    def __new__(cls, message: str, **fields: object):
        text = super().__new__(cls, message.format(**fields))
        text.message, text.fields = message, fields
        return text

    def __reduce__(self):  # a copy (st.cache_data pickles) keeps the message and its fields
        return (_message, (self.message, self.fields))


def _message(message: str, fields: dict) -> Message:
    return Message(message, **fields)


def translated(text: str) -> str:
    """`text` in the page's language when it is a `Message`, else as it is."""
    if isinstance(text, Message):
        return _(text.message).format(**text.fields)
    return str(text)


def train_hint(model) -> str:
    return f"python -m core.train --loss {model.loss} --composites {model.data} --name {model.name}"
