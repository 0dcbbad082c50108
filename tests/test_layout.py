"""The shape of demo/: pages never import pages, no import cycles, the room store's interface
satisfied by both stores, and nothing under demo/rooms/ imports Streamlit."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from demo.rooms.redis_store import RedisStore
from demo.rooms.sqlite_store import SQLiteStore
from demo.rooms.store import RoomStore

DEMO = Path(__file__).resolve().parents[1] / "demo"


def module_name(path: Path) -> str:
    parts = path.relative_to(DEMO.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The demo modules `path` imports, at any depth of its code (lazy imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("demo")}


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in DEMO.rglob("*.py")}
    return {name: imports_of(path) & set(modules) for name, path in modules.items()}


def test_no_page_imports_another_page():
    for name, imported in graph().items():
        if name.startswith("demo.app_pages."):
            pages = {m for m in imported if m.startswith("demo.app_pages.")}
            assert pages == set(), (name, pages)


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph `edges` as a path that returns to its start, or None."""
    state: dict[str, str] = {}

    def visit(name, trail):
        state[name] = "open"
        for target in sorted(edges.get(name, ())):
            if state.get(target) == "open":
                return [*trail, name, target]
            if target not in state and (cycle := visit(target, [*trail, name])):
                return cycle
        state[name] = "done"
        return None

    for name in sorted(edges):
        if name not in state and (cycle := visit(name, [])):
            return cycle
    return None


def test_demo_has_no_import_cycle():
    # A package's own __init__ importing its submodules is how a package shows its surface.
    edges = {
        name: {m for m in imported if not m.startswith(name + ".")}
        for name, imported in graph().items()
    }
    assert find_cycle(edges) is None


def test_the_cycle_check_finds_a_cycle_and_the_graph_is_real():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert "demo.ui.panels" in graph()["demo.app_pages.workbench"]


def test_rooms_know_nothing_of_streamlit_or_pages():
    for path in (DEMO / "rooms").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not any(n.startswith("streamlit") for n in names), path.name
        assert not any(n.startswith(("demo.app_pages", "demo.ui")) for n in names), path.name


def test_both_stores_have_the_interface_s_methods_and_signatures():
    wanted = {
        name: inspect.signature(member)
        for name, member in vars(RoomStore).items()
        if callable(member) and not name.startswith("_")
    }
    assert {"create", "join", "answer", "tally", "sign_in", "lead"} <= set(wanted)
    for store in (SQLiteStore, RedisStore):
        for name, signature in wanted.items():
            have = inspect.signature(getattr(store, name))
            assert list(have.parameters) == list(signature.parameters), (store.__name__, name)
