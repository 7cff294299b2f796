"""What a question about projects filters on: the needs ("projets qui cherchent des
bénévoles", "projects needing funding") and the stage ("projets en phase d'idée",
"mature projects"); and whether "cherche des bénévoles" asks for projects that do, rather
than announcing one's own.

Pure: folded text in, slugs out (the slugs of ``directory.models.ProjectNeed`` and
``ProjectStage``).
"""

from __future__ import annotations

import re

__all__ = ["asks_for_projects", "read_needs", "read_stage"]

#: the need a word names, by stem (folded, French and English, SMS forms)
_NEED_STEMS: tuple[tuple[str, str], ...] = (
    ("benevol", "volunteers"), ("volontaire", "volunteers"), ("volunteer", "volunteers"),
    ("bras", "volunteers"), ("coup de main", "volunteers"), ("coups de main", "volunteers"),
    ("helper", "volunteers"), ("financ", "funding"), ("fund", "funding"), ("argent", "funding"),
    ("subvention", "funding"), ("don", "funding"), ("money", "funding"), ("mecene", "funding"),
    ("des sous", "funding"),
    ("sponsor", "funding"), ("materiel", "materials"), ("materiau", "materials"),
    ("material", "materials"), ("outil", "materials"), ("equipement", "materials"),
    ("equipment", "materials"), ("tool", "materials"), ("supplies", "materials"),
    ("competence", "skills"), ("skill", "skills"), ("expertise", "skills"),
    ("savoir faire", "skills"), ("talent", "skills"),
)  # fmt: skip
_NEED_WORD = re.compile(r"\b(" + "|".join(re.escape(s) for s, _ in _NEED_STEMS) + r")\w*")
_NEED_OF = dict(_NEED_STEMS)
#: a relative clause on projects: "projets qui cherchent / ayant besoin de / needing / that need"
_SEEKING = re.compile(
    r"\b(?:projets?|projects?|initiatives?)\b(?: \w+){0,2} "
    r"(?:qui (?:cherch\w*|recherch\w*|ont besoin|a besoin|manqu\w*|demand\w*)|ayant besoin|"
    r"en recherche|en quete|cherchant|a la recherche|"
    r"needing|that need|which need|looking for|seeking|in need of|wanting|who need|with needs?)\b"
)
_STAGE_WORDS: tuple[tuple[str, str], ...] = (
    (r"(?:a l |en )?(?:etat|stade|phase) d idee|juste une idee|at the idea stage|ideas?\b only", "idea"),
    (r"(?:en )?(?:phase de )?conception|at the concept stage|concept stage", "concept"),
    (r"(?:qui )?(?:demarr\w*|vient de commencer|qui commenc\w*)|just started|starting up", "started"),
    (r"en (?:cours de )?developpement|in development|being developed", "development"),
    (r"en test\w*|en essai|being tested|in testing|pilot\w*", "testing"),
    (r"(?:bien )?(?:etabli|rode|mature)s?|established|mature|running for years", "mature"),
)
_STAGE = [(re.compile(r"\b(?:" + pattern + r")\b"), slug) for pattern, slug in _STAGE_WORDS]


def read_needs(folded: str) -> tuple[str, ...]:
    """The needs a folded message names, each once, in the order said."""
    found: list[str] = []
    for match in _NEED_WORD.finditer(folded):
        stem = next(s for s, _ in _NEED_STEMS if match.group(1) == s)
        need = _NEED_OF[stem]
        if stem == "don" and match.group(0) not in {"don", "dons"}:
            continue  # "donne", "donner": no donation asked
        if need not in found:
            found.append(need)
    return tuple(found)


def read_stage(folded: str) -> str | None:
    """The project stage a folded message filters on, if any."""
    for pattern, slug in _STAGE:
        if pattern.search(folded):
            return slug
    return None


def asks_for_projects(folded: str) -> bool:
    """ "projets qui cherchent des bénévoles", "projects needing funding": a question about
    others' projects, not the announcement of one's own."""
    return bool(_SEEKING.search(folded))
