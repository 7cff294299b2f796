"""Text folding shared by gazetteer, categories and search: pure functions, no I/O.

``clean`` and ``fold`` take a shortcut for the common case (text with nothing invisible or
control in it: ``str.isprintable``) that gives exactly the result of the reference
per-character versions, :func:`clean_reference` and :func:`fold_reference` (tested
against them on every code point and on tricky strings). Imports clean and fold every
field of every row, so the shortcut is what makes bulk imports fast.
"""

from __future__ import annotations

import re
import unicodedata

# Zero-width and bidi controls that survive NFKC and break matching.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u00ad"),
    None,
)
_NON_WORD = re.compile(r"[^0-9a-z]+")
# combining diacritics (U+034F, the grapheme joiner, has class 0 and is not one)
_COMBINING = re.compile("[\u0300-\u034e\u0350-\u036f]")
# every ASCII control (category Cc) becomes a space, as in the reference
_ASCII_CONTROLS = {code: " " for code in (*range(32), 127)}


def clean(text: str, max_length: int | None = None) -> str:
    """Drop control and zero-width characters, normalise to NFC, collapse whitespace.

    What a user typed stays recognisable (accents kept); only what no one can see goes.
    """
    if text.isascii():
        # ASCII is NFC already; its only invisible characters are the controls (Cc)
        if not text.isprintable():
            text = text.translate(_ASCII_CONTROLS)
        text = " ".join(text.split())
    elif text.isprintable():
        # no Cc/Cf/Co/Cs/Cn/Z* but the ASCII space: nothing to drop or replace
        text = " ".join(unicodedata.normalize("NFC", text).split())
    else:
        return clean_reference(text, max_length)
    if max_length is not None and len(text) > max_length:
        text = text[:max_length].rstrip()
    return text


def clean_reference(text: str, max_length: int | None = None) -> str:
    """:func:`clean`, one character at a time: the definition the shortcut must match."""
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
    if text.isascii():
        # clean() only turns controls into spaces, which the word split does anyway
        return _NON_WORD.sub(" ", text.lower()).strip()
    if text.isprintable():
        lowered = unicodedata.normalize("NFKD", unicodedata.normalize("NFC", text).lower())
        lowered = _COMBINING.sub("", lowered)
        lowered = lowered.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
        if lowered.isascii():  # else a letter outside a-z may need the reference's care
            return _NON_WORD.sub(" ", lowered).strip()
    return fold_reference(text)


def fold_reference(text: str) -> str:
    """:func:`fold`, one character at a time: the definition the shortcut must match."""
    text = unicodedata.normalize("NFKD", clean_reference(text).lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    return _NON_WORD.sub(" ", text).strip()
