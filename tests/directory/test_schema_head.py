"""schema_head: the start skips alembic only when the database is exactly at head."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from directory.db import MIGRATIONS, make_engine, open_store, pending_revisions, upgrade
from directory.schema_head import at_head, script_heads


def test_the_heads_read_without_alembic_are_alembic_s() -> None:
    from alembic.script import ScriptDirectory

    from directory.db import alembic_config

    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    assert script_heads(MIGRATIONS) == frozenset(script.get_heads())


def test_at_head_only_when_the_version_is_the_head(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    assert not at_head(engine, MIGRATIONS)  # no alembic_version yet
    upgrade(engine, "0008")
    assert not at_head(engine, MIGRATIONS) and pending_revisions(engine)
    open_store(sqlite_url)  # not at head: alembic migrates as before
    assert at_head(engine, MIGRATIONS) and pending_revisions(engine) == []
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'zzzz'"))
    assert not at_head(engine, MIGRATIONS)


def test_files_it_cannot_read_leave_the_decision_to_alembic(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "b.py").write_text('revision = "b"\ndown_revision: str | None = "a"\n')
    assert script_heads(tmp_path) == frozenset({"b"})
    (versions / "c.py").write_text('revision = "c"\ndown_revision = PREVIOUS\n')
    assert script_heads(tmp_path) is None
    (versions / "c.py").write_text('revision = "c"\ndown_revision = "missing"\n')
    assert script_heads(tmp_path) is None


def test_a_start_on_a_current_database_does_not_import_alembic(sqlite_url: str) -> None:
    open_store(sqlite_url)
    code = ("import sys\nfrom directory.db import open_store\n"
            f"open_store({sqlite_url!r})\nassert 'alembic' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
