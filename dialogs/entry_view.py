"""What the ask, recommend, join and announce dialogs share: reading typed answers,
matching a category, parsing a contact, showing an entry with its actions, and handing a
conversation over to another dialog.

Everything here is pure except the few functions taking a ``DialogContext`` that read the
store through ``ctx.session``; none of them writes. Writes happen in the dialogs' final
steps, so an abandoned conversation leaves nothing half-written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from bot.dialog import JSON, DialogContext, Step
from bot.messages import Bold, Choice, Document, Inline, Italic, LineBreak, MapPin, Outgoing, Span, Text
from dialogs import common
from dialogs.agenda import when_text
from directory import services
from directory.categories import get_taxonomy
from directory.ical import events_calendar
from directory.models import Entry, EntryStatus, Recommendation
from directory.opening_hours import describe_now
from directory.search import haversine_km
from directory.text import clean, fold

if TYPE_CHECKING:
    from directory.models import Entry

# --- reading typed answers ------------------------------------------------------------------

#: an HTML/XML tag (or comment): users paste these, we store plain text only
_MARKUP = re.compile(r"<\s*(?:/?\s*[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?|!--.*?--)\s*/?\s*>", re.S)
#: Markdown emphasis wrapped around the whole answer (``**Crèche**``): dropped, not refused
_MD_WRAP = re.compile(r"^([*_`~]{1,3})(.+?)\1$", re.S)

NAME_MAX = 120
TEXT_MAX = 1000
ADDRESS_MAX = 200
COMMENT_MAX = 500


@dataclass(frozen=True, slots=True)
class Bad:
    """A refused answer: the message key and its placeholders."""

    key: str
    values: tuple[tuple[str, Any], ...] = ()

    def reply(self, ctx: DialogContext) -> Outgoing:
        values: dict[str, Any] = {k: ctx.t.number(v) if isinstance(v, int) else v for k, v in self.values}
        return Outgoing(spans=(Text(ctx.t(self.key, **values)),), lang=ctx.lang)


def read_text(raw: str | None, *, max_len: int, need_word: bool = True,
              entry_field: bool = False) -> str | Bad:
    """Clean a typed answer, or say why it cannot be used.

    Invisible characters go (``directory.text.clean``); an answer that was only invisible
    characters is empty; markup is refused rather than silently stored; ``need_word``
    refuses answers with no letter or digit at all (only emojis or punctuation). An
    ``entry_field`` (a name, description or address the directory will publish and
    export) may not start like a spreadsheet formula (``=``, ``+``, ``@``…): asked again
    at once, the store refusing it anyway (``services.starts_like_formula``).
    """
    if entry_field and services.starts_like_formula(raw or ""):
        return Bad("directory.invalid.formula")
    text = clean(raw or "")
    wrapped = _MD_WRAP.match(text)
    if wrapped:
        text = wrapped.group(2).strip()
    if not text:
        return Bad("common.text.empty")
    if len(text) > max_len:
        return Bad("common.text.too_long", (("max", max_len),))
    if _MARKUP.search(text):
        return Bad("entry.input.markup")
    if need_word and not fold(text):
        return Bad("common.text.no_letters")
    return text


#: typed answers meaning "none of these, it is a new one" (folded)
NONE_OF_THESE = frozenset(
    {
        "aucun",
        "aucune",
        "aucun des deux",
        "ni l un ni l autre",
        "autre",
        "un autre",
        "une autre",
        "nouveau",
        "nouvelle",
        "c est un autre",
        "c est une autre",
        "none",
        "none of these",
        "neither",
        "other",
        "another",
        "another one",
        "new",
        "new one",
        "a new one",
    }
)


def says_none_of_these(text: str) -> bool:
    """ "aucun", "un autre", "none of these"…: the user rejects every candidate offered."""
    return fold(text) in NONE_OF_THESE


def as_name(text: str) -> str:
    """A name as a directory shows it: first letter capitalised ("troupe de théâtre du
    Port" read from a sentence becomes "Troupe de théâtre du Port"); the rest untouched."""
    return text[:1].upper() + text[1:] if text[:1].islower() else text


# --- contact ----------------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_URL = re.compile(
    r"(?:https?://[^\s,;<>]+|www\.[^\s,;<>]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:fr|re|com|org|net|eu|nc|yt|"
    r"gp|mq|pf|info|io|asso\.fr)\b(?:/[^\s,;<>]*)?)",
    re.I,
)
_PHONE = re.compile(r"\+?\d[\d .\-()]{4,22}\d")


@dataclass(frozen=True, slots=True)
class Contact:
    phone: str | None = None
    website: str | None = None
    email: str | None = None

    def as_json(self) -> JSON:
        return {"phone": self.phone, "website": self.website, "email": self.email}

    @classmethod
    def from_json(cls, data: JSON | None) -> Contact:
        data = data or {}
        return cls(data.get("phone"), data.get("website"), data.get("email"))


def parse_contact(raw: str) -> Contact | Bad:
    """Find a phone number, a website and an e-mail in one free answer.

    ``"0262 12 34 56, www.tibouts.re"`` gives a phone and a website. Anything left over
    that is none of the three makes the answer refused, so a typo is not stored as data.
    """
    text = read_text(raw, max_len=ADDRESS_MAX, need_word=True)
    if isinstance(text, Bad):
        return text
    rest = text
    email = _EMAIL.search(rest)
    if email:
        rest = rest.replace(email.group(0), " ")
    url = _URL.search(rest)
    if url:
        rest = rest.replace(url.group(0), " ")
    phone = _PHONE.search(rest)
    phone_text = None
    if phone:
        digits = re.sub(r"\D", "", phone.group(0))
        if 6 <= len(digits) <= 15:
            phone_text = " ".join(phone.group(0).split())
            rest = rest.replace(phone.group(0), " ")
    if fold(rest) or not (email or url or phone_text):
        return Bad("entry.contact.invalid")
    website = url.group(0).rstrip(".") if url else None
    if website and not website.lower().startswith(("http://", "https://")):
        website = "https://" + website
    return Contact(phone=phone_text, website=website, email=email.group(0) if email else None)


# --- categories --------------------------------------------------------------------------------


def match_category(text: str, lang: str) -> tuple[str | None, list[str]]:
    """``(slug, [])`` when the answer names one category clearly, else ``(None, candidates)``.

    A clear answer scores high and well ahead of the runner-up; otherwise the plausible
    candidates are offered as choices, so a user who typed "école" picks between the
    school and the music school instead of getting one at random.
    """
    matches = get_taxonomy().match(text, lang=lang, limit=4)
    if not matches:
        return None, []
    best, best_score = matches[0]
    runner_up = matches[1][1] if len(matches) > 1 else 0.0
    if best_score >= 85 and best_score - runner_up >= 8:
        return best.slug, []
    return None, [category.slug for category, score in matches if score >= 55]


_JOINERS = frozenset({"de", "du", "des", "d", "la", "le", "les", "l"})


def capitalised_name(text: str) -> str | None:
    """The name a sentence gives in capitals when nothing else found one: "le meilleur
    boucher du quartier c'est Chez Payet" names "Chez Payet" (pure). The sentence's first
    word does not count (it is capitalised anyway); small joining words may sit inside
    ("Pharmacie du Centre")."""
    words = text.replace("’", "'").split()
    best: list[str] = []
    run: list[str] = []
    for index, raw in enumerate(words):
        word = raw.strip(",.;:!?«»\"()")
        tail = word.split("'")[-1]  # "c'est" / "d'Arles": the part after the apostrophe
        capital = index > 0 and tail[:1].isupper()
        if capital:
            run.append(tail if "'" in word and not tail.startswith(word) else word)
        elif run and fold(word) in _JOINERS:
            run.append(word)
        else:
            while run and fold(run[-1]) in _JOINERS:
                run.pop()
            best = run if len(run) > len(best) else best
            run = []
        if raw[-1:] in ",.;:!?":
            while run and fold(run[-1]) in _JOINERS:
                run.pop()
            best = run if len(run) > len(best) else best
            run = []
    while run and fold(run[-1]) in _JOINERS:
        run.pop()
    best = run if len(run) > len(best) else best
    return " ".join(best) or None


#: words that never start the category word kept in a name ("chez", articles)
_NOT_IN_A_NAME = frozenset({"le", "la", "les", "l", "un", "une", "chez", "de", "du", "des", "d",
                            "a", "au", "aux", "the", "an", "my", "mon", "ma"})


_PLACE_JOINERS = frozenset({"du", "de", "d", "des", "au", "aux", "a", "en", "sur", "le", "la",
                            "les", "l", "in", "at", "of", "from", "the"})


def without_place(name: str, place_name: str) -> str:
    """The name without the commune said after it: "troupe de théâtre du port" in Le Port
    is "troupe de théâtre" (pure); unchanged when it does not end with the commune."""
    words = name.split()
    place = [w for w in fold(place_name).replace("'", " ").split() if w not in _PLACE_JOINERS]
    if not place or len(words) <= len(place):
        return name
    tail = [fold(w) for w in words[-len(place):]]
    if tail != place:
        return name
    kept = words[: -len(place)]
    while kept and fold(kept[-1]) in _PLACE_JOINERS:
        kept.pop()
    return " ".join(kept) if kept else name


def with_category_word(text: str, name: str, lang: str) -> str:
    """The name as the sentence said it, category word included: "je recommande le garage
    Zot" names "Garage Zot", not "Zot" (pure). A name that already has it, or whose
    preceding word names no category, is returned as is."""
    words = text.split()
    name_words = name.split()
    if not name_words or len(name_words) > len(words):
        return name
    folded = [fold(w) for w in words]
    target = [fold(w) for w in name_words]
    for start in range(1, len(words) - len(name_words) + 1):
        if folded[start:start + len(name_words)] != target:
            continue
        for size in (1, 2):  # "garage Zot", else "club sportif Calumet"
            if start - size < 0:
                continue
            before = " ".join(w.strip(",.;:!?«»\"'") for w in words[start - size:start])
            if before[:2].lower() in {"l'", "d'", "l’", "d’"}:
                before = before[2:]  # "l'association zot marmay": the article is not kept
            slug, _ = match_category(before, lang)
            if slug is None or fold(before.split()[0]) in _NOT_IN_A_NAME:
                continue
            if match_category(name_words[0], lang)[0] == slug:
                return name
            return f"{before[:1].upper()}{before[1:]} {name}"
        return name
    return name


# --- what a sentence is about -------------------------------------------------------------------

#: how people start a sentence before naming a place (folded), for recommend / join
NAME_LEADS = frozenset(
    {
        "je recommande",
        "je vous recommande",
        "je conseille",
        "je vous conseille",
        "recommande",
        "i recommend",
        "i d recommend",
        "i would recommend",
        "recommend",
        "je fais partie de",
        "je fais partie du",
        "je fais partie des",
        "jfe parti de", "jfe partie de", "jfe parti du", "jfe partie du", "jfais partie de",
        "jfais parti de", "j fais partie de", "je fais parti de", "je fe parti de",
        "je suis membre de",
        "je suis membre du",
        "je suis membre des",
        "je suis dans",
        "i belong to",
        "i m a member of",
        "i am a member of",
        "i m in",
        "i am in",
    }
)
#: how people start a search before saying what (folded)
SEARCH_LEADS = frozenset(
    {
        "je cherche",
        "je recherche",
        "cherche",
        "recherche",
        "on cherche",
        "ou trouver",
        "ou est",
        "ou se trouve",
        "trouve moi",
        "trouvez moi",
        "y a t il",
        "il y a",
        "connaissez vous",
        "tu connais",
        "vous connaissez",
        "i m looking for",
        "i am looking for",
        "looking for",
        "where is",
        "where can i find",
        "find",
        "find me",
        "is there",
        "do you know",
    }
)
_ARTICLES = frozenset({"le", "la", "les", "l", "du", "de", "des", "d", "the", "a", "an", "un", "une"})


def strip_lead(text: str, leads: frozenset[str] = NAME_LEADS) -> str | None:
    """The name in "je recommande la boulangerie Chez Mimi" -> "boulangerie Chez Mimi".

    Compares folded word prefixes, so accents and case in the name itself are kept.
    None when nothing is left (the user only said "je recommande").
    """
    words = text.split()
    start = 0
    for size in range(min(6, len(words)), 0, -1):
        if fold(" ".join(words[:size])) in leads:
            start = size
            break
    while start < len(words) - 1 and fold(words[start]) in _ARTICLES:
        start += 1
    rest = " ".join(words[start:])
    if rest[:2].lower() in ("l'", "d'", "l’", "d’"):
        rest = rest[2:]
    rest = rest.strip(" ,.;:!?")
    return rest if fold(rest) and (start == 0 or fold(rest) not in _ARTICLES) else None


# --- entries -----------------------------------------------------------------------------------

ACTION_RECOMMEND = "act:rec"
ACTION_JOIN = "act:join"
ACTION_FOLLOW = "act:follow"
ACTION_FOLLOW_ORGANIZER = "act:follow_org"
ACTION_CALENDAR = "act:ics"
ACTION_REPORT = "act:report"
ACTION_BACK = "act:back"
ACTION_DONE = "act:done"


def load_entry(ctx: DialogContext, entry_id: Any) -> Entry | None:
    """An entry the user may see and act on: an active one (hidden/pending ones are not shown)."""
    try:
        key = int(entry_id)
    except (TypeError, ValueError):
        return None
    entry = ctx.session.get(Entry, key)
    if entry is None:
        return None
    return entry if entry.status == EntryStatus.ACTIVE.value else None


def entry_summary_line(ctx: DialogContext, entry: Entry) -> tuple[Inline, ...]:
    """One line of a candidate list: **name** — category · commune · recommendations."""
    parts = [
        common.category_name(entry.category, ctx.lang),
        common.commune_label(entry.commune_insee),
        common.recommendations_text(ctx.t, entry.recommendation_count),
    ]
    return (Bold(entry.name), Text(" — " + " · ".join(p for p in parts if p)))


def entry_card(ctx: DialogContext, entry: Entry, distance_km: float | None = None) -> list[Span]:
    """The details of one entry (``dialogs.common.entry_card``) plus what only a project
    has (stage, needs) and the latest recommendation comments."""
    spans: list[Span] = list(common.entry_card(ctx.t, entry, distance_km=distance_km))
    extra: list[Span] = []
    if entry.kind == "event" and entry.starts_at is not None:
        extra += [Text("📅 " + when_text(ctx.lang, entry)), LineBreak()]
        organizer = _organizer(ctx, entry)
        if organizer is not None:
            extra += [Text(ctx.t("entry.card.organizer") + " "), Bold(organizer.name), LineBreak()]
    if entry.opening_hours:
        place = common.commune(entry.commune_insee)
        tz = place.timezone if place is not None else "Europe/Paris"
        extra += [Text("🕒 " + describe_now(entry.opening_hours, ctx.now, ctx.lang, tz)), LineBreak()]
    if entry.kind == "project":
        if entry.stage:
            extra += [Text(ctx.t("entry.card.stage", stage=ctx.t(f"entry.stage.{entry.stage}"))), LineBreak()]
        if entry.needs:
            needs = ", ".join(ctx.t(f"entry.need.{need}") for need in entry.needs)
            extra += [Text(ctx.t("entry.card.needs", needs=needs)), LineBreak()]
    if entry.kind in services.FOLLOWABLE_KINDS:
        coming = services.next_events(ctx.session, entry, ctx.now)
        if coming:
            extra += [Text(ctx.t("entry.card.next_events")), LineBreak()]
            for event in coming:
                extra += [Text("• "), Bold(event.name), Text(" — " + when_text(ctx.lang, event)), LineBreak()]
    # the recommendation count closes the card: put the project lines just before it
    spans[-1:-1] = extra
    if entry.kind == "event" and entry.recommendation_count == 0:
        spans.pop()  # an event is not a shop: no "not recommended yet"
    for comment in _latest_comments(ctx, entry):
        spans += [LineBreak(), Italic(ctx.t("entry.card.comment", comment=comment))]
    return spans


def _latest_comments(ctx: DialogContext, entry: Entry, limit: int = 2) -> list[str]:
    rows = ctx.session.scalars(
        select(Recommendation.comment)
        .where(Recommendation.entry_id == entry.id, Recommendation.comment.is_not(None))
        .order_by(Recommendation.created_at.desc(), Recommendation.id.desc())
        .limit(limit)
    ).all()
    return [clean(row, COMMENT_MAX) for row in rows if row and clean(row)]


def entry_actions(ctx: DialogContext, entry: Entry, *, back: bool) -> tuple[Choice, ...]:
    """Recommend, I belong here (organizations), follow (projects), back to the list."""
    # an event is added to one's calendar, not recommended like a shop
    choices = [] if entry.kind == "event" else [Choice(ACTION_RECOMMEND, ctx.t("entry.action.recommend"))]
    if entry.kind == "organization":
        choices.append(Choice(ACTION_JOIN, ctx.t("entry.action.join")))
    if entry.kind == "organization":
        choices.append(Choice(ACTION_FOLLOW, ctx.t("entry.action.follow_org")))
    if entry.kind == "project":
        choices.append(Choice(ACTION_FOLLOW, ctx.t("entry.action.follow")))
    if entry.kind == "event" and entry.starts_at is not None:
        choices.append(Choice(ACTION_CALENDAR, ctx.t("entry.action.calendar")))
        if _organizer(ctx, entry) is not None:
            choices.append(Choice(ACTION_FOLLOW_ORGANIZER, ctx.t("entry.action.follow_organizer")))
    choices.append(Choice(ACTION_REPORT, ctx.t("entry.action.report")))
    if back:
        choices.append(Choice(ACTION_BACK, ctx.t("entry.action.back")))
    choices.append(Choice(ACTION_DONE, ctx.t("entry.action.done")))
    return tuple(choices)


def entry_message(
    ctx: DialogContext,
    entry: Entry,
    *,
    back: bool,
    origin: tuple[float, float] | None = None,
    edit_key: str | None = None,
) -> list[Outgoing]:
    """The entry's card with its actions (and its distance from ``origin``), then its map
    pin when it has a point."""
    distance = None
    if origin is not None and entry.lat is not None and entry.lon is not None:
        distance = haversine_km(origin, (entry.lat, entry.lon))
    card = entry_card(ctx, entry, distance)
    out = [common.say_spans(ctx, card, choices=entry_actions(ctx, entry, back=back), edit_key=edit_key)]
    pin = common.entry_pin(entry)
    if pin is not None:
        if not pin.address:
            pin = MapPin(pin.name, pin.lat, pin.lon, common.commune_label(entry.commune_insee))
        out.append(Outgoing(pin=pin, lang=ctx.lang))
    return out


def act_on_entry(ctx: DialogContext, entry: Entry, action: str) -> Step | None:
    """Join or follow right away (the user pressed the button: that is the confirmation).

    Returns None for actions the calling dialog handles itself (recommend, back, done).
    """
    if action == ACTION_JOIN and entry.kind == "organization":
        created = services.join(ctx.session, ctx.citizen, entry)
        key = "entry.joined" if created else "entry.already_member"
        return Step.done(common.say(ctx, key, name=entry.name))
    if action == ACTION_FOLLOW_ORGANIZER and entry.kind == "event":
        organizer = _organizer(ctx, entry)
        if organizer is None:
            return Step.done(common.say(ctx, "ask.gone"))
        entry, action = organizer, ACTION_FOLLOW
    if action == ACTION_FOLLOW and entry.kind in services.FOLLOWABLE_KINDS:
        created = services.follow(ctx.session, ctx.citizen, entry)
        key = "entry.followed" if created else "entry.already_following"
        return Step.done(common.say(ctx, key, name=entry.name))
    if action == ACTION_CALENDAR and entry.kind == "event" and entry.starts_at is not None:
        return Step.done(common.say(ctx, "entry.calendar_file", name=entry.name), calendar_file(ctx, entry))
    return None


def calendar_file(ctx: DialogContext, entry: Entry) -> Outgoing:
    """The event as an ``.ics`` file any calendar app opens (its times in its commune's
    time zone, written by ``directory.ical``)."""
    data = events_calendar([entry], ctx.now).to_ical()
    stem = re.sub(r"[^a-z0-9]+", "-", fold(entry.name)).strip("-")[:60] or "evenement"
    return Outgoing(document=Document(f"{stem}.ics", "text/calendar", data), lang=ctx.lang)


def _organizer(ctx: DialogContext, entry: Entry) -> Entry | None:
    """An event's organiser, when it is still listed."""
    if entry.organizer_id is None:
        return None
    organizer = ctx.session.get(Entry, entry.organizer_id)
    return organizer if organizer is not None and organizer.status == EntryStatus.ACTIVE.value else None


# --- handing over to another dialog ---------------------------------------------------------------

DELEGATE = "_delegate"


def delegate(name: str, step: Step, outer: JSON | None = None) -> Step:
    """Wrap another dialog's step so its later messages reach it through this one.

    The engine stores one dialog name per chat; ``ask`` offering "recommend it" keeps its
    own name and forwards each message to ``recommend`` until that one finishes.
    """
    if step.state is None:
        return step
    return Step(step.replies, {DELEGATE: name, "inner": step.state, "outer": outer})


def resume_delegate(ctx: DialogContext, state: JSON, dialogs: dict[str, Callable[[], Any]]) -> Step:
    name = state[DELEGATE]
    dialog = dialogs[name]()
    return delegate(name, dialog.resume(ctx, state["inner"]), state.get("outer"))
