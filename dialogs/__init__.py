"""The dialogs' registry: every module here declares ``SPEC`` (a ``bot.spec.DialogSpec``) and
``DIALOG`` (the object implementing ``bot.dialog.Dialog``).

The registry imports each module listed in :data:`DIALOG_MODULES` once. A module that fails
to import (broken, or still being written) only disables that dialog: it is logged, its
commands and intents are left out of the derived tables, and every other dialog keeps
working. Adding a dialog is adding its module and its name here.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache
from typing import TYPE_CHECKING

from bot.spec import DialogSpec, Specs

if TYPE_CHECKING:
    from bot.dialog import Dialog

log = logging.getLogger(__name__)

#: the modules that declare a dialog, in ``/help`` and menu order
DIALOG_MODULES: tuple[str, ...] = (
    "ask",
    "recommend",
    "join",
    "announce",
    "event",
    "report",
    "me",
    "settings",
    "digest",
    "privacy",
    "help",
    "register",
    "admin",
)


@cache
def _loaded() -> dict[str, tuple[DialogSpec, Dialog]]:
    found: dict[str, tuple[DialogSpec, Dialog]] = {}
    for module_name in DIALOG_MODULES:
        try:
            module = importlib.import_module(f"dialogs.{module_name}")
        except Exception:  # a broken dialog must not take the others down
            log.exception("dialog module %s cannot be loaded", module_name)
            continue
        spec = getattr(module, "SPEC", None)
        dialog = getattr(module, "DIALOG", None)
        if not isinstance(spec, DialogSpec) or dialog is None:
            log.error("dialogs.%s declares no SPEC/DIALOG", module_name)
            continue
        found[spec.name] = (spec, dialog)
    return found


@cache
def specs() -> Specs:
    """The router's tables, the menu and ``/help``, derived from every loaded spec."""
    return Specs.build(spec for spec, _dialog in _loaded().values())


def get_dialog(name: str) -> Dialog | None:
    """The dialog called ``name``, or None when unknown or its module cannot be loaded."""
    found = _loaded().get(name)
    return found[1] if found is not None else None


def get_spec(name: str) -> DialogSpec | None:
    found = _loaded().get(name)
    return found[0] if found is not None else None


def available() -> dict[str, Dialog]:
    """Every dialog that loads, by name (tests and diagnostics)."""
    return {name: dialog for name, (_spec, dialog) in _loaded().items()}


#: kept for callers that list dialog names (the state row stores these)
DIALOG_NAMES: tuple[str, ...] = DIALOG_MODULES
