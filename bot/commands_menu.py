"""The bot's command list with localized descriptions (Telegram ``setMyCommands``, and
the ``/help`` text), derived from the dialogs' specs: a dialog's menu commands appear here
without being listed anywhere else."""

from __future__ import annotations

from bot.i18n import translator
from dialogs import specs


def commands_menu(lang: str) -> list[tuple[str, str]]:
    """``[("search", "Chercher une adresse, un service…"), ...]`` in ``lang``."""
    t = translator(lang)
    return [(name, t(f"help.command.{name}")) for name in specs().menu]
