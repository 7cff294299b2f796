"""``communebot search``: the directory search from the command line (JSON for scripts)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import click

from bot.commands.importexport import cli_translator, invalid_message
from directory.db import DatabaseError, open_store
from directory.search import DEFAULT_RADIUS_KM, InvalidQuery, SearchHit, SearchQuery
from directory.search import search as run_search

#: radii tried in turn when the caller gave none and the local search found nothing
WIDER_RADII_KM = (50.0, 200.0)


def hit_json(hit: SearchHit) -> dict[str, object]:
    """The CLI contract: id, name, category, commune, distance_km, recommendations (+ more)."""
    data = asdict(hit)
    return {
        "id": data.pop("entry_id"),
        "name": data.pop("name"),
        "category": data.pop("category"),
        "commune": data.pop("commune_insee"),
        "distance_km": data.pop("distance_km"),
        "recommendations": data.pop("recommendations"),
        **data,
    }


def _resolve_place(text: str) -> str | None:
    """An INSEE code as given, or the best commune for a name / postcode."""
    from directory.gazetteer import get_gazetteer

    gazetteer = get_gazetteer()
    if gazetteer.current(text) is not None:
        return text.strip().upper()
    matches = gazetteer.resolve(text, limit=1)
    return matches[0].commune.insee if matches else None


@click.command("search")
@click.argument("text", required=False, default="")
@click.option("--near", "near", metavar="INSEE", help="Commune (INSEE code, or a name / postcode).")
@click.option("--at", "at", nargs=2, type=float, metavar="LAT LON", help="A point.")
@click.option("--radius", type=float, help=f"Kilometres (default {DEFAULT_RADIUS_KM:g}, widened if empty).")
@click.option("--category", help="Taxonomy slug.")
@click.option(
    "--kind", "kinds", multiple=True, type=click.Choice(["organization", "project", "event", "poi"])
)
@click.option("--limit", type=int, default=10, show_default=True)
@click.option("--cursor", help="Next page (printed after a page).")
@click.option("--db", "url", envvar="COMMUNEBOT_DB", help="SQLAlchemy URL of the store.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--lang", type=click.Choice(["fr", "en"]), help="Language of the messages.")
def search(
    text: str, near: str | None, at: tuple[float, float] | None, radius: float | None,
    category: str | None, kinds: tuple[str, ...], limit: int, cursor: str | None,
    url: str | None, as_json: bool, lang: str | None,
) -> None:
    """Search the directory: TEXT and/or --category, near a commune or a point."""
    t = cli_translator(lang)
    if near and at:
        raise click.UsageError("--near and --at exclude each other")
    commune = None
    if near:
        commune = _resolve_place(near)
        if commune is None:
            raise click.ClickException(t("directory.search.unknown_place", text=near))
    try:
        _engine, factory = open_store(url)
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    query = SearchQuery(
        text=text, category=category, point=tuple(at) if at else None,  # type: ignore[arg-type]
        commune=commune, radius_km=radius, kinds=kinds, limit=limit, cursor=cursor,
    )
    try:
        with factory() as session:
            page = run_search(session, query)
            if not page.hits and radius is None and cursor is None and (commune or at):
                for wider in WIDER_RADII_KM:
                    page = run_search(session, replace(query, radius_km=wider))
                    if page.hits:
                        if not as_json:
                            click.echo(t("directory.search.widened", small=f"{DEFAULT_RADIUS_KM:g}",
                                         radius=f"{wider:g}"), err=True)
                        break
    except InvalidQuery as exc:
        raise click.ClickException(invalid_message(t, exc.field, exc.reason)) from None
    if as_json:
        click.echo(json.dumps([hit_json(h) for h in page.hits], ensure_ascii=False, indent=1))
        if not page.hits:
            raise SystemExit(1)  # nothing found: exit 1, as grep does
        return
    if not page.hits:
        click.echo(t("directory.search.no_results"))
        raise SystemExit(1)
    for number, hit in enumerate(page.hits, start=1):
        parts = [f"{number}. {hit.name}", hit.category, hit.commune_insee]
        if hit.distance_km is not None:
            parts.append(t.distance(hit.distance_km))
        if hit.recommendations:
            parts.append(t.plural("directory.search.recommendations", hit.recommendations))
        click.echo(" · ".join(parts))
    if page.next_cursor:
        click.echo(t("directory.search.more", cursor=page.next_cursor))
