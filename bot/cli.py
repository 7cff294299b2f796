"""``communebot``: one console script, one module per subcommand in ``bot/commands``.

Subcommands are imported only when invoked, so ``communebot parse`` does not pay for
Alembic or the adapters, and ``--help`` answers at once.
"""

from __future__ import annotations

import importlib

import click

#: name -> (module in bot.commands, attribute)
COMMANDS: dict[str, tuple[str, str]] = {
    "chat": ("chat", "chat"),
    "commune": ("commune", "commune"),
    "db": ("db", "db"),
    "demo": ("chat", "demo"),
    "digest": ("digest", "digest"),
    "export": ("importexport", "export"),
    "import": ("importexport", "import_"),
    "parse": ("parse", "parse"),
    "run": ("run", "run"),
    "search": ("search", "search"),
}

_SUMMARIES: dict[str, str] = {
    "chat": "Console chat: one message per line on stdin.",
    "commune": "Resolve free text to ranked commune candidates.",
    "db": "Database maintenance (upgrade).",
    "demo": "Console chat on a temporary database seeded with a sample directory.",
    "digest": "Scheduled digests: queue the due ones (run-due), or preview one.",
    "export": "Export the public directory (GeoJSON, CSV, JSON-LD).",
    "import": "Import entries from CSV or GeoJSON (OpenStreetMap exports too).",
    "parse": "Show what the bot understands of a message (NLU).",
    "run": "Run the adapters the configuration enables (Telegram, Matrix).",
    "search": "Search the directory.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[cmd_name]
        module = importlib.import_module(f"bot.commands.{module_name}")
        command: click.Command = getattr(module, attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List subcommands without importing them."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, _SUMMARIES[name]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Citizen directory of French communes, on Telegram, Matrix and the console."""


if __name__ == "__main__":
    main()
