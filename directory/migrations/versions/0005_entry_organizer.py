"""entries.organizer_id: the organisation or project an event belongs to

An event's detail names its organiser, and the organiser's followers hear of its next
events. A nullable self-reference (an organiser that is deleted leaves its events
unattributed, not gone), indexed for "this organisation's next events".

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's ADD COLUMN takes an inline REFERENCES clause; a batch rebuild instead
        # would drop ``entries`` and, with foreign keys on, cascade to its dependants
        op.execute(
            "ALTER TABLE entries ADD COLUMN organizer_id INTEGER "
            "REFERENCES entries (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("entries", sa.Column("organizer_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_entries_organizer_id_entries", "entries", "entries", ["organizer_id"], ["id"],
            ondelete="SET NULL",
        )
    op.create_index("ix_entries_organizer_id", "entries", ["organizer_id"])


def downgrade() -> None:
    op.drop_index("ix_entries_organizer_id", table_name="entries")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_entries_organizer_id_entries", "entries", type_="foreignkey")
    op.drop_column("entries", "organizer_id")
