"""``communebot db upgrade``."""

from __future__ import annotations

import click

from directory.db import DatabaseError, make_engine, pending_revisions, upgrade


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.option("--db", "url", envvar="COMMUNEBOT_DB", help="SQLAlchemy URL of the store.")
def upgrade_cmd(url: str | None) -> None:
    """Apply pending migrations."""
    try:
        engine = make_engine(url)
        pending = pending_revisions(engine)
        upgrade(engine)
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        raise click.ClickException(f"cannot upgrade the database: {exc}") from None
    if pending:
        click.echo(f"{len(pending)} migration(s) applied; database at head.")
    else:
        click.echo("Database already at head.")
