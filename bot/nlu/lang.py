"""Which language a message is written in, from marker words and category terms."""

from __future__ import annotations

from bot.nlu.lexicon import EN_MARKERS, FR_MARKERS
from bot.nlu.tokens import Reading
from directory.categories import Taxonomy


def detect_lang(reading: Reading, tax: Taxonomy, hint: str | None,
                skip: frozenset[int] | set[int] = frozenset()) -> str:
    """``skip``: token indices of a place's name ("Le Port", "Les Avirons"), which say
    nothing of the language the message is written in."""
    fr = en = 0.0
    for index, tok in enumerate(reading.tokens):
        if index in skip:
            continue
        if tok.fold in FR_MARKERS:
            fr += 1
        if tok.fold in EN_MARKERS:
            en += 1
    if any(ch in "éèêàçùâîôû" for ch in reading.cleaned.lower()):
        fr += 0.5
    for _cat, _, i, j in reading.cat_mentions:
        langs = tax.term_langs(" ".join(t.fold for t in reading.tokens[i:j]))
        if langs == {"en"}:
            en += 1
        elif langs == {"fr"}:
            fr += 1
    if fr == en:
        return hint if hint in ("fr", "en") else "fr"
    return "fr" if fr > en else "en"
