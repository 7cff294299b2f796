"""The dialogs' registry: a dialog name -> the object implementing ``bot.dialog.Dialog``.

Each dialog lives in ``dialogs/<name>.py`` and exposes ``DIALOG``. Modules are imported
lazily and one at a time, so a dialog module that fails to import (still being written,
or broken) only disables that dialog: the engine answers "not available" for it and every
other dialog keeps working.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.dialog import Dialog

log = logging.getLogger(__name__)

#: every dialog the engine may open; the state row stores this name
DIALOG_NAMES: tuple[str, ...] = (
    "register",
    "settings",
    "me",
    "help",
    "admin",
    "ask",
    "recommend",
    "join",
    "announce",
)

_cache: dict[str, Dialog | None] = {}


def get_dialog(name: str) -> Dialog | None:
    """The dialog called ``name``, or None when unknown or its module cannot be loaded."""
    if name not in DIALOG_NAMES:
        return None
    if name not in _cache:
        try:
            module = importlib.import_module(f"dialogs.{name}")
            dialog = getattr(module, "DIALOG", None)
        except ModuleNotFoundError as exc:
            if exc.name != f"dialogs.{name}":
                log.exception("dialog %s cannot be loaded", name)
            else:
                log.info("dialog %s is not written yet", name)
            dialog = None
        except Exception:  # a broken dialog must not take the others down
            log.exception("dialog %s cannot be loaded", name)
            dialog = None
        if dialog is None:
            # not cached: the module may appear later (development), try again next time
            return None
        _cache[name] = dialog
    return _cache[name]


def available() -> dict[str, Dialog]:
    """Every dialog that loads, by name (tests and diagnostics)."""
    found: dict[str, Dialog] = {}
    for name in DIALOG_NAMES:
        dialog = get_dialog(name)
        if dialog is not None:
            found[name] = dialog
    return found
