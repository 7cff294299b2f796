"""`communebot import` / `export` (being built)."""

from __future__ import annotations

import click


@click.command("import")
def import_() -> None:
    """Not available yet."""
    raise click.ClickException("not available yet")


@click.command("export")
def export() -> None:
    """Not available yet."""
    raise click.ClickException("not available yet")
