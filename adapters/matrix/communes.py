"""Commune names for room titles ("Saint-Paul (974)"), from the directory's gazetteer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from directory.gazetteer import get_gazetteer

INSEE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CommuneName:
    insee: str
    name: str
    departement: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.departement})"


def commune_name(insee: str) -> CommuneName | None:
    """The commune an INSEE code stands for today, or None (also for text that is not a
    code: a room is created for one precise commune, never a guess between namesakes)."""
    code = insee.strip().upper()
    if not INSEE.match(code):
        return None
    commune = get_gazetteer().current(code)
    if commune is None:
        return None
    return CommuneName(commune.insee, commune.name, commune.departement)
