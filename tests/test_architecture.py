"""The shape the design card asks for, checked on the source (static: nothing is run).

Layers, from the bottom: ``directory`` (knows nothing of chat) ← the engine's contract
modules in ``bot`` (messages, dialog, spec, conversation, i18n, state, router, grammar) ←
``dialogs`` ← the engine, NLU and CLI in ``bot`` ← ``adapters``. Module-level imports form
no cycle; dialogs never call the NLU's parser (the engine parses once and hands the parse
over) and import nothing inside functions; the command menu and ``/help`` come from the
dialogs' specs only.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from bot.commands_menu import commands_menu
from bot.i18n import translator
from bot.messages import plain_text
from dialogs import available, get_spec, specs
from dialogs.help import help_spans

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "adapters", "directory", "dialogs")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def _imports(module: str, *, top_level_only: bool) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, at module level) for each import outside TYPE_CHECKING."""
    path = MODULES[module]
    tree = ast.parse(path.read_text("utf-8"))
    skip = _type_checking_lines(tree)
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if node.lineno if isinstance(node, ast.Import | ast.ImportFrom) else False:
            if node.lineno in skip:
                continue
            at_top = id(node) in top
            if top_level_only and not at_top:
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, node.lineno, at_top
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield node.module, node.lineno, at_top
                for alias in node.names:  # "from dialogs import common" imports a module
                    if f"{node.module}.{alias.name}" in MODULES:
                        yield f"{node.module}.{alias.name}", node.lineno, at_top


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        targets = {target for target, _line, _top in _imports(module, top_level_only=True)}
        graph[module] = {t for t in targets if t in MODULES and t != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


#: the one cycle accepted on purpose: models imports search_index at its very end so that
#: the index's ORM listeners are registered wherever entries are written
ACCEPTED_CYCLES = [["directory.models", "directory.search_index"]]


def test_module_level_imports_form_no_cycle() -> None:
    assert _cycles(_graph()) == ACCEPTED_CYCLES


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


#: what each layer may not import (prefixes)
FORBIDDEN = {
    "directory": ("bot", "dialogs", "adapters"),
    "dialogs": ("bot.engine", "bot.wiring", "bot.cli", "bot.commands", "bot.scheduler",
                "bot.nlu", "adapters"),
    "adapters": ("dialogs",),
}
#: the one NLU module dialogs may use (plain word lists, no parser), and localisation,
#: which the directory's own wording (opening hours in words) shares with the chat
ALLOWED = ("bot.nlu.lexicon", "bot.i18n")


def test_each_layer_imports_only_what_is_below_it() -> None:
    wrong = []
    for module in MODULES:
        layer = module.split(".")[0]
        for target, line, _top in _imports(module, top_level_only=False):
            if target in ALLOWED:
                continue
            if any(target == f or target.startswith(f + ".") for f in FORBIDDEN.get(layer, ())):
                wrong.append(f"{module}:{line} imports {target}")
    assert wrong == []


def test_dialogs_import_nothing_inside_functions() -> None:
    inside = [
        f"{module}:{line} {target}"
        for module in MODULES if module.startswith("dialogs")
        for target, line, top in _imports(module, top_level_only=False)
        if not top
    ]
    assert inside == []


def test_adapters_use_only_the_engines_public_interface() -> None:
    private = []
    for module, path in MODULES.items():
        if not module.startswith("adapters"):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in {"_factory", "_handle_once", "_parse"}:
                private.append(f"{module}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.Constant) and node.value == "_factory":
                private.append(f"{module}:{node.lineno} '_factory'")
    assert private == []


def test_every_dialog_declares_a_spec_and_every_menu_command_comes_from_one() -> None:
    loaded = available()
    assert set(loaded) == set(specs().by_name)
    declared = {name for spec in specs().by_name.values() for name in spec.command_names()}
    menu = specs().menu
    assert set(menu) - {"cancel"} <= declared
    for lang in ("fr", "en"):
        assert [name for name, _ in commands_menu(lang)] == list(menu)
        text = plain_text(help_spans(translator(lang)))
        listed = {word[1:] for word in text.split() if word.startswith("/") and word[1:].isalpha()}
        assert set(menu) <= listed
        assert listed - set(menu) <= {"location", "start"}  # named in the tips, not the list
    for name in specs().by_name:
        spec = get_spec(name)
        assert spec is not None and spec.name == name


def test_a_dialog_spec_with_a_clashing_command_is_refused() -> None:
    import pytest

    from bot.spec import Command, DialogSpec, Specs

    with pytest.raises(ValueError, match="declared twice"):
        Specs.build([DialogSpec("a", commands=(Command("go"),)),
                     DialogSpec("b", commands=(Command("x", ("go",)),))])
    with pytest.raises(ValueError, match="opens two dialogs"):
        Specs.build([DialogSpec("a", intents=frozenset({"search"})),
                     DialogSpec("b", intents=frozenset({"search"}))])


def test_every_step_a_dialog_writes_is_declared_in_its_spec() -> None:
    """The steps table of each spec is the truth: a ``"step": "x"`` a dialog writes that its
    spec does not declare is a typo or an undeclared step."""
    import re

    undeclared = []
    for name, spec in specs().by_name.items():
        source = MODULES[f"dialogs.{name}"].read_text("utf-8")
        written = set(re.findall(r"""["']step["']\s*:\s*["']([a-z_]+)["']""", source))
        if written and not spec.steps:
            undeclared.append(f"{name}: declares no steps but writes {sorted(written)}")
        elif written - set(spec.steps):
            undeclared.append(f"{name}: {sorted(written - set(spec.steps))}")
    assert undeclared == []
