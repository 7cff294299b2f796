"""`communebot run` (being built)."""

from __future__ import annotations

import click


@click.command("run")
def run() -> None:
    """Not available yet."""
    raise click.ClickException("not available yet")
