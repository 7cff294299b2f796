"""``communebot digest run-due`` and ``communebot digest preview``: the digests, by hand.

``run-due [--now ISO-8601] [--db URL] [--json]`` claims and queues every digest due at that
instant (what the scheduler's minute tick does); ``--json`` prints one line ``{"due": N,
"queued": N, "empty": N}``. ``preview --user PLATFORM:ID [--now ISO-8601]`` prints the
digest that user would get, recording nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.commands.importexport import cli_translator
from bot.digests import preview as preview_digest
from bot.digests import run_due as run_due_digests
from bot.messages import plain_text
from directory.db import DatabaseError, open_store
from directory.digests import Subscriber
from directory.models import Account


def _instant(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(cli_translator(None)("digest.cli.bad_now", now=text[:40]),
                                 param_hint="--now") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _store(url: str | None) -> sessionmaker[Session]:
    try:
        return open_store(url)[1]
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("digest")
def digest() -> None:
    """Scheduled digests: queue the due ones, or preview one."""


@digest.command("run-due")
@click.option("--now", "now_text", metavar="ISO-8601", help="The instant to run at (default: now).")
@click.option("--db", "url", envvar="COMMUNEBOT_DB", help="SQLAlchemy URL of the store.")
@click.option("--json", "as_json", is_flag=True, help="Print {due, queued, empty} as one JSON line.")
def run_due(now_text: str | None, url: str | None, as_json: bool) -> None:
    """Claim and queue every digest due at --now."""
    result = run_due_digests(_store(url), _instant(now_text))
    if as_json:
        click.echo(json.dumps({"due": result.due, "queued": result.queued, "empty": result.empty}))
    else:
        click.echo(cli_translator(None)("digest.cli.ran", due=result.due, queued=result.queued,
                                    empty=result.empty))


@digest.command("preview")
@click.option("--user", "user", required=True, metavar="PLATFORM:ID", help="e.g. telegram:123, console:alice")
@click.option("--now", "now_text", metavar="ISO-8601", help="The instant (default: now).")
@click.option("--db", "url", envvar="COMMUNEBOT_DB", help="SQLAlchemy URL of the store.")
def preview(user: str, now_text: str | None, url: str | None) -> None:
    """Print the digest USER would get now, without recording anything."""
    t = cli_translator(None)
    platform, sep, platform_user_id = user.partition(":")
    if not sep or not platform or not platform_user_id:
        raise click.BadParameter(t("digest.cli.bad_user", user=user[:60]), param_hint="--user")
    factory = _store(url)
    with factory() as session:
        account = session.scalars(select(Account).where(
            Account.platform == platform, Account.platform_user_id == platform_user_id)).first()
        if account is None:
            raise click.ClickException(t("digest.cli.no_user", user=user[:60]))
        message = preview_digest(session, Subscriber(citizen_id=account.citizen_id), _instant(now_text))
        if message is None:
            click.echo(t("digest.cli.nothing", user=user[:60]))
            return
        click.echo(plain_text(message.spans))
