"""`communebot chat` / `demo` (being built)."""

from __future__ import annotations

import click


@click.command("chat")
def chat() -> None:
    """Not available yet."""
    raise click.ClickException("not available yet")


@click.command("demo")
def demo() -> None:
    """Not available yet."""
    raise click.ClickException("not available yet")
