"""What the ask dialog searches and how its results read: where to search (a shared point,
"near me", a commune named, the chat's commune, home), the search as JSON kept in the
state, one page of results, and the sentences that say what was searched and where.

Pure apart from ``run_search`` (the store, through ``ctx.session``); the ask dialog
(``dialogs/ask.py``) holds the conversation's steps.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from bot.dialog import JSON, DialogContext
from bot.messages import Choice, Outgoing, Span, Text
from dialogs import common
from dialogs.slots import KINDS, Slots
from directory.gazetteer_geo import valid_point
from directory.search import InvalidQuery, SearchPage, SearchQuery, search

if TYPE_CHECKING:
    from directory.search import SearchHit

log = logging.getLogger(__name__)

#: results per page (a Telegram message with this many buttons stays readable)
PAGE_SIZE = 5
#: first radius around the point when the question gives none
DEFAULT_RADIUS_KM = 10.0
#: ``query["how"]`` of a search over the whole directory (a named place not found nearby)
ANYWHERE = "anywhere"
HIT = "hit:"
#: the edit key of a result list starts with this (one key per search, see results_key)
RESULTS = "results"


@dataclass(frozen=True)
class Place:
    """Where to search: a point or a commune, and how to say it."""

    point: tuple[float, float] | None
    commune: str | None
    #: "you" (the user's own point) or "commune"
    how: str


def choose_place(ctx: DialogContext, slots: Slots) -> Place | None:
    """Where to search (see the module docstring for the order); None: ask the user."""
    citizen = ctx.citizen
    own_point = (
        (citizen.home_lat, citizen.home_lon)
        if citizen.home_lat is not None and citizen.home_lon is not None
        else None
    )
    location = ctx.incoming.location
    if location is not None and valid_point(location.lat, location.lon):
        return Place((location.lat, location.lon), None, "you")
    if slots.commune and not slots.near_me:
        return Place(None, slots.commune, "commune")
    shared = ctx.memory.location
    if slots.near_me and shared is not None:  # "près d'ici" after sharing a location: there
        return Place((shared.lat, shared.lon), None, "you")
    if slots.near_me:  # "près de chez moi" wins over a commune read in the same sentence
        if own_point is not None:
            return Place(own_point, None, "you")
        if citizen.home_insee:
            return Place(None, citizen.home_insee, "commune")
        return Place(None, slots.commune, "commune") if slots.commune else None
    if ctx.chat_commune:
        return Place(None, ctx.chat_commune, "commune")
    if shared is not None:  # a point just shared says where the citizen is, kept or not
        return Place((shared.lat, shared.lon), None, "you")
    if own_point is not None:
        return Place(own_point, None, "you")
    if citizen.home_insee:
        return Place(None, citizen.home_insee, "commune")
    return None


def query_state(slots: Slots, place: Place) -> JSON:
    """The search as JSON, kept in the dialog state for paging and "back"."""
    text = slots.name or (slots.text if not slots.category else None)
    return {
        "text": text or "",
        "category": slots.category,
        "point": list(place.point) if place.point else None,
        "commune": place.commune,
        "how": place.how,
        "radius": slots.radius_km or DEFAULT_RADIUS_KM,
        #: the radius asked for, before any widening: a new place starts from it again
        "asked": slots.radius_km or DEFAULT_RADIUS_KM,
        "kind": slots.kind,
        "namesakes": list(slots.namesakes) if place.commune and place.commune == slots.commune else [],
        "needs": list(slots.needs),
        "stage": slots.stage,
    }


def asked_radius(query: JSON) -> float:
    """The radius the question asked for, before the search widened it."""
    return float(query.get("asked") or query.get("radius") or DEFAULT_RADIUS_KM)


def results_key(ctx: DialogContext, query: JSON) -> str:
    """One edit key per search: its pages, its cards and "back" replace each other in one
    message on screen (Telegram edits, Matrix replaces), while a new search gets a new
    message instead of overwriting the previous list far up in the chat."""
    seed = f"{ctx.now.timestamp():.6f}|{json.dumps(query, sort_keys=True, default=str)}"
    return f"{RESULTS}:{zlib.crc32(seed.encode()):08x}"


def origin_of(query: JSON) -> tuple[float, float] | None:
    """The point distances are measured from: the user's point, else the commune's centre."""
    point = query.get("point")
    if point:
        return float(point[0]), float(point[1])
    commune = common.commune(query.get("commune"))
    if commune is not None and commune.lat is not None and commune.lon is not None:
        return commune.lat, commune.lon
    return None


def run_search(
    ctx: DialogContext, query: JSON, cursor: str | None = None, *, limit: int = PAGE_SIZE
) -> SearchPage:
    """One page of results (an empty page if the search refuses the query: the inputs are
    checked before, so that is a bug to log, not a reason to crash the chat)."""
    point = query.get("point")
    try:
        return search(
            ctx.session,
            SearchQuery(
                text=query.get("text") or "",
                category=query.get("category"),
                point=(float(point[0]), float(point[1])) if point else None,
                commune=query.get("commune"),
                radius_km=float(query["radius"]) if query.get("radius") else None,
                kinds=(query["kind"],) if query.get("kind") in KINDS else (),
                limit=limit,
                cursor=cursor,
            ),
        )
    except InvalidQuery:
        log.warning("search refused a query from the ask dialog: %r", query)
        return SearchPage(hits=[], next_cursor=None)


def subject(ctx: DialogContext, query: JSON) -> str:
    """What is searched, as the user would say it: the category's name or the typed text."""
    if query.get("kind") == "project" and (query.get("needs") or query.get("stage")):
        return project_subject(ctx, query)
    if query.get("kind") in KINDS and not query.get("category") and not query.get("text"):
        return ctx.t(f"ask.kind.{query['kind']}")
    if not query.get("category") and not query.get("text"):
        return ctx.t("ask.everything")  # "anything close by?"
    if query.get("category"):
        name = common.category_name(query["category"], ctx.lang)
        if query.get("text"):
            return f"{name} « {query['text']} »" if ctx.lang == "fr" else f"{name} “{query['text']}”"
        return name
    return f"« {query['text']} »" if ctx.lang == "fr" else f"“{query['text']}”"


def header(ctx: DialogContext, query: JSON, page: str = "") -> str:
    """ "Crèche autour de Saint-Paul (974) (dans un rayon de 10 km) — page 2 :"."""
    if query.get("how") == ANYWHERE:
        return ctx.t("ask.results.anywhere", what=subject(ctx, query), page=page)
    radius = ctx.t.distance(float(query["radius"]))
    if query.get("how") == "you" or not query.get("commune"):
        return ctx.t("ask.results.near_you", what=subject(ctx, query), radius=radius, page=page)
    return ctx.t(
        "ask.results.around",
        what=subject(ctx, query),
        radius=radius,
        commune=common.commune_label(query["commune"]),
        page=page,
    )


def no_results(ctx: DialogContext, query: JSON, radius: float, wider: float | None = None) -> str:
    """ "Je n'ai trouvé aucune crèche dans un rayon de 10 km autour du Port (974).": what was
    searched and where, so that the user sees which part of the question to change."""
    t, text = ctx.t, query.get("text")
    if query.get("category"):
        category = common.category_name(query["category"], ctx.lang)
        found = (t("ask.none.found.category_text", category=category, text=text) if text
                 else t("ask.none.found.category", category=category))
    elif query.get("kind") == "project" and (query.get("needs") or query.get("stage")):
        found = t("ask.none.found.project_filtered", what=project_subject(ctx, query))
    elif query.get("kind") in KINDS and not text:
        found = t(f"ask.none.found.{query['kind']}")
    else:
        found = t("ask.none.found.text", what=subject(ctx, query))
    if query.get("how") == "you" or not query.get("commune"):
        where = t("ask.none.where.you")
    else:
        where = t("ask.none.where.commune", commune=common.commune_label(query["commune"]))
    if wider is None:
        return t("ask.none", found=found, radius=t.distance(radius), where=where)
    return t("ask.none_widened", found=found, radius=t.distance(radius), wider=t.distance(wider),
             where=where)


def project_subject(ctx: DialogContext, query: JSON) -> str:
    """ "Projets qui cherchent : bénévoles, financement (étape : idée)"."""
    what = ctx.t("ask.kind.project")
    if query.get("needs"):
        needs = ", ".join(ctx.t(f"entry.need.{n}").lower() for n in query["needs"])
        what = ctx.t("ask.projects.needing", needs=needs)
    if query.get("stage"):
        what += " (" + ctx.t("entry.card.stage", stage=ctx.t(f"entry.stage.{query['stage']}")).lower() + ")"
    return what


def results_reply(
    ctx: DialogContext,
    query: JSON,
    hits: list[SearchHit],
    *,
    more: bool,
    page: int,
    note: str = "",
    lines: Span | None = None,
) -> Outgoing:
    """The list, one choice per hit and "more" when there is a next page; ``lines``
    replaces the usual result lines (projects show their stage and needs)."""
    spans: list[Span] = []
    if note:
        spans.append(Text(note + "\n"))
    page_text = " " + ctx.t("ask.results.page", page=ctx.t.number(page)) if page > 1 else ""
    spans.append(Text(header(ctx, query, page_text)))
    spans.append(lines or common.result_list(ctx.t, cast("list[common.HitLike]", hits)))
    options = [Choice(f"{HIT}{hit.entry_id}", _button(hit.name)) for hit in hits]
    if more:
        options.append(Choice(common.MORE, ctx.t("ask.more")))
    if page == 1:  # the place's other namesakes, one press away
        options += [Choice(common.COMMUNE_PREFIX + code,
                           ctx.t("ask.namesake", commune=common.commune_label(code)))
                    for code in query.get("namesakes") or ()]
    return common.say_spans(ctx, spans, choices=options, edit_key=query.get("key") or RESULTS)


def _button(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"
