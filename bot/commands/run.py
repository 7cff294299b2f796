"""``communebot run -c config.yaml``: the adapters the configuration enables, on one engine."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from bot.config import Config, ConfigError, load_config, secrets_of
from bot.logformat import configure as configure_logging
from bot.logformat import set_secrets as set_log_secrets
from bot.redact import install as install_redaction
from bot.redact import redact
from directory.db import DatabaseError
from directory.geocoding import geocoder_from_config


async def _serve(config: Config) -> None:
    """Until SIGINT or SIGTERM, which stop it at once from the first moment: while the
    database is migrated (the migration ends first), while waiting for the network, or
    while serving."""
    main = asyncio.current_task()
    stopping: list[bool] = []

    def stop() -> None:  # once: a second signal must not cut the closing short
        if main is not None and not stopping:
            stopping.append(True)
            main.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await _serve_until_cancelled(config)
    except asyncio.CancelledError:
        logging.getLogger("communebot").info("stopped")


async def _serve_until_cancelled(config: Config) -> None:
    from bot.wiring import build_engine

    engine = build_engine(
        config.database.url, admins=config.admins, geocoder=geocoder_from_config(config.geocoder),
        idle_timeout=timedelta(minutes=config.conversation.idle_timeout_minutes),
        moderation=config.moderation, retention_days=config.privacy.retention_days,
    )
    single = _one_process_per_sqlite_file(engine.sessions.kw["bind"])
    try:
        await _serve_engine(config, engine)
    finally:
        if single is not None:
            single.release()


def _one_process_per_sqlite_file(bind: Any) -> Any:
    """SQLite serves one ``run`` process: a second one on the same file would double the
    scheduler and fight over the writer lock, so it is refused in words (several workers
    run on PostgreSQL). A ``flock`` beside the file, freed by the kernel however the
    holder ends."""
    from bot.leader import FileLock

    database = bind.url.database if bind.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        return None
    lock = FileLock(Path(f"{database}.run.lock"))
    if not lock.try_acquire():
        raise click.ClickException(
            f"another `communebot run` is using {database}: SQLite serves one process "
            "(several workers need PostgreSQL, see the README's \"Running several workers\")")
    return lock


async def _serve_engine(config: Config, engine: Any) -> None:
    from bot.scheduler import Retention, start_scheduler, stop_scheduler

    # warm before taking the first message: a cold first lookup took ~0.5 s and held
    # every chat behind it (issue 19)
    await asyncio.to_thread(engine.warm_up)
    tasks: list[Awaitable[None]] = []
    if config.telegram.enabled:
        from adapters.telegram.runner import run_telegram

        tasks.append(run_telegram(config.telegram, engine))
    if config.matrix.enabled:
        from adapters.matrix.runner import run_matrix

        tasks.append(run_matrix(config.matrix, engine, config.admins))
    if not tasks:
        raise click.ClickException(
            "no adapter is enabled: set telegram.enabled or matrix.enabled in the configuration"
        )
    monitor = None
    if config.monitoring.enabled:
        from bot.health import HEALTH, MonitoringServer, silence_limits

        for adapter, max_silence in silence_limits(config).items():
            HEALTH.expect(adapter, max_silence)
        monitor = MonitoringServer(engine.sessions, config.monitoring.listen, config.monitoring.port)
        try:
            await monitor.start()
        except OSError as exc:
            raise click.ClickException(
                f"monitoring: cannot listen on {config.monitoring.listen}:{config.monitoring.port}"
                f" ({exc.strerror or exc}); change monitoring.port or monitoring.listen") from None
    running = [asyncio.ensure_future(task) for task in tasks]
    scheduler = start_scheduler(
        engine.sessions, retention=Retention(personal_logs=timedelta(days=config.privacy.retention_days)))
    try:
        await asyncio.gather(*running)
    finally:
        await stop_scheduler(scheduler)
        if monitor is not None:
            await monitor.stop()


@click.command("run")
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="YAML configuration (see config.example.yaml).")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--log-format", default="text", show_default=True, type=click.Choice(["text", "json"]),
              help="json: one JSON object per line (time, level, logger, message, exception).")
def run(config_path: str, log_level: str, log_format: str) -> None:
    """Run the adapters the configuration enables (Telegram, Matrix)."""
    # a SIGTERM before the event loop takes the signals over stops it as Ctrl-C does
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        _run(config_path, log_level, log_format)
    except KeyboardInterrupt:
        logging.getLogger("communebot").info("stopped")


def _run(config_path: str, log_level: str, log_format: str = "text") -> None:
    configure_logging(log_level, log_format)
    install_redaction([])  # tokens are masked from the first log line on
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(redact(f"configuration refused: {exc}")) from None
    install_redaction(secrets_of(config))
    set_log_secrets(secrets_of(config))
    try:
        asyncio.run(_serve(config))
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    except RuntimeError as exc:
        from adapters.telegram.runner import TelegramStartError

        if isinstance(exc, TelegramStartError):
            raise click.ClickException(redact(f"Telegram: {exc}", secrets_of(config))) from None
        raise
