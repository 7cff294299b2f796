"""Digests: subscriptions with a frequency, an hour and a next-due time; periods claimed
once; entries already listed

Replaces the first schema's ``subscriptions`` (one row per citizen and commune, never
used): a digest subscription is one row per subscriber (a citizen, or a bound room or
group) with its communes and categories, and ``next_due_at`` indexed so that who is due
is one range query. ``digest_runs`` has one row per period sent (unique per subscription
and period: a second claim fails); ``digest_items`` the entries already listed.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_subscriptions_commune_insee", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.create_table(
        "digest_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("chat_platform", sa.String(length=16), nullable=True),
        sa.Column("chat_id", sa.String(length=255), nullable=True),
        sa.Column("frequency", sa.String(length=8), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("communes", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("covered_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("citizen_id"),
        sa.UniqueConstraint("chat_platform", "chat_id", name="uq_digest_subscriptions_chat"),
    )
    op.create_index("ix_digest_subscriptions_next_due_at", "digest_subscriptions", ["next_due_at"])
    op.create_table(
        "digest_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["subscription_id"], ["digest_subscriptions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscription_id", "period_end"),
    )
    op.create_index("ix_digest_runs_subscription_id", "digest_runs", ["subscription_id"])
    op.create_table(
        "digest_items",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["subscription_id"], ["digest_subscriptions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subscription_id", "entry_id"),
    )
    op.create_index("ix_digest_items_entry_id", "digest_items", ["entry_id"])


def downgrade() -> None:
    op.drop_index("ix_digest_items_entry_id", table_name="digest_items")
    op.drop_table("digest_items")
    op.drop_index("ix_digest_runs_subscription_id", table_name="digest_runs")
    op.drop_table("digest_runs")
    op.drop_index("ix_digest_subscriptions_next_due_at", table_name="digest_subscriptions")
    op.drop_table("digest_subscriptions")
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("commune_insee", sa.String(length=5), nullable=False),
        sa.Column("last_digest_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("citizen_id", "commune_insee"),
    )
    op.create_index("ix_subscriptions_commune_insee", "subscriptions", ["commune_insee"])
