"""Pure routing decisions: which command a text is, whether it cancels, which dialog an
NLU intent or a command opens. No I/O, so every rule is testable in isolation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from directory.text import fold as _fold

#: folding is pure and the same labels and short answers come back all the time
fold = lru_cache(maxsize=8192)(_fold)

#: typed words that leave any open dialog (folded; the /cancel command does too)
CANCEL_WORDS = frozenset(
    {"annuler", "annule", "annulez", "cancel", "stop", "quitter", "abandonner", "laisse tomber",
     "quit", "abort", "exit"}
)

#: command -> dialog it opens (``/admin`` and ``/cancel`` are handled apart)
COMMAND_DIALOGS: dict[str, str] = {
    "start": "register",
    "help": "help",
    "aide": "help",
    "search": "ask",
    "chercher": "ask",
    "recommend": "recommend",
    "recommander": "recommend",
    "join": "join",
    "project": "announce",
    "projet": "announce",
    "settings": "settings",
    "reglages": "settings",
    "me": "me",
    "moi": "me",
    "admin": "admin",
    "register": "register",
}

#: NLU intent -> dialog; intents absent here get a short engine reply
INTENT_DIALOGS: dict[str, str] = {
    "search": "ask",
    "recommend": "recommend",
    "join": "join",
    "announce_project": "announce",
    "register": "register",
    "help": "help",
    "settings": "settings",
    "me": "me",
}

#: what a command implies for the NLU parse of its argument text
COMMAND_INTENTS: dict[str, str] = {
    "ask": "search",
    "recommend": "recommend",
    "join": "join",
    "announce": "announce_project",
}

_COMMAND = re.compile(r"^/([A-Za-z_][A-Za-z0-9_]{0,31})(?:@([A-Za-z0-9_]{1,64}))?(?:\s+(.*))?$", re.S)


@dataclass(frozen=True)
class Command:
    name: str  # lower case, without the slash or @botname
    args: str  # the rest of the line, stripped
    bot: str | None = None  # the @botname suffix, when given


def parse_command(text: str) -> Command | None:
    """``/search@communebot crèche`` -> Command("search", "crèche", "communebot").

    Only a leading slash followed by a command word counts: "/ 12" or "//x" is text.
    """
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    name, bot, args = match.groups()
    return Command(name=name.lower(), args=(args or "").strip(), bot=bot)


def is_cancel(text: str) -> bool:
    """"annuler", "Cancel !", "stop", "/cancel" (any case, accents, punctuation)."""
    command = parse_command(text)
    if command is not None:
        return command.name in {"cancel", "annuler", "stop"}
    return fold(text) in CANCEL_WORDS


def parse_location_command(text: str) -> tuple[float, float] | None:
    """``/location -21.0 55.27`` (console stand-in for sharing a location) -> (lat, lon).

    Commas as decimal separators are accepted ("-21,0 55,27"); out-of-range -> None.
    """
    command = parse_command(text)
    if command is None or command.name not in {"location", "position"}:
        return None
    parts = command.args.replace(";", " ").split()
    if len(parts) != 2:
        return None
    try:
        lat, lon = (float(p.replace(",", ".")) for p in parts)
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon
