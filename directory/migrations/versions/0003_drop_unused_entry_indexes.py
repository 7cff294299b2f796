"""drop entry indexes no query uses since search reads entry_terms

``ix_entries_geo`` and ``ix_entries_category_geo`` served the first search, which read
``entries`` by box; search now narrows through ``entry_terms`` (term, lat, lon) and never
filters ``entries`` by point. ``ix_entries_name_folded`` had no equality or range query at
all (duplicate detection narrows by commune and category). Each index cost every write,
and a bulk import rebuilt all three.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_entries_geo", table_name="entries", if_exists=True)
    op.drop_index("ix_entries_category_geo", table_name="entries", if_exists=True)
    op.drop_index("ix_entries_name_folded", table_name="entries", if_exists=True)


def downgrade() -> None:
    op.create_index("ix_entries_name_folded", "entries", ["name_folded"])
    op.create_index("ix_entries_category_geo", "entries", ["category", "lat", "lon"])
    op.create_index("ix_entries_geo", "entries", ["lat", "lon"])
