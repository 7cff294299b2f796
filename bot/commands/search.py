"""`communebot search` (being built)."""

from __future__ import annotations

import click


@click.command("search")
def search() -> None:
    """Not available yet."""
    raise click.ClickException("not available yet")
