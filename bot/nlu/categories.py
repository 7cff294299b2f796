"""Categories named in a message, as token spans, and which one the message is about.

The matching itself is the taxonomy's (``Taxonomy.find_all_in_text``); this maps its
character spans to tokens and picks the best mention.
"""

from __future__ import annotations

from bot.nlu.tokens import Reading, token_span
from directory.categories import Category, Taxonomy


def category_mentions(
    reading: Reading, tax: Taxonomy, blocked: set[int]
) -> list[tuple[Category, float, int, int]]:
    """All category mentions (exact and typo-tolerant) outside ``blocked`` tokens."""
    mentions: list[tuple[Category, float, int, int]] = []
    for cat, score, (s, e) in tax.find_all_in_text(reading.folded):
        i, j = token_span(reading.tokens, s, e)
        if i < 0 or any(k in blocked for k in range(i, j)):
            continue
        mentions.append((cat, score, i, j))
    return mentions


# Categories that say little about what the thing is: a specific one named with them wins.
_GENERIC_CATEGORIES = frozenset({"association"})


def best_category(mentions: list[tuple[Category, float, int, int]]) -> Category | None:
    if not mentions:
        return None
    counts: dict[str, int] = {}
    for cat, _, _, _ in mentions:
        counts[cat.slug] = counts.get(cat.slug, 0) + 1
    best = max(
        mentions,
        key=lambda m: (
            m[3] - m[2],
            m[0].slug not in _GENERIC_CATEGORIES,  # "bénévole dans une ressourcerie"
            m[1] >= 100,
            counts[m[0].slug],
            -m[2],
        ),
    )
    return best[0]
