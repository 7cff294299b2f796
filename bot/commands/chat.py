"""`communebot chat` (the console adapter on a store) and `communebot demo` (the same on a
throw-away SQLite database seeded with the sample directory; offline, no configuration)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from bot.i18n import pick_language, translator


def _converse(engine: object, user: str, lang: str | None, *, banner: str | None = None) -> None:
    from adapters.console import ConsoleChat, interactive_lines
    from bot.engine import Engine

    assert isinstance(engine, Engine)
    chat = ConsoleChat(engine, user_id=user, lang=lang)
    if lang is not None:  # an explicit --lang also applies to a user who already exists
        engine.set_language("console", user, lang)
    stdin = sys.stdin
    stdout = sys.stdout
    interactive = stdin.isatty() and stdout.isatty()
    if banner and interactive:
        stdout.write(banner + "\n\n")
    lines = interactive_lines() if interactive else stdin
    try:
        chat.run(lines, stdout, interactive=interactive)
    except KeyboardInterrupt:  # Ctrl-C while the engine works: leave quietly
        stdout.write("\n")


@click.command("chat")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False),
              help="YAML configuration, read as `run` reads it (database, admins, moderation).")
@click.option("--db", "db_url", envvar="COMMUNEBOT_DB", help="Database URL (default: the configuration's, "
              "else the embedded SQLite).")
@click.option("--user", default="console", show_default=True,
              help="Console user id: the account is console:ID (as admins name it).")
@click.option("--lang", type=click.Choice(["fr", "en"]), help="Language (also switches a known user).")
def chat(config_path: str | None, db_url: str | None, user: str, lang: str | None) -> None:
    """Chat with the bot on the console: one message per line on stdin."""
    from datetime import timedelta

    from bot.config import ConfigError, load_config
    from bot.wiring import build_engine
    from directory.db import DatabaseError

    try:
        if config_path:
            config = load_config(config_path)
            engine = build_engine(
                db_url or config.database.url, admins=config.admins,
                idle_timeout=timedelta(minutes=config.conversation.idle_timeout_minutes),
                moderation=config.moderation, retention_days=config.privacy.retention_days)
        else:
            engine = build_engine(db_url)
    except ConfigError as exc:
        raise click.ClickException(f"configuration refused: {exc}") from None
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    _converse(engine, user, lang)


@click.command("demo")
@click.option("--lang", type=click.Choice(["fr", "en"]), help="Language (default: from the system).")
@click.option("--user", default="demo", show_default=True, help="Console user id.")
def demo(lang: str | None, user: str) -> None:
    """A console chat on a temporary database seeded with a sample directory (offline)."""
    import locale
    import os

    from bot.engine import Engine
    from directory.db import open_store, transaction
    from directory.sample import load_sample

    if lang is None:
        hint = os.environ.get("LANG") or (locale.getlocale()[0] or "")
        lang = pick_language(hint) if hint and hint not in {"C", "C.UTF-8", "POSIX"} else "fr"
    with tempfile.TemporaryDirectory(prefix="communebot-demo-") as folder:
        url = f"sqlite:///{Path(folder) / 'demo.db'}"
        engine_, factory = open_store(url)
        try:
            with transaction(factory) as session:
                count = load_sample(session)
            banner = translator(lang)("console.demo_banner", count=translator(lang).number(count))
            _converse(Engine(factory), user, lang, banner=banner)
        finally:
            engine_.dispose()
    sys.stdout.flush()
