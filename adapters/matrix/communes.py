"""Commune names for room titles ("Saint-Paul (974)"), read from the shipped gazetteer file.

Only the adapter's room creation needs this, so it reads the packaged CSV once rather
than depending on the search stack.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

INSEE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CommuneName:
    insee: str
    name: str
    departement: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.departement})"


@cache
def _communes() -> dict[str, CommuneName]:
    raw = resources.files("directory").joinpath("data", "communes.csv.gz").read_bytes()
    text = io.StringIO(gzip.decompress(raw).decode("utf-8"))
    return {
        row["insee"]: CommuneName(row["insee"], row["name"], row["departement"])
        for row in csv.DictReader(text)
    }


def commune_name(insee: str) -> CommuneName | None:
    """The commune with this INSEE code, or None (also for text that is not a code)."""
    code = insee.strip().upper()
    if not INSEE.match(code):
        return None
    return _communes().get(code)
