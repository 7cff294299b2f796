"""`communebot parse` (being built)."""

from __future__ import annotations

import click


@click.command("parse")
def parse() -> None:
    """Not available yet."""
    raise click.ClickException("not available yet")
