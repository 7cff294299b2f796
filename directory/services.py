"""The directory's service layer: what dialogs and admin tools do to the store.

Every function takes a SQLAlchemy ``Session`` and never commits: the caller owns the
transaction, so a dialog's state and the directory change it causes commit together.
Validation errors carry a field and a stable reason code (``InvalidEntry.reason``) that
the caller turns into a localized sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from directory.gazetteer_geo import haversine_km
from directory.models import (
    Citizen,
    Entry,
    EntryKind,
    EntryStatus,
    EntryTerm,
    Follow,
    Membership,
    OrgType,
    ProjectNeed,
    ProjectStage,
    Recommendation,
)
from directory.search_index import fast_clean, fast_fold, name_terms
from directory.text import fold

MAX_NAME = 200
MAX_DESCRIPTION = 5000
MAX_ADDRESS = 300
MAX_TAGS = 20
MAX_TAG = 50
MAX_COMMENT = 1000
MAX_ROLE = 100
#: a point farther than this from its commune's centre is a swapped or wrong coordinate
MAX_POINT_OFFSET_KM = 150.0
DUPLICATE_CUTOFF = 85.0

_KINDS = frozenset(k.value for k in EntryKind)
_ORG_TYPES = frozenset(o.value for o in OrgType)
_STATUSES = frozenset(s.value for s in EntryStatus)
_STAGES = frozenset(s.value for s in ProjectStage)
_NEEDS = frozenset(n.value for n in ProjectNeed)
_INSEE = re.compile(r"[0-9][0-9AB][0-9]{3}")
_POSTCODE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
_PHONE = re.compile(r"^\+?[0-9 ().\-]{4,30}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9.\-]*\.[a-z]{2,}(?:/\S*)?$", re.IGNORECASE)


class InvalidEntry(ValueError):
    """Bad data for an entry; ``reason`` is a stable code (``empty``, ``too_long``,
    ``unknown_commune``, ``bad_latitude``, ``formula``…) for a localized message."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class DailyCapReached(Exception):
    """A citizen created ``limit`` entries (or filed reports, ``what``) in the last day."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"{what}: {limit} a day")
        self.what = what
        self.limit = limit


@dataclass
class Limits:
    """Abuse limits per citizen and day (``configure_limits`` sets them from the config)."""

    daily_entries: int = 20
    daily_reports: int = 10


LIMITS = Limits()


def configure_limits(*, daily_entries: int, daily_reports: int) -> None:
    LIMITS.daily_entries, LIMITS.daily_reports = daily_entries, daily_reports


class DuplicateFound(Exception):
    """The entry looks like existing ones: propose them instead (or add with ``force``)."""

    def __init__(self, candidates: list[Entry]) -> None:
        super().__init__(f"{len(candidates)} similar entr{'y' if len(candidates) == 1 else 'ies'}")
        self.candidates = candidates


@dataclass
class NewEntry:
    name: str
    category: str
    commune_insee: str
    kind: str = "organization"
    org_type: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    address: str | None = None
    postcode: str | None = None
    lat: float | None = None
    lon: float | None = None
    phone: str | None = None
    website: str | None = None
    email: str | None = None
    stage: str | None = None
    needs: tuple[str, ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    status: str = "active"
    #: an event's organiser: an organisation or project entry's id
    organizer_id: int | None = None


@dataclass
class CitizenSummary:
    recommended: list[tuple[Entry, str | None]] = field(default_factory=list)
    memberships: list[tuple[Entry, str | None]] = field(default_factory=list)
    projects: list[Entry] = field(default_factory=list)


# --- validation (pure but for the gazetteer/taxonomy look-ups) ----------------------------


def _lookups() -> tuple[Callable[[str], Any], Callable[[str], Any]]:
    from directory.categories import get_taxonomy
    from directory.gazetteer import get_gazetteer

    gazetteer, taxonomy = get_gazetteer(), get_taxonomy()
    return gazetteer.current, taxonomy.get


def _text(value: str | None, field_: str, max_length: int, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InvalidEntry(field_, "empty")
        return None
    if not isinstance(value, str):
        raise InvalidEntry(field_, "not_text")
    cleaned = fast_clean(value)
    if not cleaned:
        if required:
            raise InvalidEntry(field_, "empty")
        return None
    if len(cleaned) > max_length:
        raise InvalidEntry(field_, "too_long")
    return cleaned


#: a leading minus followed by a digit, a space or a sign of money or percent is ordinary text
#: ("-20 % sur les pneus", "- le marché"); followed by anything else it can start a formula
#: (``-cmd|' /C calc'!A0``)
_FORMULA = re.compile(r"^(?:[=+@\t\r]|-[^0-9\s%€$.,])")


def starts_like_formula(text: str) -> bool:
    """Whether a spreadsheet would run ``text`` (as typed, or once cleaned) as a formula.

    The CSV export neutralises such cells anyway (``directory/csv_cells.py``); the chat
    refuses them at entry so that nobody plants one in the first place."""
    return bool(_FORMULA.match(text)) or bool(_FORMULA.match(fast_clean(text)))


def _no_formula(raw: str | None, field_: str) -> None:
    if isinstance(raw, str) and starts_like_formula(raw):
        raise InvalidEntry(field_, "formula")


def _coordinate(value: float | None, field_: str, bound: float) -> float | None:
    if value is None:
        return None
    reason = "bad_latitude" if field_ == "lat" else "bad_longitude"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidEntry(field_, reason) from None
    if not math.isfinite(number) or not -bound <= number <= bound:
        raise InvalidEntry(field_, reason)
    return number


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def validate_entry(
    data: NewEntry,
    *,
    commune_of: Callable[[str], Any] | None = None,
    category_of: Callable[[str], Any] | None = None,
    refuse_formulas: bool = False,
) -> NewEntry:
    """Return a cleaned copy of ``data`` or raise :class:`InvalidEntry` on the first problem.

    Cleaning drops control and zero-width characters (``directory.text.clean``); nothing is
    silently truncated. Delegated communes become their current commune. With
    ``refuse_formulas`` (what people type in the chat), a name, description or address
    starting like a spreadsheet formula is refused (reason ``formula``); an import keeps
    the source's text, the CSV export neutralising it.
    """
    if refuse_formulas:
        _no_formula(data.name, "name")
        _no_formula(data.description, "description")
        _no_formula(data.address, "address")
    if commune_of is None or category_of is None:
        default_commune, default_category = _lookups()
        commune_of = commune_of or default_commune
        category_of = category_of or default_category
    name = _text(data.name, "name", MAX_NAME, required=True)
    assert name is not None
    if not fast_fold(name):
        raise InvalidEntry("name", "empty")  # only punctuation or symbols
    category_slug = _text(data.category, "category", 64, required=True)
    category = category_of(category_slug or "")
    if category is None:
        raise InvalidEntry("category", "unknown_category")
    if data.kind not in _KINDS:
        raise InvalidEntry("kind", "unknown_kind")
    if data.org_type is not None and data.org_type not in _ORG_TYPES:
        raise InvalidEntry("org_type", "unknown_org_type")
    if data.status not in _STATUSES:
        raise InvalidEntry("status", "unknown_status")
    insee = fast_clean(data.commune_insee or "").upper() if isinstance(data.commune_insee, str) else ""
    if not insee:
        raise InvalidEntry("commune_insee", "empty")
    commune = commune_of(insee) if _INSEE.fullmatch(insee) else None
    if commune is None:
        raise InvalidEntry("commune_insee", "unknown_commune")
    lat = _coordinate(data.lat, "lat", 90)
    lon = _coordinate(data.lon, "lon", 180)
    if (lat is None) != (lon is None):
        raise InvalidEntry("lon" if lon is None else "lat", "half_point")
    if (
        lat is not None
        and lon is not None
        and commune.lat is not None
        and haversine_km(lat, lon, commune.lat, commune.lon) > MAX_POINT_OFFSET_KM
    ):
        raise InvalidEntry("lat", "point_outside_commune")
    description = _text(data.description, "description", MAX_DESCRIPTION) or ""
    tags: list[str] = []
    for tag in data.tags:
        cleaned = _text(tag, "tags", MAX_TAG)
        if cleaned and cleaned not in tags:
            tags.append(cleaned)
    if len(tags) > MAX_TAGS:
        raise InvalidEntry("tags", "too_many")
    address = _text(data.address, "address", MAX_ADDRESS)
    postcode = _text(data.postcode, "postcode", 5 + 10)
    if postcode is not None and not _POSTCODE.match(postcode.upper()):
        raise InvalidEntry("postcode", "bad_postcode")
    phone = _text(data.phone, "phone", 40)
    if phone is not None and not _PHONE.match(phone):
        raise InvalidEntry("phone", "bad_phone")
    website = _text(data.website, "website", 300)
    if website is not None and not _URL.match(website):
        if _DOMAIN.match(website):
            website = "https://" + website
        else:
            raise InvalidEntry("website", "bad_url")
    email = _text(data.email, "email", 200)
    if email is not None and not _EMAIL.match(email):
        raise InvalidEntry("email", "bad_email")
    stage = _text(data.stage, "stage", 16)
    if stage is not None and stage not in _STAGES:
        raise InvalidEntry("stage", "unknown_stage")
    needs: list[str] = []
    for need in data.needs:
        if need not in _NEEDS:
            raise InvalidEntry("needs", "unknown_need")
        if need not in needs:
            needs.append(need)
    starts_at, ends_at = _utc(data.starts_at), _utc(data.ends_at)
    if starts_at and ends_at and ends_at < starts_at:
        raise InvalidEntry("ends_at", "ends_before_start")
    return NewEntry(
        name=name,
        category=getattr(category, "slug", category_slug) or category_slug or "",
        commune_insee=getattr(commune, "insee", insee),
        description=description,
        tags=tuple(tags),
        address=address,
        postcode=postcode.upper() if postcode else None,
        lat=lat,
        lon=lon,
        phone=phone,
        website=website,
        email=email,
        stage=stage,
        needs=tuple(needs),
        starts_at=starts_at,
        ends_at=ends_at,
        kind=data.kind,
        org_type=data.org_type,
        status=data.status,
        organizer_id=data.organizer_id,
    )


# --- entries ---------------------------------------------------------------------------


def _similar(a: str, b: str) -> bool:
    return fuzz.token_sort_ratio(a, b) >= DUPLICATE_CUTOFF or (
        min(len(a), len(b)) >= 6 and fuzz.token_set_ratio(a, b) >= 95
    )


def find_duplicates(
    session: Session, name: str, commune_insee: str, category: str | None
) -> list[Entry]:
    """Entries of the same commune (and category, when given) whose folded name is fuzzily
    the same; hidden ones are left out (moderation removed them for a reason)."""
    folded = fold(name)
    if not folded:
        return []
    statement = select(Entry).where(
        Entry.commune_insee == commune_insee, Entry.status != EntryStatus.HIDDEN.value
    )
    if category is not None:
        statement = statement.where(Entry.category == category)
    else:
        terms = name_terms(name)
        if not terms:
            return []
        ids = select(EntryTerm.entry_id).where(EntryTerm.term.in_(terms))
        statement = statement.where(Entry.id.in_(ids))
    found = [e for e in session.scalars(statement) if _similar(folded, e.name_folded)]
    found.sort(key=lambda e: (-fuzz.token_sort_ratio(folded, e.name_folded), e.id))
    return found


def add_entry(
    session: Session, data: NewEntry, *, by: Citizen | None = None, force: bool = False
) -> Entry:
    """Validate and add an entry; raise :class:`DuplicateFound` when it seems to exist, and
    :class:`DailyCapReached` when ``by`` already added the day's share. Names, descriptions
    and addresses that start like a spreadsheet formula are refused (people type them)."""
    clean_data = validate_entry(data, refuse_formulas=True)  # what the chat's dialogs add
    if by is not None and by.id is not None:
        since = datetime.now(UTC) - timedelta(days=1)
        made = session.scalar(select(func.count()).select_from(Entry).where(
            Entry.created_by_id == by.id, Entry.created_at > since)) or 0
        if made >= LIMITS.daily_entries:
            raise DailyCapReached("entries", LIMITS.daily_entries)
    if not force:
        duplicates = find_duplicates(
            session, clean_data.name, clean_data.commune_insee, clean_data.category
        )
        if duplicates:
            raise DuplicateFound(duplicates)
    entry = Entry(
        kind=clean_data.kind,
        org_type=clean_data.org_type,
        name=clean_data.name,
        name_folded=fold(clean_data.name)[:MAX_NAME],
        category=clean_data.category,
        tags=list(clean_data.tags),
        description=clean_data.description,
        commune_insee=clean_data.commune_insee,
        address=clean_data.address,
        postcode=clean_data.postcode,
        lat=clean_data.lat,
        lon=clean_data.lon,
        phone=clean_data.phone,
        website=clean_data.website,
        email=clean_data.email,
        status=clean_data.status,
        stage=clean_data.stage,
        needs=list(clean_data.needs),
        starts_at=clean_data.starts_at,
        ends_at=clean_data.ends_at,
        organizer_id=clean_data.organizer_id,
        created_by_id=by.id if by is not None else None,
    )
    session.add(entry)
    session.flush()
    return entry


def _require_active(entry: Entry) -> None:
    if entry.status != EntryStatus.ACTIVE.value:
        raise InvalidEntry("entry", "not_active")


def _insert_once(session: Session, row: Any) -> bool:
    """Insert a unique (citizen, entry) row; False if it was already there (even when a
    concurrent transaction inserted it first)."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def recommend(
    session: Session, citizen: Citizen, entry: Entry, comment: str | None = None
) -> tuple[Recommendation, bool]:
    """One recommendation per citizen and entry; a second call updates the comment.

    ``entry.recommendation_count`` is incremented in SQL (``count + 1``), so concurrent
    recommendations of one entry never lose a count.
    """
    _require_active(entry)
    text = _text(comment, "comment", MAX_COMMENT)
    existing = session.scalar(
        select(Recommendation).where(
            Recommendation.citizen_id == citizen.id, Recommendation.entry_id == entry.id
        )
    )
    if existing is None:
        row = Recommendation(citizen_id=citizen.id, entry_id=entry.id, comment=text)
        if _insert_once(session, row):
            session.execute(
                update(Entry)
                .where(Entry.id == entry.id)
                .values(recommendation_count=Entry.recommendation_count + 1)
                .execution_options(synchronize_session=False)
            )
            session.refresh(entry, ["recommendation_count"])
            return row, True
        existing = session.scalar(
            select(Recommendation).where(
                Recommendation.citizen_id == citizen.id, Recommendation.entry_id == entry.id
            )
        )
        assert existing is not None
    if comment is not None:
        existing.comment = text
        session.flush()
    return existing, False


def join(session: Session, citizen: Citizen, entry: Entry, role: str | None = None) -> bool:
    """Membership of an organization; True if newly joined (a role given later updates)."""
    _require_active(entry)
    if entry.kind != EntryKind.ORGANIZATION.value:
        raise InvalidEntry("entry", "not_an_organization")
    role_text = _text(role, "role", MAX_ROLE)
    existing = session.scalar(
        select(Membership).where(Membership.citizen_id == citizen.id, Membership.entry_id == entry.id)
    )
    if existing is None:
        if _insert_once(session, Membership(citizen_id=citizen.id, entry_id=entry.id, role=role_text)):
            return True
        existing = session.scalar(
            select(Membership).where(
                Membership.citizen_id == citizen.id, Membership.entry_id == entry.id
            )
        )
        assert existing is not None
    if role_text is not None and existing.role != role_text:
        existing.role = role_text
        session.flush()
    return False


FOLLOWABLE_KINDS = frozenset({EntryKind.PROJECT.value, EntryKind.ORGANIZATION.value})


def follow(session: Session, citizen: Citizen, entry: Entry) -> bool:
    """Follow a project or an organisation (to hear of its news and next events); True if
    newly followed."""
    _require_active(entry)
    if entry.kind not in FOLLOWABLE_KINDS:
        raise InvalidEntry("entry", "not_followable")
    exists = session.scalar(
        select(func.count()).select_from(Follow).where(
            Follow.citizen_id == citizen.id, Follow.entry_id == entry.id
        )
    )
    if exists:
        return False
    return _insert_once(session, Follow(citizen_id=citizen.id, entry_id=entry.id))


def follower_languages(session: Session, entry: Entry, *, but: int | None = None) -> list[tuple[int, str]]:
    """(citizen id, language) of each follower of ``entry`` who is not banned, but ``but``
    (the author of the news), in a stable order."""
    statement = (
        select(Citizen.id, Citizen.lang)
        .join(Follow, Follow.citizen_id == Citizen.id)
        .where(Follow.entry_id == entry.id, Citizen.banned.is_(False))
        .order_by(Citizen.id)
    )
    if but is not None:
        statement = statement.where(Citizen.id != but)
    return [(cid, lang) for cid, lang in session.execute(statement).all()]


def next_events(session: Session, organizer: Entry, now: datetime, limit: int = 3) -> list[Entry]:
    """An organiser's active events that have not ended at ``now``, soonest first."""
    moment = _utc(now)
    ends = func.coalesce(Entry.ends_at, Entry.starts_at)
    statement = (
        select(Entry)
        .where(
            Entry.organizer_id == organizer.id,
            Entry.kind == EntryKind.EVENT.value,
            Entry.status == EntryStatus.ACTIVE.value,
            Entry.starts_at.is_not(None),
            ends >= moment,
        )
        .order_by(Entry.starts_at, Entry.id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def whats_new(session: Session, commune_insee: str, since: datetime) -> list[Entry]:
    """Active entries of a commune created strictly after ``since`` (a naive datetime is
    UTC), oldest first: a digest stamped with the time it was computed never repeats one."""
    moment = _utc(since)
    statement = (
        select(Entry)
        .where(
            Entry.commune_insee == commune_insee,
            Entry.created_at > moment,
            Entry.status == EntryStatus.ACTIVE.value,
        )
        .order_by(Entry.created_at, Entry.id)
    )
    return list(session.scalars(statement))


def citizen_summary(session: Session, citizen: Citizen) -> CitizenSummary:
    """What a citizen recommended (with comments), belongs to, and the projects they
    created or follow — for "my page" and for exporting their own data."""
    summary = CitizenSummary()
    for entry, comment in session.execute(
        select(Entry, Recommendation.comment)
        .join(Recommendation, Recommendation.entry_id == Entry.id)
        .where(Recommendation.citizen_id == citizen.id)
        .order_by(Recommendation.created_at, Entry.id)
    ):
        summary.recommended.append((entry, comment))
    for entry, role in session.execute(
        select(Entry, Membership.role)
        .join(Membership, Membership.entry_id == Entry.id)
        .where(Membership.citizen_id == citizen.id)
        .order_by(Membership.created_at, Entry.id)
    ):
        summary.memberships.append((entry, role))
    followed = select(Follow.entry_id).where(Follow.citizen_id == citizen.id)
    summary.projects = list(
        session.scalars(
            select(Entry)
            .where(
                Entry.kind == EntryKind.PROJECT.value,
                (Entry.created_by_id == citizen.id) | Entry.id.in_(followed),
            )
            .order_by(Entry.created_at, Entry.id)
        )
    )
    return summary


#: a phone number is compared on its last digits: "0262 11 22 33", "+262 262 11 22 33" and
#: "02.62.11.22.33" are one number
PHONE_DIGITS = 9


def _digits_sql(column: Any) -> Any:
    """The column with its usual separators removed, in SQL (SQLite and PostgreSQL)."""
    for separator in (" ", ".", "-", "(", ")", "/"):
        column = func.replace(column, separator, "")
    return column


def find_by_contact(session: Session, contact: str, limit: int = 5) -> list[Entry]:
    """Active entries whose phone number or web address is ``contact`` (a pasted number, as
    digits with an optional leading "+", or a host and path without scheme, as the NLU
    gives them). Nothing when it is neither."""
    if not contact:
        return []
    query = select(Entry).where(Entry.status == EntryStatus.ACTIVE.value)
    digits = "".join(ch for ch in contact if ch.isdigit())
    if contact.lstrip("+").isdigit():
        if len(digits) < 6:
            return []
        tail = digits[-PHONE_DIGITS:]
        query = query.where(_digits_sql(Entry.phone).like(f"%{tail}"))
    else:
        host = contact.lower().removeprefix("www.").rstrip("/")
        if "." not in host or any(ch in host for ch in "%_ "):
            return []
        query = query.where(func.lower(Entry.website).like(f"%{host}%"))
    return list(session.scalars(query.order_by(Entry.id).limit(limit)))
