"""A digest as a message: what is new in the subscriber's communes, the coming week's
events, the most recommended of the period; each item opens in the bot; then how many
more there are, and how to stop it. Pure: content in, ``Outgoing`` out.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import Translator
from bot.messages import Bold, Inline, LineBreak, ListItems, Outgoing, Span, StartLink, Target, Text
from dialogs import common
from dialogs.agenda import when_text
from dialogs.entry_questions import share_payload
from directory.digests import Content, Item


def _line(t: Translator, entry: Item, extra: str = "") -> tuple[Inline, ...]:
    meta = [str(common.category_name(entry.category, t.lang)), str(common.commune_label(entry.commune_insee))]
    if extra:
        meta.append(extra)
    return (Bold(entry.name), Text(" — " + " · ".join(m for m in meta if m) + " "),
            StartLink(t("digest.open"), share_payload(entry.id)))


def digest_message(t: Translator, content: Content, communes: Sequence[str], frequency: str,
                   target: Target) -> Outgoing:
    """The digest for ``communes`` ("Saint-Paul (974)" or "Saint-Paul (974) et 2 autres")."""
    places = [common.commune_label(code) for code in communes]
    where = (t("digest.where_one", commune=places[0]) if len(places) == 1
             else t("digest.where_many", commune=places[0], count=len(places) - 1))
    spans: list[Span] = [Text(t(f"digest.title.{frequency}", where=where)), LineBreak()]
    if content.new:
        spans += [LineBreak(), Bold(t("digest.section.new")), LineBreak(),
                  ListItems(tuple(_line(t, e) for e in content.new))]
        if content.more:
            spans += [Text(t("digest.more", count=content.more)), LineBreak()]
    if content.coming:
        spans += [LineBreak(), Bold(t("digest.section.coming")), LineBreak(),
                  ListItems(tuple(_line(t, e, when_text(t.lang, e)) for e in content.coming))]
    if content.recommended:
        items = tuple(_line(t, e, common.recommendations_text(t, n)) for e, n in content.recommended)
        spans += [LineBreak(), Bold(t("digest.section.recommended")), LineBreak(), ListItems(items)]
    spans += [LineBreak(), Text(t("digest.stop"))]
    return Outgoing(spans=tuple(spans), target=target, lang=t.lang)
