"""``communebot import`` and ``communebot export``: bulk data in and public data out."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click

from bot.i18n import Translator, pick_language, translator
from directory.db import DatabaseError, open_store
from directory.exporter import FORMATS
from directory.exporter import export as export_entries
from directory.importer import (
    CSV_COLUMNS,
    ImportFailed,
    ImportInterrupted,
    ImportReport,
    count_records,
    import_file,
)

#: skipped rows listed one by one; the rest are counted
SHOWN_ERRORS = 20


def cli_translator(lang: str | None) -> Translator:
    """``--lang`` first, then the shell's ``LANG``; French when nothing says otherwise."""
    return translator(pick_language(lang or os.environ.get("LANG", "").split(".")[0] or None))


def invalid_message(t: Translator, field: str, reason: str) -> str:
    """A localized sentence for an ``InvalidEntry`` / ``InvalidQuery`` (field + reason code)."""
    key = f"directory.field.{field}"
    field_name = t(key)
    if field_name == key:
        field_name = field
    message = t(f"directory.invalid.{reason}", field=field_name)
    return message if not message.startswith("directory.invalid.") else f"{field_name}: {reason}"


def import_failed_message(t: Translator, exc: ImportFailed) -> str:
    return t(f"directory.import.failed.{exc.reason}", detail=exc.detail, columns=", ".join(CSV_COLUMNS))


def report_lines(t: Translator, report: ImportReport, geojson: bool) -> list[str]:
    key = "directory.import.feature_error" if geojson else "directory.import.row_error"
    lines = [
        t(key, number=e.number, message=invalid_message(t, e.field, e.reason))
        for e in report.errors[:SHOWN_ERRORS]
    ]
    if report.skipped > SHOWN_ERRORS:
        lines.append(t("directory.import.more_errors", count=report.skipped - SHOWN_ERRORS))
    return lines


def _progress(t: Translator, path: Path) -> tuple[Callable[[int], None] | None, Callable[[], None]]:
    """A rich progress bar on an interactive terminal; nothing in pipes, logs and tests."""
    if not sys.stderr.isatty():
        return None, lambda: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    progress = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=Console(stderr=True), transient=True,
    )
    task = progress.add_task(t("directory.import.progress"), total=count_records(path))
    progress.start()
    return (lambda done: progress.update(task, completed=done)), progress.stop


class Interrupted(click.ClickException):
    """An import stopped by Ctrl-C; exits with the shell's code for the signal, 128 + its
    number: 130 for SIGINT."""

    exit_code = 128 + signal.SIGINT


class Terminated(Interrupted):
    """An import stopped by SIGTERM: 143."""

    exit_code = 128 + signal.SIGTERM


def _terminated(signum: int, _frame: FrameType | None) -> None:
    raise ImportInterrupted(None, signum)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (what systemd, Docker and ``kill`` send) stops the block as Ctrl-C does: an
    :class:`ImportInterrupted` (a ``KeyboardInterrupt``) raised in the main thread. Outside
    the main thread, nothing changes."""
    try:
        previous = signal.signal(signal.SIGTERM, _terminated)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "geojson"]), help="Default: from the extension.")
@click.option("--source", help="Source name (re-imports of one source update its entries).")
@click.option(
    "--bulk", is_flag=True,
    help="Large loads (SQLite and PostgreSQL): rebuild the indexes once at the end "
    "(searches slow meanwhile).",
)
@click.option("--db", "url", envvar="COMMUNEBOT_DB", help="SQLAlchemy URL of the store.")
@click.option("--lang", type=click.Choice(["fr", "en"]), help="Language of the messages.")
def import_(
    path: Path, fmt: str | None, source: str | None, bulk: bool, url: str | None, lang: str | None
) -> None:
    """Import entries from a CSV or GeoJSON file (OpenStreetMap exports included).

    Ctrl-C or SIGTERM stop it cleanly: the batches already saved are kept, the one in
    progress is rolled back, the rows handled so far are reported and the exit code is
    130 (Ctrl-C) or 143 (SIGTERM).

    --bulk, on SQLite and PostgreSQL alike, drops the search indexes (on PostgreSQL also
    the index rows' foreign key) for the load and rebuilds them once at the end, even
    when it is stopped; after a kill -9 the next import rebuilds them first."""
    t = cli_translator(lang)
    try:
        _engine, factory = open_store(url)
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    geojson = (fmt or "") == "geojson" or path.suffix.lower() in {".geojson", ".json"}
    with sigterm_as_interrupt():
        tick, stop = _progress(t, path)
        try:
            report = import_file(factory, path, fmt=fmt, source=source, progress=tick, bulk=bulk)
        except ImportFailed as exc:
            raise click.ClickException(import_failed_message(t, exc)) from None
        except KeyboardInterrupt as exc:
            stop()
            signum = getattr(exc, "signum", signal.SIGINT)
            partial = getattr(exc, "report", None)
            if partial is not None:
                _print_report(t, partial, geojson)
            stopped = Terminated if signum == signal.SIGTERM else Interrupted
            raise stopped(t("directory.import.interrupted")) from None
        finally:
            stop()
    _print_report(t, report, geojson)


def _print_report(t: Translator, report: ImportReport, geojson: bool) -> None:
    """The skipped rows (on stderr), then the summary line (on stdout)."""
    for line in report_lines(t, report, geojson):
        click.echo(line, err=True)
    click.echo(t("directory.import.summary", source=report.source, created=report.created,
                 updated=report.updated, skipped=report.skipped))


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="geojson", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="File to write (default: stdout).")
@click.option("--db", "url", envvar="COMMUNEBOT_DB", help="SQLAlchemy URL of the store.")
@click.option("--lang", type=click.Choice(["fr", "en"]), help="Language of the messages.")
@click.option("--commune", help="Only this commune (INSEE code).")
def export(fmt: str, output: Path | None, url: str | None, lang: str | None, commune: str | None) -> None:
    """Export the public directory (active entries, no personal data); ``ics``: the
    upcoming public events as iCalendar."""
    t = cli_translator(lang)
    try:
        _engine, factory = open_store(url)
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    with factory() as session:
        if output is None:
            export_entries(session, fmt, sys.stdout, commune)
            return
        # write beside the target, then rename: a failed export never leaves half a file
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                count = export_entries(session, fmt, fh, commune)
            os.replace(tmp, output)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    click.echo(t.plural("directory.export.done", count, path=str(output)), err=True)
