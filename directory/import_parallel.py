"""The converting side of an import, in chunks, and in forked child processes for big
files (:class:`ForkedConverters`) while the parent writes.

Speed (``benchmarks/bench_directory.py``): files of more than a few thousand rows are
validated in forked child processes (one per core, each taking every n-th chunk) while
this one writes what came before, chunk by chunk inside each batch's transaction (same
rows, errors and batches: tested). The children also fold names, compute index terms and
make each chunk driver-ready (``directory.import_batches``), so the writer is left with
``executemany`` calls. ``clean``/``fold`` take a plain-text shortcut, a record's text
fields are stripped once, and no process runs the cyclic GC during an import.

The children never outlive the writer (:func:`_in_child`): on Linux the kernel kills them
when it dies (``PR_SET_PDEATHSIG``), elsewhere a watchdog thread sees the end of a pipe
only the writer holds open; and their sends fail once the writer is gone. They hold no
database connection: the writer's pool is emptied before the fork and the children's copy
of the engine is forgotten. A child killed with its writer, even by ``kill -9``, leaves no
PostgreSQL backend "idle in transaction" behind, nor a lock that the next import waits on.
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from collections.abc import Generator, Iterable, Iterator
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from directory.categories import get_taxonomy
from directory.gazetteer import get_gazetteer
from directory.import_batches import PreparedBatch, prepare_batch
from directory.import_convert import (
    MAX_REPORTED_ERRORS,
    ConvertContext,
    ImportInterrupted,
    ImportReport,
    convert,
)
from directory.import_read import Record

#: a prepared part of a batch, and whether it ends its batch (its transaction)
Chunk = tuple[PreparedBatch, bool]
#: rows per chunk sent by the converting process: small, so that the writer starts early
#: and the last write after the converter is done is short
CHUNK_ROWS = 1000
#: the same on PostgreSQL, where each chunk costs round trips of its own (ids drawn, two
#: COPYs begun and ended) and the writer waits for the server at each: a bulk load of
#: 100k rows in batches of 5,000 ran at 22,200 rows/s in chunks of 1,000 and at 25,000
#: in chunks of 5,000, for the same CPU (median of three, shared 2-core machine)
PG_CHUNK_ROWS = 5000


def chunk_rows(dialect: Dialect) -> int:
    """Rows per chunk that a converting process sends, on this database."""
    return PG_CHUNK_ROWS if dialect.name == "postgresql" else CHUNK_ROWS


def record_chunks(
    records: Iterable[Record], batch_size: int, chunk_rows: int
) -> Iterator[tuple[list[Record], bool]]:
    """Records in chunks of at most ``chunk_rows`` that never straddle a batch of
    ``batch_size`` records, each flagged when it completes a batch or the file.

    Pure, and the same in every converting process, so they agree on which chunk is whose.
    A chunk that completes a batch goes at once; any other waits for the next record (to
    know whether the file ends with it). If reading fails, the chunk waiting is lost with
    its batch, which was incomplete anyway."""
    size = min(chunk_rows, batch_size)
    chunk: list[Record] = []
    waiting: list[Record] | None = None
    in_batch = 0
    for record in records:
        if waiting is not None:
            yield waiting, False
            waiting = None
        chunk.append(record)
        in_batch += 1
        if in_batch == batch_size:
            yield chunk, True
            chunk, in_batch = [], 0
        elif len(chunk) == size:
            waiting, chunk = chunk, []
    if waiting is not None:
        yield waiting, True
    elif chunk:
        yield chunk, True


def converted_chunks(
    records: Iterable[Record],
    source: str,
    report: ImportReport,
    batch_size: int,
    dialect: Dialect,
    chunk_rows: int | None = None,
    part: tuple[int, int] = (0, 1),
) -> Generator[Chunk, None, None]:
    """Converted rows ready for the driver, by chunk of at most ``chunk_rows`` records
    (default: whole batches), each flagged when it completes a batch of ``batch_size``
    records or the file; errors go to ``report``. ``part`` ``(k, n)``: only every n-th
    chunk from the k-th, for the k-th of n converting processes (the others are read and
    skipped)."""
    ctx = ConvertContext()
    mine, of = part
    for index, (group, ends_batch) in enumerate(
        record_chunks(records, batch_size, chunk_rows or batch_size)
    ):
        if index % of != mine:
            continue
        numbered = list(convert(group, source, report, ctx))
        yield prepare_batch([r for _, r in numbered], dialect, [n for n, _ in numbered]), ends_batch


#: ``prctl`` option: the signal this process gets when its parent dies (``linux/prctl.h``)
PR_SET_PDEATHSIG = 1


class _ChildSetup:
    """What a converting child needs to cut itself off from its writer's resources."""

    def __init__(self, parent: int, lifeline: int, lifeline_end: int, pipes: list[Any],
                 engine: Engine | None) -> None:
        self.parent = parent  # the writer's pid
        self.lifeline = lifeline  # read end of a pipe whose write end only the writer keeps
        self.lifeline_end = lifeline_end  # that write end, inherited: closed in the child
        self.pipes = pipes  # the writer's receiving ends forked so far, own included
        self.engine = engine


def die_with_parent() -> bool:
    """Linux: ask the kernel to SIGKILL this process when its parent dies (True if done)."""
    if not sys.platform.startswith("linux"):
        return False  # pragma: no cover - other systems rely on the watchdog thread
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
        return False


def _watch(lifeline: int) -> None:  # pragma: no cover - runs in the forked child
    """Exit this process as soon as the writer is gone (its end of the lifeline closed)."""
    try:
        while os.read(lifeline, 1):
            pass
    except OSError:
        pass
    os._exit(1)


def _in_child(setup: _ChildSetup) -> None:  # pragma: no cover - runs in the forked child
    """First thing a converting child does.

    It dies with the writer (``PR_SET_PDEATHSIG`` on Linux; anywhere, a daemon thread that
    exits when the lifeline pipe ends), ignores Ctrl-C (the writer stops it) but not
    SIGTERM (systemd sends it to every process of the unit), keeps no receiving end of any
    pipe (so a send to a dead writer fails instead of blocking forever) and forgets the
    engine's pool without closing its connections, which are the writer's: nothing here
    may talk to the database over them (``Engine.dispose(close=False)``)."""
    die_with_parent()
    if os.getppid() != setup.parent:  # the writer died before the prctl above
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the CLI's handler is the writer's
    for pipe in setup.pipes:
        pipe.close()
    os.close(setup.lifeline_end)
    threading.Thread(target=_watch, args=(setup.lifeline,), daemon=True).start()
    if setup.engine is not None:
        setup.engine.dispose(close=False)


def _convert_worker(
    records: Iterable[Record],
    source: str,
    batch_size: int,
    dialect: Dialect,
    part: tuple[int, int],
    out: Any,
    setup: _ChildSetup | None = None,
) -> None:  # pragma: no cover - runs in the forked child (its effects are tested)
    """Child process: convert its part of the chunks and send a ``("chunk", chunk, its
    errors, its skipped count)`` message for each, then ``("end", …)`` or ``("error",
    exception, …)``. ``Connection.send`` blocks while the parent is busy, so the child
    runs only a chunk or two ahead."""
    if setup is not None:
        _in_child(setup)
    gc.disable()  # a collection would touch (and so copy) every page shared with the parent
    report = ImportReport(source)
    sent_errors = sent_skipped = 0

    def message(kind: str, payload: Any) -> tuple[Any, ...]:
        nonlocal sent_errors, sent_skipped
        errors, skipped = report.errors[sent_errors:], report.skipped - sent_skipped
        sent_errors, sent_skipped = len(report.errors), report.skipped
        return kind, payload, errors, skipped

    try:
        for chunk in converted_chunks(records, source, report, batch_size, dialect, chunk_rows(dialect),
                                      part):
            out.send(message("chunk", chunk))
        out.send(message("end", None))
    except (BrokenPipeError, ConnectionResetError):
        os._exit(1)  # the writer is gone: nobody to tell
    except BaseException as exc:
        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        try:
            out.send(message("error", exc))
        except OSError:
            os._exit(1)
    finally:
        out.close()


def converter_count() -> int:
    """Converting processes for a parallel import: one per core, at most four. On two
    cores, two converters and the writer share them better than one converter alone,
    which leaves the writer's core idle while it waits."""
    return max(1, min(4, os.cpu_count() or 1))


def release_connections(engine: Engine) -> None:
    """Close the engine's idle pooled connections before a fork, so that no child inherits
    a database connection (the writer opens new ones as it needs them). An in-memory
    SQLite database lives in its one connection: that one is kept (and only this process
    uses it)."""
    if not isinstance(engine.pool, SingletonThreadPool | StaticPool):
        engine.dispose()


class ForkedConverters:
    """:func:`converted_chunks` computed by forked child processes while this one writes.

    Validation is pure CPU and writing mostly SQLite's, so they overlap. The children
    start at once, so they convert while the writer prepares the database; each takes
    every n-th chunk, and chunks are read back from them in turn, so they arrive in file
    order with the errors found in them. A failure in a child (a bad file, an
    interruption) is raised here after the chunks completed before it, and the writer
    rolls back the batch it had open, so an interrupted import still keeps whole batches
    only. :meth:`close` kills the children if the writer stops first; if the writer is
    killed, they die with it (:func:`_in_child`)."""

    def __init__(
        self,
        records: Iterable[Record],
        source: str,
        report: ImportReport,
        batch_size: int,
        dialect: Dialect,
        count: int | None = None,
        engine: Engine | None = None,
    ) -> None:
        """``count`` converting processes (default: :func:`converter_count`); ``engine``:
        the writer's, whose pooled connections must not cross the fork."""
        count = count or converter_count()
        get_gazetteer(), get_taxonomy()  # loaded once, before the fork, for every process
        if engine is not None:
            release_connections(engine)
        context = multiprocessing.get_context("fork")
        self._report = report
        self._pipes: list[Any] = []
        self._children: list[Any] = []
        lifeline, self._lifeline = os.pipe()
        try:
            for k in range(count):
                receive, send = context.Pipe(duplex=False)
                self._pipes.append(receive)
                setup = _ChildSetup(os.getpid(), lifeline, self._lifeline, list(self._pipes), engine)
                child = context.Process(
                    target=_convert_worker,
                    args=(records, source, batch_size, dialect, (k, count), send, setup),
                    daemon=True,
                )
                try:
                    child.start()
                finally:
                    send.close()
                self._children.append(child)
        except BaseException:
            self.close()
            raise
        finally:
            os.close(lifeline)  # the children's end

    def __iter__(self) -> Iterator[Chunk]:
        report = self._report
        for index in itertools.count():
            child = index % len(self._pipes)
            try:
                kind, payload, errors, skipped = self._pipes[child].recv()
            except EOFError:
                raise self._died(child) from None
            report.errors.extend(errors[: MAX_REPORTED_ERRORS - len(report.errors)])
            report.skipped += skipped
            if kind == "chunk":
                yield payload
            elif kind == "error":
                raise payload
            else:  # the file ended before this chunk: the others have ended too
                return

    def _died(self, child: int) -> BaseException:
        """Why a child stopped talking: SIGTERM or SIGINT sent to the whole process group or
        service (systemd, a terminal) may reach it before the writer's own handler runs, so
        the import was interrupted; anything else is a failure."""
        process = self._children[child]
        process.join(5)
        stopped = {-int(signal.SIGTERM): signal.SIGTERM, -int(signal.SIGINT): signal.SIGINT}
        if process.exitcode in stopped:
            return ImportInterrupted(None, stopped[process.exitcode])
        return RuntimeError("import worker died")

    def close(self) -> None:
        for pipe in self._pipes:
            pipe.close()
        if self._lifeline >= 0:
            os.close(self._lifeline)  # a child still running ends with it
            self._lifeline = -1
        for child in self._children:
            if child.is_alive():
                child.terminate()
            child.join()


def can_fork() -> bool:
    """Whether :func:`import_records` can validate in a second process here."""
    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1
