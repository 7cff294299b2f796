"""``communebot parse TEXT [--lang fr|en] [--home INSEE] [--json]``: what the NLU reads.

With ``--json`` prints one JSON object (the design contract: intent, category, commune,
near_me, radius_km, name, plus commune_candidates and lang); without it, a short
localized summary for a person trying phrasings out.
"""

from __future__ import annotations

import json

import click

from bot.i18n import LANGUAGES, Translator, translator
from bot.nlu import Parse
from bot.nlu import parse as nlu_parse
from directory.categories import get_taxonomy
from directory.gazetteer import get_gazetteer


def render_summary(t: Translator, result: Parse) -> str:
    """One line per slot, names instead of codes."""
    lines = [t("nlu.cli.intent", intent=result.intent)]
    if result.category:
        category = get_taxonomy().get(result.category)
        label = category.name(t.lang) if category else result.category
        lines.append(t("nlu.cli.category", name=label, slug=result.category))
    if result.commune:
        gaz = get_gazetteer()
        names = []
        for insee in result.commune_candidates or (result.commune,):
            commune = gaz.current(insee)
            names.append(f"{commune.label} {insee}" if commune else insee)
        lines.append(t("nlu.cli.commune", communes=", ".join(names)))
    if result.near_me:
        lines.append(t("nlu.cli.near_me"))
    if result.radius_km is not None:
        lines.append(t("nlu.cli.radius", distance=t.distance(result.radius_km)))
    if result.name:
        lines.append(t("nlu.cli.name", name=result.name))
    span = result.window()
    if span is not None:
        lines.append(t("nlu.cli.when", start=span[0].isoformat(), end=span[1].isoformat()))
    if result.clock is not None:
        end = f"–{result.clock.end.isoformat('minutes')}" if result.clock.end else ""
        lines.append(t("nlu.cli.clock", clock=result.clock.start.isoformat("minutes") + end))
    if result.needs:
        lines.append(t("nlu.cli.needs", needs=", ".join(result.needs)))
    return "\n".join(lines)


@click.command("parse")
@click.argument("text")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None, help="Language hint.")
@click.option("--home", default=None, metavar="INSEE", help="The user's home commune.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def parse(text: str, lang: str | None, home: str | None, as_json: bool) -> None:
    """Show how the bot understands TEXT (intent, category, commune, radius, name)."""
    if home is not None and get_gazetteer().current(home.strip()) is None:
        t = translator(lang or "fr")
        raise click.BadParameter(t("nlu.cli.bad_home", home=home[:20]), param_hint="--home")
    result = nlu_parse(text, lang=lang, home=home.strip() if home else None)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        click.echo(render_summary(translator(lang or result.lang), result))
