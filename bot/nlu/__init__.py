"""French/English understanding of one chat message (intent and slots), offline.

The reading itself is ``bot.nlu.parser`` (its docstring says how a message is read);
each concern has its own module: ``tokens`` (words and folding), ``lexicon`` (word lists
of short answers, the only home of yes/no/cancel words), ``places`` (communes),
``categories``, ``intents``, ``names`` (entry names), ``radius``, ``lang``.

The parser's names are loaded lazily, so that importing ``bot.nlu.lexicon`` (as dialogs
do) loads neither the parser nor the gazetteer. (The module is ``parser``, not ``parse``:
a submodule named ``parse`` would shadow the ``parse`` function on this package.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.nlu.intents import INTENTS
    from bot.nlu.parser import Parse, parse, warm_up

__all__ = ["INTENTS", "Parse", "parse", "warm_up"]

_LAZY = {
    "INTENTS": "bot.nlu.intents",
    "Parse": "bot.nlu.parser",
    "parse": "bot.nlu.parser",
    "warm_up": "bot.nlu.parser",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
