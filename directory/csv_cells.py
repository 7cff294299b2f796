"""Spreadsheet formula injection in CSV cells, neutralised on export and undone on import.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by spreadsheets (``=HYPERLINK(...)``, DDE ``-cmd|...``). The export prefixes such a
cell with a single quote, as OWASP recommends; the import removes exactly that quote, so an
exported file re-imports to the original text. Plain numbers (a latitude ``-21.1``) are
not formulas and stay as they are. A text that itself starts with quotes before a formula
character gets one more quote, so the import's stripping is exact for every text.
"""

from __future__ import annotations

import re

#: the first characters that make a spreadsheet read a cell as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _formula_after_quotes(text: str) -> bool:
    rest = text.lstrip("'")
    return rest.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(rest)


def neutralise(cell: str) -> str:
    """The cell as written to a CSV file: a quote before what a spreadsheet would run."""
    return "'" + cell if _formula_after_quotes(cell) else cell


def restore(cell: str) -> str:
    """The inverse of :func:`neutralise`: drop the quote it added (and only that one)."""
    return cell[1:] if cell.startswith("'") and _formula_after_quotes(cell[1:]) else cell
