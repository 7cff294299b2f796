"""The directory's tables (SQLAlchemy 2 typed ORM). Every change here needs an Alembic
migration in ``directory/migrations/versions``.

Entries are one table for the four kinds of the civic network (organization, project,
event, point of interest): kind-specific columns are nullable. One table keeps search a
single indexed query whatever the kind.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


class EntryKind(StrEnum):
    ORGANIZATION = "organization"
    PROJECT = "project"
    EVENT = "event"
    POI = "poi"


class OrgType(StrEnum):
    ASSOCIATION = "association"
    BUSINESS = "business"
    INFORMAL = "informal"
    PUBLIC_SERVICE = "public_service"


class ProjectStage(StrEnum):
    IDEA = "idea"
    CONCEPT = "concept"
    STARTED = "started"
    DEVELOPMENT = "development"
    TESTING = "testing"
    MATURE = "mature"


class ProjectNeed(StrEnum):
    VOLUNTEERS = "volunteers"
    MATERIALS = "materials"
    FUNDING = "funding"
    SKILLS = "skills"


class EntryStatus(StrEnum):
    ACTIVE = "active"
    HIDDEN = "hidden"
    PENDING = "pending"


# --- people ------------------------------------------------------------------------------


class Citizen(Base):
    """A person. Their name never leaves the store (exports are public data only)."""

    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    lang: Mapped[str] = mapped_column(String(8), default="fr")
    home_insee: Mapped[str | None] = mapped_column(String(5), index=True)
    home_lat: Mapped[float | None] = mapped_column(Float)
    home_lon: Mapped[float | None] = mapped_column(Float)
    banned: Mapped[bool] = mapped_column(Boolean, default=False)
    #: None: never asked; False: a shared point serves the search at hand, then goes;
    #: True: the citizen chose to keep it (``/settings``)
    keep_location: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    accounts: Mapped[list[Account]] = relationship(back_populates="citizen")


class Account(Base):
    """A platform identity (``telegram:123``, ``matrix:@a:b``); several may link to one citizen."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_user_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    citizen: Mapped[Citizen] = relationship(back_populates="accounts")


# --- the directory -------------------------------------------------------------------------


class Entry(Base):
    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_entries_source"),
        Index("ix_entries_commune_category", "commune_insee", "category"),
        Index("ix_entries_commune_created", "commune_insee", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=EntryKind.ORGANIZATION.value)
    org_type: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    #: ``directory.text.fold(name)``: what search and duplicate detection compare (read
    #: with the entry, never looked up: no index, see migration 0003)
    name_folded: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    commune_insee: Mapped[str] = mapped_column(String(5))
    address: Mapped[str | None] = mapped_column(String(300))
    postcode: Mapped[str | None] = mapped_column(String(5))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    phone: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(200))
    #: OpenStreetMap ``opening_hours`` syntax as imported or typed (``Mo-Fr 08:00-18:00``);
    #: kept even when unparseable, ``directory.opening_hours`` then quotes it as written
    opening_hours: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=EntryStatus.ACTIVE.value)
    # projects
    stage: Mapped[str | None] = mapped_column(String(16))
    needs: Mapped[list[str]] = mapped_column(default=list)
    # events
    starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: the organisation or project an event belongs to (its followers hear of the event)
    organizer_id: Mapped[int | None] = mapped_column(
        ForeignKey("entries.id", ondelete="SET NULL"), index=True
    )
    # provenance: a citizen, or an import source and the id it has there
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(String(128))
    #: denormalised count, kept by the service layer, so ranking needs no join
    recommendation_count: Mapped[int] = mapped_column(Integer, default=0)
    #: checked by a moderator (shown with a badge)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Recommendation(Base):
    __tablename__ = "recommendations"
    __table_args__ = (UniqueConstraint("citizen_id", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Membership(Base):
    """A citizen belongs to an organization."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("citizen_id", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    role: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Follow(Base):
    """A citizen follows a project (and hears of its news)."""

    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("citizen_id", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DigestSubscription(Base):
    """Who gets a commune digest, how often and when: a citizen (by direct message) or a
    bound room or group. ``next_due_at`` (UTC, indexed) is when the next one is due, so
    who is due is one range query; ``covered_until`` is the end of the last period sent
    (what was created after it is new). Deleting the row unsubscribes at once."""

    __tablename__ = "digest_subscriptions"
    __table_args__ = (
        UniqueConstraint("chat_platform", "chat_id", name="uq_digest_subscriptions_chat"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="CASCADE"), unique=True
    )
    chat_platform: Mapped[str | None] = mapped_column(String(16))
    chat_id: Mapped[str | None] = mapped_column(String(255))
    #: "daily" | "weekly"
    frequency: Mapped[str] = mapped_column(String(8))
    hour: Mapped[int] = mapped_column(Integer, default=8)
    #: 0 (Monday) .. 6, for a weekly digest
    weekday: Mapped[int] = mapped_column(Integer, default=0)
    #: the IANA time zone the hour is read in (the first commune's)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    communes: Mapped[list[str]] = mapped_column(default=list)
    categories: Mapped[list[str]] = mapped_column(default=list)
    next_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    covered_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DigestRun(Base):
    """One digest period of one subscription, claimed once: the unique key makes a second
    claim of the same period (a restart, another worker) fail instead of sending twice."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("subscription_id", "period_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("digest_subscriptions.id", ondelete="CASCADE"), index=True
    )
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: items listed (0: nothing new, nothing sent)
    items: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DigestItem(Base):
    """An entry a subscription's digest has listed: never listed again."""

    __tablename__ = "digest_items"

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("digest_subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Report(Base):
    """A citizen's report of an entry: a reason code (closed, wrong, duplicate, abuse, other)
    and what they wrote; resolved by a moderator."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="")
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CommuneModerator(Base):
    """A platform account (``telegram:123``) that moderates a commune, granted by a
    superadmin. Keyed by the account's id, never a display name anyone can copy."""

    __tablename__ = "commune_moderators"

    account: Mapped[str] = mapped_column(String(280), primary_key=True)
    commune_insee: Mapped[str] = mapped_column(String(5), primary_key=True)
    granted_by: Mapped[str] = mapped_column(String(280))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LinkCode(Base):
    """A one-time code to link another platform's account to a citizen: stored hashed,
    valid ten minutes, used once."""

    __tablename__ = "link_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LinkFailure(Base):
    """Wrong link codes typed by an account: five, then a pause."""

    __tablename__ = "link_failures"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Activity(Base):
    """How many messages an account sent on a day (UTC): the admin statistics' messages and
    active users per day. Expires with the other personal logs (housekeeping)."""

    __tablename__ = "activity"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """Who did what, when, to what: one row per admin action, written in the action's own
    transaction. Targets are kept as values (an entry deleted stays named here)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_commune_created", "commune_insee", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(280))
    action: Mapped[str] = mapped_column(String(32))
    commune_insee: Mapped[str | None] = mapped_column(String(5))
    entry_id: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Ban(Base):
    __tablename__ = "bans"

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    commune_insee: Mapped[str | None] = mapped_column(String(5))
    reason: Mapped[str] = mapped_column(Text, default="")
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# --- conversation plumbing (the engine's, kept here so one migration chain covers all) ---


class DialogState(Base):
    """The open dialog of one account in one chat. ``version`` guards concurrent writers."""

    __tablename__ = "dialog_states"
    __table_args__ = (UniqueConstraint("account_id", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    chat_id: Mapped[str] = mapped_column(String(255))
    dialog: Mapped[str] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ProcessedEvent(Base):
    """A platform event already acted on: inserted in the same transaction as its effects."""

    __tablename__ = "processed_events"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: the answer (``bot.outbox.outgoing_to_json`` items) while the adapter has not yet
    #: delivered it, for an event its adapter may hand in again after a crash
    replies: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)


class ChatBinding(Base):
    """A group chat or room bound to a commune: questions there default to it."""

    __tablename__ = "chat_bindings"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    commune_insee: Mapped[str] = mapped_column(String(5), index=True)
    bound_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AdapterState(Base):
    """Small key/value facts an adapter must keep across restarts (offsets, sync tokens)."""

    __tablename__ = "adapter_state"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class OutboxMessage(Base):
    """An Outgoing for another chat (a commune room, followers): delivered by the adapter
    of its platform, then stamped ``sent_at``. Survives restarts."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "platform", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)


# --- search index (migration 0002; maintained by directory.search_index) -------------------


class EntryTerm(Base):
    """One searchable term of an entry, with the entry's point, so one index range scan
    (term, lat, lon) yields the candidates of a neighbourhood. Terms are folded name tokens,
    ``@c:<category>`` and ``@k:<kind>``; lat/lon fall back to the commune's centre."""

    __tablename__ = "entry_terms"
    __table_args__ = (
        Index("ix_entry_terms_term_geo", "term", "lat", "lon", "entry_id"),
        {"sqlite_with_rowid": False},  # the primary key is the table: one B-tree less to fill
    )

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True
    )
    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)


class SearchVocab(Base):
    """Distinct name terms: fuzzy expansion of a query word scans this small table by
    prefix instead of the entries."""

    __tablename__ = "search_vocab"

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: first two characters: equality on it is portable (no collation-dependent ranges)
    prefix: Mapped[str] = mapped_column(String(2), index=True)


from directory import search_index as _search_index  # noqa: E402, F401  (keeps the index in sync)
