"""The store: migrations from the first schema on, SQLite pragmas, refusal of an old schema."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from bot.cli import main
from directory.db import DatabaseError, make_engine, open_store, pending_revisions


def test_migrations_create_every_table(store) -> None:  # type: ignore[no-untyped-def]
    engine, _ = store
    tables = set(inspect(engine).get_table_names())
    for name in ("citizens", "accounts", "entries", "recommendations", "memberships", "follows",
                 "digest_subscriptions", "digest_runs", "digest_items", "reports", "bans",
                 "dialog_states", "processed_events",
                 "chat_bindings", "adapter_state", "outbox", "alembic_version"):
        assert name in tables
    assert pending_revisions(engine) == []


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_url: str) -> None:
    engine, _ = open_store(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10000


def test_unmigrated_database_is_refused_with_a_clear_message(sqlite_url: str) -> None:
    with pytest.raises(DatabaseError, match="communebot db upgrade"):
        open_store(sqlite_url, migrate=False)


def test_db_upgrade_command_applies_then_reports_head(sqlite_url: str) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade", "--db", sqlite_url])
    assert first.exit_code == 0, first.output
    assert "applied" in first.output
    second = runner.invoke(main, ["db", "upgrade", "--db", sqlite_url])
    assert second.exit_code == 0
    assert "already at head" in second.output
    assert pending_revisions(make_engine(sqlite_url)) == []


def test_bad_url_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["db", "upgrade", "--db", "not a url"])
    assert result.exit_code != 0
    assert "not a database URL" in result.output


def test_migrations_build_exactly_the_models_schema(store) -> None:  # type: ignore[no-untyped-def]
    """Alembic's autogenerate comparison finds nothing to do: a model change without its
    migration (or the reverse) fails here, on both backends."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from directory.models import Base

    engine, _ = store
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        if engine.dialect.name == "sqlite":
            differences = _without_inline_reference_options(conn, differences)
    assert differences == []


def _without_inline_reference_options(conn, differences):  # type: ignore[no-untyped-def]
    """SQLAlchemy reads a SQLite foreign key's ON DELETE only from a table-level FOREIGN KEY
    clause, not from the inline REFERENCES that ADD COLUMN writes (migration 0005): such a
    key shows as removed and re-added. Drop that pair only once SQLite itself
    (``PRAGMA foreign_key_list``) confirms the model's action."""
    removed = {(d[1].table.name, tuple(c.name for c in d[1].columns)): d for d in differences
               if d[0] == "remove_fk"}
    kept = []
    for diff in differences:
        key = (diff[1].table.name, tuple(c.name for c in diff[1].columns)) if diff[0] == "add_fk" else None
        if key in removed:
            actions = {(row[3], row[6]) for row in conn.exec_driver_sql(f"PRAGMA foreign_key_list({key[0]})")}
            if (key[1][0], diff[1].ondelete) in actions:
                removed.pop(key)
                continue
        kept.append(diff)
    return [d for d in kept if d[0] != "remove_fk" or d in removed.values()]


def test_downgrade_to_0002_then_upgrade_restores_the_indexes(sqlite_url: str) -> None:
    from directory.db import upgrade

    engine, _ = open_store(sqlite_url)
    from alembic import command

    from directory.db import alembic_config

    command.downgrade(alembic_config(engine), "0002")
    assert "ix_entries_geo" in {i["name"] for i in inspect(engine).get_indexes("entries")}
    upgrade(engine)
    names = {i["name"] for i in inspect(engine).get_indexes("entries")}
    assert not names & {"ix_entries_geo", "ix_entries_category_geo", "ix_entries_name_folded"}
    assert "ix_entries_commune_category" in names
    assert pending_revisions(engine) == []


def test_downgrade_to_0003_drops_opening_hours_and_keeps_the_rows(sqlite_url: str) -> None:
    """0004's downgrade drops the column in place: entries and what references them stay."""
    from alembic import command

    from directory.db import alembic_config, upgrade

    engine, _ = open_store(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO entries (kind, name, name_folded, category, tags, description,"
            " commune_insee, status, needs, recommendation_count, created_at, updated_at,"
            " opening_hours) VALUES ('organization', 'Pharmacie', 'pharmacie', 'pharmacie', '[]',"
            " '', '97415', 'active', '[]', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP,"
            " 'Mo-Sa 08:00-19:00')"
        ))
        conn.execute(text("INSERT INTO entry_terms (entry_id, term) VALUES (1, 'pharmacie')"))
    command.downgrade(alembic_config(engine), "0003")
    assert "opening_hours" not in {c["name"] for c in inspect(engine).get_columns("entries")}
    upgrade(engine)
    assert "opening_hours" in {c["name"] for c in inspect(engine).get_columns("entries")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, opening_hours FROM entries")).all() == [("Pharmacie", None)]
        assert conn.execute(text("SELECT count(*) FROM entry_terms")).scalar() == 1
    assert pending_revisions(engine) == []
