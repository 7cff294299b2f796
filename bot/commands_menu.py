"""The bot's command list with localized descriptions (Telegram ``setMyCommands``,
and the ``/help`` text)."""

from __future__ import annotations

from bot.i18n import translator

#: in menu order; each has ``help.command.<name>`` in the help catalogs
COMMANDS: tuple[str, ...] = (
    "search",
    "recommend",
    "join",
    "project",
    "me",
    "settings",
    "help",
    "cancel",
)


def commands_menu(lang: str) -> list[tuple[str, str]]:
    """``[("search", "Chercher une adresse, un service…"), ...]`` in ``lang``."""
    t = translator(lang)
    return [(name, t(f"help.command.{name}")) for name in COMMANDS]
