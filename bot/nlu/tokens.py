"""Tokenisation: words of a message with their folded form and position, and the
working state of one parse."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from directory.categories import Category
from directory.text import fold

MAX_CHARS = 4096  # a chat message's length on Telegram; the rest is ignored
MAX_TOKENS = 80

RE_FLAGS = re.IGNORECASE


def rx(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", RE_FLAGS)


@dataclass(frozen=True, slots=True)
class Tok:
    text: str  # as typed
    fold: str  # folded, one word
    start: int  # in the cleaned text
    end: int


_WORD = re.compile(r"\w+|(?<![\w+])\+(?![\w+])", re.UNICODE)


def tokenize(cleaned: str) -> list[Tok]:
    """Words of the cleaned text; a word that folds to several (``œuvre``) stays one."""
    tokens: list[Tok] = []
    for m in _WORD.finditer(cleaned):
        if m.group() == "+":  # SMS "+" for "plus" ("cherche + loin"); "+262" is a number
            tokens.append(Tok("+", "plus", m.start(), m.end()))
            continue
        folded = fold(m.group()).replace(" ", "")
        if folded:
            tokens.append(Tok(m.group(), folded, m.start(), m.end()))
            if len(tokens) >= MAX_TOKENS:
                break
    return tokens


def plain(text: str) -> str:
    """Lower case without accents, punctuation kept (numbers like "1,5 km" survive)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(slots=True)
class Reading:
    """Working state of one parse."""

    tokens: list[Tok]
    folded: str  # " ".join(token folds)
    cleaned: str
    plain: str
    cat_mentions: list[tuple[Category, float, int, int]] = field(default_factory=list)


def token_span(tokens: list[Tok], start_char: int, end_char: int) -> tuple[int, int]:
    """Token indexes covering a character span of ``" ".join(folds)``."""
    pos = 0
    first = last = -1
    for i, tok in enumerate(tokens):
        tok_start, tok_end = pos, pos + len(tok.fold)
        if tok_end > start_char and tok_start < end_char:
            if first < 0:
                first = i
            last = i
        pos = tok_end + 1
    return first, last + 1


def token_after(tokens: list[Tok], folded_end: int) -> int:
    """Index of the first token starting after a character offset of the folded text."""
    pos = 0
    for i, tok in enumerate(tokens):
        if pos >= folded_end:
            return i
        pos += len(tok.fold) + 1
    return len(tokens)
