"""Questions about the entry on screen: "son téléphone ?", "l'adresse ?", "ils ouvrent le
samedi ?", "website?", and "partage-la".

Each answer comes from the entry's own fields; a field the entry lacks is said to be
missing (never invented), in the user's language. Opening hours are read with a real
parser (``directory.opening_hours``) in the commune's time zone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.dialog import DialogContext
from bot.messages import Bold, LineBreak, Link, Outgoing, Span, StartLink, Text
from dialogs import common
from directory.opening_hours import describe_day, describe_now

if TYPE_CHECKING:
    from directory.models import Entry

#: the fields a question may be about, and the catalog key of their answer
FIELDS = ("phone", "address", "hours", "website", "email")


def _missing(ctx: DialogContext, entry: Entry, field: str) -> Outgoing:
    return common.say(ctx, f"entry.ask.no_{field}", name=entry.name)


def answer_field(ctx: DialogContext, entry: Entry, field: str, weekday: int | None) -> list[Outgoing]:
    """The entry's answer to a question about one of its fields."""
    if field == "phone":
        if not entry.phone:
            return [_missing(ctx, entry, field)]
        return [common.say(ctx, "entry.ask.phone", name=entry.name, phone=entry.phone)]
    if field == "email":
        if not entry.email:
            return [_missing(ctx, entry, field)]
        return [common.say(ctx, "entry.ask.email", name=entry.name, email=entry.email)]
    if field == "website":
        if not entry.website:
            return [_missing(ctx, entry, field)]
        url = entry.website if "://" in entry.website else "https://" + entry.website
        lead = ctx.t("entry.ask.website", name=entry.name)
        return [common.say_spans(ctx, [Text(lead + " "), Link(entry.website, url)])]
    if field == "address":
        address = ", ".join(p for p in (entry.address, entry.postcode) if p)
        where = common.commune_label(entry.commune_insee)
        if not address:
            return [common.say(ctx, "entry.ask.no_address", name=entry.name, commune=where)]
        out = [common.say(ctx, "entry.ask.address", name=entry.name, address=address, commune=where)]
        pin = common.entry_pin(entry)
        if pin is not None:
            out.append(Outgoing(pin=pin, lang=ctx.lang))
        return out
    if field == "hours":
        hours = getattr(entry, "opening_hours", None)
        if not hours:
            return [_missing(ctx, entry, "hours")]
        place = common.commune(entry.commune_insee)
        tz = place.timezone if place is not None else "Europe/Paris"
        said = (describe_day(hours, weekday, ctx.now, ctx.lang, tz) if weekday is not None
                else describe_now(hours, ctx.now, ctx.lang, tz))
        return [common.say_spans(ctx, [Bold(entry.name), Text(" — " + said)])]
    return [common.say(ctx, "entry.ask.unknown_field", name=entry.name)]


def share_message(ctx: DialogContext, entry: Entry) -> Outgoing:
    """A self-contained text about the entry, ready to forward to someone."""
    meta = " · ".join(p for p in (common.category_name(entry.category, ctx.lang),
                                  common.commune_label(entry.commune_insee)) if p)
    spans: list[Span] = [Text(ctx.t("entry.share.intro")), LineBreak(), LineBreak(),
                         Bold(entry.name), Text(" — " + meta)]
    address = ", ".join(p for p in (entry.address, entry.postcode) if p)
    for value in (address, entry.phone, entry.website, entry.email):
        if value:
            spans += [LineBreak(), Text(value)]
    spans += [LineBreak(), StartLink(ctx.t("entry.share.open"), share_payload(entry.id))]
    return common.say_spans(ctx, spans)


def share_payload(entry_id: int) -> str:
    """What ``/start`` carries to open an entry ("e42"): short, and a deep link's payload
    may only hold letters, digits, "_" and "-"."""
    return f"e{entry_id}"


def entry_of_payload(payload: str) -> int | None:
    """The entry id a ``/start`` payload opens, or None when it names no entry."""
    text = payload.strip()
    return int(text[1:]) if text[:1] == "e" and text[1:].isdigit() and len(text) <= 12 else None
