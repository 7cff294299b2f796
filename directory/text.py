"""Text folding shared by gazetteer, categories and search: pure functions, no I/O."""

from __future__ import annotations

import re
import unicodedata

# Zero-width and bidi controls that survive NFKC and break matching.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u00ad"),
    None,
)
_NON_WORD = re.compile(r"[^0-9a-z]+")


def clean(text: str, max_length: int | None = None) -> str:
    """Drop control and zero-width characters, normalise to NFC, collapse whitespace.

    What a user typed stays recognisable (accents kept); only what no one can see goes.
    """
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = "".join(
        " " if unicodedata.category(ch) in {"Cc", "Zl", "Zp"} else ch
        for ch in text
        if unicodedata.category(ch) not in {"Cf", "Co", "Cs"}
    )
    text = " ".join(text.split())
    if max_length is not None and len(text) > max_length:
        text = text[:max_length].rstrip()
    return text


def fold(text: str) -> str:
    """Lower-case, strip accents, turn punctuation/hyphens/apostrophes into single spaces.

    `fold("L'Étang-Salé")` → `"l etang sale"`. Used for every comparison.
    """
    text = unicodedata.normalize("NFKD", clean(text).lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    return _NON_WORD.sub(" ", text).strip()
