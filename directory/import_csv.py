"""CSV records with the line each starts on, where one bad row costs that row only.

:mod:`csv` alone lets two mistakes cost far more than their row:

- a quote opened in a cell and not closed where the cell ends swallows the lines after it
  into that cell, up to the next quote anywhere (often the end of the file): an import of
  a thousand rows says "1 created" and exits 0;
- a cell over its field limit (128 KiB) raises :class:`csv.Error` in the middle of the
  file, after earlier batches were committed.

Here the lines are fed to the reader one by one and those of the record being read are
kept: a record that a broken quote made of several lines is refused against the line the
quote opened on, and its other lines are read again as the rows they were meant to be. A
cell may span lines only in :data:`MULTILINE_COLUMNS`, and even there a line of it that
reads like a row (:func:`_swallowed`) gives the broken quote away. An oversized cell
refuses its row, which is read whole first (read again with the field limit lifted).
What still reads as a real cell over several lines: a quote left open in a description
or address and closed by a stray quote (``12"``) in an earlier column of a later row that
has too few cells to overflow the record, or in the first cell when the description is
the first column.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

#: the longest cell accepted, in characters (the csv module's default field limit)
MAX_CELL = 128 * 1024
#: columns whose (quoted) cells may hold line breaks
MULTILINE_COLUMNS = frozenset({"description", "address"})
#: the field limit while a record is read (a C long on every platform)
_NO_LIMIT = 2**31 - 1
#: the line breaks the reader splits lines on (``str.splitlines`` knows more)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class BadRow:
    """A row refused while reading: the column at fault (``row`` for the whole row) and a
    reason code (``unbalanced_quote``, ``cell_too_large``)."""

    field: str
    reason: str


class _Lines:
    """The lines of a text, numbered from 1, for :func:`csv.reader`. The lines of the
    record being read are kept (:attr:`record`, the first numbered :attr:`first`), and
    lines can be read again."""

    def __init__(self, text: str) -> None:
        self._next_line = iter(io.StringIO(text, newline="")).__next__
        self._again: list[tuple[int, str]] = []  # lines to read again, the next one last
        self._taken = 0  # lines taken from the text so far
        self.record: list[str] = []
        self.first = 0
        self.ended = False  # the reader asked past the end during this record

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            number, line = self._again.pop()
        else:
            try:
                line = self._next_line()
            except StopIteration:
                self.ended = True
                raise
            self._taken += 1
            number = self._taken
        if not self.record:
            self.first = number
        self.record.append(line)
        return line

    def start_record(self) -> None:
        self.record = []
        self.ended = False

    def read_again(self, first: int, lines: list[str]) -> None:
        """``lines``, numbered from ``first``, come again before the rest of the text."""
        self._again.extend((first + i, line) for i, line in reversed(list(enumerate(lines))))


def _parse_line(line: str) -> list[str] | None:
    """One line's cells, read leniently as :mod:`csv` does by default (a quote in the
    middle of a cell is text); None if even that fails."""
    previous = csv.field_size_limit(_NO_LIMIT)
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        return None
    finally:
        csv.field_size_limit(previous)


def _swallowed(row: list[str], names: list[str]) -> bool:
    """Whether a record read over several lines holds rows a broken quote swallowed: more
    cells than columns, a line break in a column that has none, or a line of the cell that
    reads like the start of a row, with as many commas as there are columns before the
    cell (one at least): a row the quote swallowed whole, or the start of the row whose
    quote closed it (the cells after that quote then fill the record exactly)."""
    width = len(names)
    if len(row) > width:
        return True
    for index, cell in enumerate(row):
        if "\n" not in cell and "\r" not in cell:
            continue
        if names[index] not in MULTILINE_COLUMNS:
            return True
        for part in _LINE_BREAK.split(cell)[1:]:
            cells = _parse_line(part)
            if cells is not None and len(cells) >= max(2, index + 1):
                return True
    return False


class CsvRecords:
    """A CSV text read as a header line and then rows, each with its first line's number."""

    def __init__(self, text: str) -> None:
        self._lines = _Lines(text)
        self._reader = csv.reader(self._lines, strict=True)

    def header(self) -> list[str]:
        """The cells of the first line ([] for an empty text or a blank first line)."""
        try:
            line = next(self._lines)
        except StopIteration:
            return []
        return _parse_line(line) or []

    def _read_unlimited(self) -> list[str] | None:
        """The record that failed, read again from its first line with no field limit (so
        that a cell over the limit is read whole, not left half for the next record); None
        if it still fails: strict, a quote closed before text, or the end inside quotes."""
        lines = self._lines
        first, record = lines.first, lines.record
        lines.start_record()
        lines.read_again(first, record)
        previous = csv.field_size_limit(_NO_LIMIT)
        try:
            return next(self._reader)
        except (csv.Error, StopIteration):
            return None
        finally:
            csv.field_size_limit(previous)

    def rows(self, names: list[str]) -> Iterator[tuple[int, list[str] | BadRow]]:
        """Each record after the header: its cells, or why it is refused. Blank lines come
        as rows of empty cells (or none), for the caller to skip."""
        lines, reader = self._lines, self._reader
        while True:
            lines.start_record()
            try:
                row: list[str] | None = next(reader)
            except StopIteration:
                return
            except csv.Error:  # a cell over the field limit, or a quote problem
                row = self._read_unlimited()
            record, number = lines.record, lines.first
            if row is None and len(record) == 1 and not lines.ended:
                row = _parse_line(record[0])  # a stray quote inside one line: text
            if row is None or (len(record) > 1 and _swallowed(row, names)):
                yield number, BadRow("row", "unbalanced_quote")
                lines.read_again(number + 1, record[1:])
                continue
            if row and max(map(len, row)) > MAX_CELL:
                index = next(i for i, cell in enumerate(row) if len(cell) > MAX_CELL)
                yield number, BadRow(names[index] if index < len(names) else "row", "cell_too_large")
                continue
            yield number, row
