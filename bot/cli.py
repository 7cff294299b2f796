"""``communebot``: one console script, one module per subcommand in ``bot/commands``."""

from __future__ import annotations

import click

from bot.commands import chat, commune, db, importexport, parse, run, search


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Citizen directory of French communes, on Telegram, Matrix and the console."""


main.add_command(db.db)
main.add_command(commune.commune)
main.add_command(search.search)
main.add_command(importexport.import_)
main.add_command(importexport.export)
main.add_command(parse.parse)
main.add_command(chat.chat)
main.add_command(chat.demo)
main.add_command(run.run)

if __name__ == "__main__":
    main()
