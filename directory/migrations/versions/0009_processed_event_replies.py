"""processed_events.replies: the answer to an event, kept until the adapter delivered it

The engine commits a turn, then the adapter sends its answer: a crash between the two lost
the answer, the replayed event being "already processed". An adapter that keeps its events
until answered (Telegram's inbox) now has the answer written with the event id in the
turn's transaction, gives it back on the replay, and clears it once delivered.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("processed_events", sa.Column("replies", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("processed_events", "replies")
