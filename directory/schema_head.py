"""Whether a database is already at the migrations' head, read without alembic.

Every ``communebot run`` applies pending migrations at start; almost always there are
none. Importing alembic to find that out (it brings mako and pygments) cost about 0.1 s
and 8 MB of peak RSS at each start (issue 15). The head is read from the revision files'
``revision`` / ``down_revision`` lines and compared with ``alembic_version``; anything
this reader does not understand, or any difference, leaves the decision to alembic.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine

__all__ = ["at_head", "script_heads"]

_REVISION = re.compile(r"^revision(?:\s*:[^=\n]*)?\s*=\s*['\"]([^'\"]+)['\"]\s*$", re.M)
_DOWN = re.compile(r"^down_revision(?:\s*:[^=\n]*)?\s*=\s*(.+?)\s*$", re.M)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def script_heads(migrations: Path) -> frozenset[str] | None:
    """Revisions no other revision builds on; None when a file is not understood."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in sorted((migrations / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        found, down = _REVISION.findall(text), _DOWN.findall(text)
        if len(found) != 1 or len(down) != 1:
            return None
        if down[0] != "None" and not _QUOTED.search(down[0]):
            return None  # a name or an expression: only alembic can read it
        revisions.add(found[0])
        downs.update(_QUOTED.findall(down[0]))
    heads = revisions - downs
    return frozenset(heads) if heads and downs <= revisions else None


def at_head(engine: Engine, migrations: Path) -> bool:
    """True only when ``alembic_version`` holds exactly the scripts' heads."""
    heads = script_heads(migrations)
    if heads is None:
        return False
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except Exception:  # no such table yet (a new database), or unreachable: alembic says
        return False
    return {row[0] for row in rows} == heads
