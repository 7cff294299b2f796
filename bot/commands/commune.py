"""`communebot commune` (being built)."""

from __future__ import annotations

import click


@click.command("commune")
def commune() -> None:
    """Not available yet."""
    raise click.ClickException("not available yet")
