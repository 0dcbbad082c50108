"""The pages of the app, one table: each page's name, its path in the address, its title, the
module whose `page()` draws it, and the address parameter that chose it before pages had paths.

    /                 the free workbench          (old: /?c0=...)
    /lesson?step=3    the guided lesson           (old: /?step=3)
    /lab              the loss lab                (old: /?lab=1)
    /room?room=CODE   a class room, /room?room=new its start form  (old: /?room=CODE)

Query parameters keep the state inside a page (`demo.url`); every link the app hands out comes
from `link`, which carries the page's language. An address from before the paths (a printed QR
code, a bookmark) still opens its page: `old_route` finds it, and the frame moves there with
every parameter kept. Nothing here imports Streamlit or a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from demo.i18n import N_

LANGUAGE_PARAM = "lang"


@dataclass(frozen=True)
class Route:
    name: str
    url_path: str  # "" for the default page
    title: str  # the browser tab's title, marked for translation
    module: str  # the module whose `page()` draws it
    old_parameter: str | None  # the parameter that chose the page in an address without a path


WORKBENCH = Route(
    "workbench", "", N_("Multi-label vs multi-class"), "demo.app_pages.workbench", None
)
LESSON = Route("lesson", "lesson", N_("Guided lesson"), "demo.app_pages.lesson", "step")
LAB = Route("lab", "lab", N_("Loss lab"), "demo.app_pages.lab", "lab")
ROOM = Route("room", "room", N_("Class room"), "demo.app_pages.room", "room")
# The room comes first: before paths, an address with ?room= opened the room whatever else it had.
ROUTES = (ROOM, LESSON, LAB, WORKBENCH)
BY_NAME = {route.name: route for route in ROUTES}


def route(name: str) -> Route:
    if name not in BY_NAME:
        raise ValueError(f"No page is called {name!r}; the pages are {', '.join(BY_NAME)}.")
    return BY_NAME[name]


def old_route(query: Mapping[str, object]) -> Route | None:
    """The page an address without a path chose by its parameters, or None for the workbench."""
    return next(
        (r for r in ROUTES if r.old_parameter is not None and r.old_parameter in query), None
    )


def link(name: str, language: str | None = None, **params: object) -> str:
    """A relative address of page `name` with `params`, in `language` when one is given:
    link("lesson", "ja", step=1) -> "./lesson?step=1&lang=ja"."""
    path = "./" + route(name).url_path
    query = {key: str(value) for key, value in params.items() if value is not None}
    if language is not None:
        query[LANGUAGE_PARAM] = language
    return f"{path}?{urlencode(query)}" if query else path
