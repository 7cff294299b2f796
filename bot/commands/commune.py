"""``communebot commune TEXT [--near INSEE | --at LAT LON] [--limit N] [--json]``.

Prints the gazetteer's ranked candidates for a commune name, postcode or INSEE code: a
JSON list (the contract relied on by acceptance checks) or a readable table.
"""

from __future__ import annotations

import json
from typing import Any

import click

from bot.i18n import LANGUAGES, Translator, translator
from directory.gazetteer import CommuneMatch, Gazetteer, get_gazetteer
from directory.gazetteer_geo import valid_point
from directory.text import clean, fold


def match_json(match: CommuneMatch) -> dict[str, Any]:
    """One candidate as the JSON object of the CLI contract."""
    commune = match.commune
    return {
        "insee": commune.insee,
        "name": commune.name,
        "kind": commune.kind,
        "departement": commune.departement,
        "region": commune.region,
        "zone": commune.zone,
        "postcodes": list(commune.postcodes),
        "score": match.score,
        "matched": match.matched,
        "alias": match.alias,
        "alias_kind": match.alias_kind,
        "distance_km": match.distance_km,
        "timezone": commune.timezone,
        "population": commune.population,
        "lat": commune.lat,
        "lon": commune.lon,
    }


def render_table(t: Translator, text: str, matches: list[CommuneMatch]) -> str:
    """Plain aligned columns; a sentence instead when nothing matched."""
    shown = clean(text, max_length=80)
    if not fold(shown):
        return t("gazetteer.cli.empty")
    if not matches:
        return t("gazetteer.cli.no_match", text=shown)
    headers = [
        t("gazetteer.cli.col.insee"),
        t("gazetteer.cli.col.name"),
        t("gazetteer.cli.col.departement"),
        t("gazetteer.cli.col.postcodes"),
        t("gazetteer.cli.col.score"),
        t("gazetteer.cli.col.distance"),
    ]
    rows = []
    for match in matches:
        name = match.commune.name
        if match.alias and match.alias_kind == "localite":
            name = t("gazetteer.cli.locality", name=name, alias=match.alias)
        elif match.alias:
            name = t("gazetteer.cli.formerly", name=name, alias=match.alias)
        postcodes = ", ".join(match.commune.postcodes[:4])
        if len(match.commune.postcodes) > 4:
            postcodes += ", …"
        rows.append(
            [
                match.commune.insee,
                name,
                match.commune.departement,
                postcodes,
                t.number(match.score, 1),
                t.distance(match.distance_km),
            ]
        )
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def _reference(
    t: Translator, gazetteer: Gazetteer, near: str | None, at: tuple[float, float] | None
) -> str | tuple[float, float] | None:
    if near is not None and at is not None:
        raise click.UsageError(t("gazetteer.cli.near_and_at"))
    if near is not None:
        if gazetteer.current(near) is None:
            raise click.BadParameter(t("gazetteer.cli.unknown_insee", code=near), param_hint="--near")
        return near.strip().upper()
    if at is not None:
        if not valid_point(at[0], at[1]):
            raise click.BadParameter(
                t("gazetteer.cli.bad_point", lat=at[0], lon=at[1]), param_hint="--at"
            )
        return at
    return None


@click.command("commune")
@click.argument("text", nargs=-1)
@click.option("--near", metavar="INSEE", help="Rank same-name communes by distance from this one.")
@click.option("--at", type=(float, float), metavar="LAT LON", help="Rank by distance from a point.")
@click.option("--limit", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--lang", type=click.Choice(LANGUAGES), default="fr", show_default=True)
def commune(
    text: tuple[str, ...],
    near: str | None,
    at: tuple[float, float] | None,
    limit: int,
    as_json: bool,
    lang: str,
) -> None:
    """Ranked communes for TEXT: a name (typos, no accents, "St"), postcode or INSEE code."""
    t = translator(lang)
    gazetteer = get_gazetteer()
    reference = _reference(t, gazetteer, near, at)
    query = " ".join(text)
    matches = gazetteer.resolve(query, near=reference, limit=limit)
    if as_json:
        click.echo(json.dumps([match_json(m) for m in matches], ensure_ascii=False, indent=2))
    else:
        click.echo(render_table(t, query, matches))
    if not matches:
        raise SystemExit(1)  # nothing found: exit 1, as grep does (the JSON is still [])
