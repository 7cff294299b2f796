"""Messages for other chats (a commune's rooms, a project's followers), kept in the
``outbox`` table until the adapter of their platform delivers them.

The engine writes outbox rows in the same transaction as the dialog change that caused
them (a published project and its announcement exist together or not at all). Adapters
poll :func:`claim` and call :func:`mark_sent` after delivery, in one transaction per batch:

    with transaction(factory) as session:
        for item in claim(session, "telegram", 20):
            await send(item.chat_id, item.outgoing)
            mark_sent(session, item.id)

On PostgreSQL :func:`claim` locks the rows it returns (``FOR UPDATE SKIP LOCKED``), so
several workers never take the same message; on SQLite writers are serialised anyway.

Targets: ``COMMUNE_ROOM`` (ref = INSEE) becomes one row per ``chat_bindings`` chat of that
commune, on every platform. ``USER`` with a platform and ref = platform user id becomes
one row, chat id ``user:<platform user id>`` (the adapter opens or finds the direct chat);
``USER`` without a platform and ref = a citizen id (see :func:`citizen_target`) becomes
one row per account of that citizen.
"""

from __future__ import annotations

import base64
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.messages import (
    Bold,
    Choice,
    Document,
    Inline,
    Italic,
    LineBreak,
    Link,
    ListItems,
    MapPin,
    Outgoing,
    Span,
    StartLink,
    Target,
    TargetKind,
    Text,
)
from directory.models import Account, ChatBinding, OutboxMessage

JSON = dict[str, Any]

#: a message that failed this many times is left aside (kept for inspection)
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    platform: str
    chat_id: str
    outgoing: Outgoing


def citizen_target(citizen_id: int) -> Target:
    """Every account of a citizen (e.g. a project's followers): one outbox row per account."""
    return Target(kind=TargetKind.USER, platform=None, ref=str(citizen_id))


def user_chat_id(platform_user_id: str) -> str:
    return f"user:{platform_user_id}"


# --- Outgoing <-> JSON ---------------------------------------------------------------------


def _inline_to_json(span: Inline) -> JSON:
    if isinstance(span, Text):
        return {"t": "text", "text": span.text}
    if isinstance(span, Bold):
        return {"t": "bold", "text": span.text}
    if isinstance(span, Italic):
        return {"t": "italic", "text": span.text}
    if isinstance(span, Link):
        return {"t": "link", "text": span.text, "url": span.url}
    if isinstance(span, StartLink):
        return {"t": "start", "text": span.text, "payload": span.payload}
    return {"t": "br"}


def _span_to_json(span: Span) -> JSON:
    if isinstance(span, ListItems):
        return {
            "t": "list",
            "numbered": span.numbered,
            "items": [[_inline_to_json(i) for i in item] for item in span.items],
        }
    return _inline_to_json(span)


def _inline_from_json(data: JSON) -> Inline:
    kind = data.get("t")
    if kind == "bold":
        return Bold(str(data["text"]))
    if kind == "italic":
        return Italic(str(data["text"]))
    if kind == "link":
        return Link(str(data["text"]), str(data["url"]))
    if kind == "start":
        return StartLink(str(data["text"]), str(data["payload"]))
    if kind == "br":
        return LineBreak()
    return Text(str(data.get("text", "")))


def _span_from_json(data: JSON) -> Span:
    if data.get("t") == "list":
        items = tuple(tuple(_inline_from_json(i) for i in item) for item in data["items"])
        return ListItems(items=items, numbered=bool(data.get("numbered")))
    return _inline_from_json(data)


def _document_to_json(document: Document) -> JSON:
    """The bytes as base64: the payload column holds JSON, which has no bytes type."""
    return {"filename": document.filename, "mime": document.mime,
            "data": base64.b64encode(document.data).decode("ascii")}


def _document_from_json(data: JSON) -> Document:
    """Strict base64 (a damaged payload raises ValueError: :func:`claim` sets it aside)."""
    return Document(str(data["filename"]), str(data["mime"]),
                    base64.b64decode(str(data["data"]), validate=True))


def outgoing_to_json(item: Outgoing) -> JSON:
    """A JSON-able dict that :func:`outgoing_from_json` turns back into an equal Outgoing."""
    return {
        "spans": [_span_to_json(s) for s in item.spans],
        "choices": [{"id": c.id, "label": c.label} for c in item.choices],
        "request_location": item.request_location,
        "pin": None
        if item.pin is None
        else {"name": item.pin.name, "lat": item.pin.lat, "lon": item.pin.lon,
              "address": item.pin.address},
        "document": None if item.document is None else _document_to_json(item.document),
        "target": {"kind": item.target.kind.value, "platform": item.target.platform,
                   "ref": item.target.ref},
        "edit_key": item.edit_key,
        "lang": item.lang,
    }


def outgoing_from_json(data: JSON) -> Outgoing:
    pin = data.get("pin")
    document = data.get("document")
    target = data.get("target") or {}
    return Outgoing(
        spans=tuple(_span_from_json(s) for s in data.get("spans", [])),
        choices=tuple(Choice(str(c["id"]), str(c["label"])) for c in data.get("choices", [])),
        request_location=bool(data.get("request_location")),
        pin=None
        if not pin
        else MapPin(str(pin["name"]), float(pin["lat"]), float(pin["lon"]),
                    str(pin.get("address", ""))),
        document=_document_from_json(document) if document else None,
        target=Target(
            kind=TargetKind(target.get("kind", TargetKind.REPLY.value)),
            platform=target.get("platform"),
            ref=target.get("ref"),
        ),
        edit_key=data.get("edit_key"),
        lang=str(data.get("lang", "fr")),
    )


# --- writing and reading -------------------------------------------------------------------


def recipients(session: Session, target: Target) -> list[tuple[str, str]]:
    """(platform, chat id) pairs a non-reply target expands to; [] when nobody is there."""
    if target.kind == TargetKind.COMMUNE_ROOM and target.ref:
        rows = session.execute(
            select(ChatBinding.platform, ChatBinding.chat_id)
            .where(ChatBinding.commune_insee == target.ref)
            .order_by(ChatBinding.platform, ChatBinding.chat_id)
        ).all()
        return [(p, c) for p, c in rows if target.platform in (None, p)]
    if target.kind == TargetKind.CHAT and target.ref and target.platform:
        return [(target.platform, target.ref)]
    if target.kind == TargetKind.USER and target.ref:
        if target.platform is not None:
            return [(target.platform, user_chat_id(target.ref))]
        if target.ref.isdigit():
            accounts = session.execute(
                select(Account.platform, Account.platform_user_id)
                .where(Account.citizen_id == int(target.ref))
                .order_by(Account.id)
            ).all()
            return [(p, user_chat_id(u)) for p, u in accounts]
    return []


def enqueue(session: Session, item: Outgoing) -> int:
    """Write one row per recipient of a non-reply Outgoing; returns how many."""
    payload = outgoing_to_json(item)
    rows = recipients(session, item.target)
    for platform, chat_id in rows:
        session.add(OutboxMessage(platform=platform, chat_id=chat_id, payload=payload))
    return len(rows)


def claim(session: Session, platform: str, limit: int = 20,
          chat_ids: Collection[str] | None = None) -> list[OutboxItem]:
    """The oldest undelivered messages of a platform, counted as one more attempt.

    Call inside a transaction and mark what was delivered before it ends; on PostgreSQL
    the rows stay locked for this transaction and other workers skip them. ``chat_ids``
    keeps only those chats' messages (the console delivers one user's own).
    """
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.platform == platform,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.attempts < MAX_ATTEMPTS,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if chat_ids is not None:
        query = query.where(OutboxMessage.chat_id.in_(list(chat_ids)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    items: list[OutboxItem] = []
    for row in rows:
        row.attempts += 1
        try:
            outgoing = outgoing_from_json(row.payload)
        except (KeyError, TypeError, ValueError):
            row.attempts = MAX_ATTEMPTS  # unreadable: never retried
            continue
        items.append(OutboxItem(row.id, row.platform, row.chat_id, outgoing))
    session.flush()
    return items


def mark_sent(session: Session, item_id: int) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == item_id)
        .values(sent_at=datetime.now(UTC))
    )


def prune_sent(session: Session, before: datetime) -> int:
    """Forget messages delivered before ``before`` (kept a while to see what went out).
    Undelivered ones stay, failed included: they are what an admin wants to look at."""
    result = session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.sent_at.is_not(None), OutboxMessage.sent_at < before
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
