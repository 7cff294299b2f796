"""search index: entry_terms and search_vocab

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "entry_terms",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("entry_id", "term"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_entry_terms_term_geo", "entry_terms", ["term", "lat", "lon", "entry_id"])
    op.create_table(
        "search_vocab",
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=2), nullable=False),
        sa.PrimaryKeyConstraint("term"),
    )
    op.create_index("ix_search_vocab_prefix", "search_vocab", ["prefix"])


def downgrade() -> None:
    op.drop_index("ix_search_vocab_prefix", table_name="search_vocab")
    op.drop_table("search_vocab")
    op.drop_index("ix_entry_terms_term_geo", table_name="entry_terms")
    op.drop_table("entry_terms")
