"""Outgoing spans -> Telegram HTML, split under the message limit; choices -> keyboards.

Pure functions only. Text is escaped piece by piece and a message is only ever cut between
pieces (at a line end when possible, else between words), each piece carrying its own
complete tags, so a split can never fall inside a tag or an entity. Each chunk is rendered
twice from the same pieces: HTML, and a plain-text twin the adapter falls back to if
Telegram refuses the HTML.
"""

from __future__ import annotations

import hashlib
import html
import re
from base64 import urlsafe_b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.messages import Bold, Choice, Italic, LineBreak, Link, ListItems, Span, StartLink, Text

MAX_MESSAGE = 4096
#: a document's caption (longer text goes in messages before the document)
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_BUTTON_LABEL = 48
#: Telegram refuses an inline keyboard of more than 100 buttons
MAX_BUTTONS = 100
#: callback data the adapter shortened (the engine's id did not fit 64 bytes)
HASHED_PREFIX = "~"
_SAFE_SCHEMES = ("http://", "https://", "tg://")


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class Piece:
    """Raw (unescaped) text with the tags around it; the unit a message is cut at."""

    text: str
    open: str = ""
    close: str = ""

    @property
    def size(self) -> int:
        return utf16_len(self.text)


@dataclass(frozen=True, slots=True)
class Chunk:
    html: str
    plain: str


def _inline_pieces(span: Span) -> list[Piece]:
    if isinstance(span, LineBreak):
        return [Piece("\n")]
    if isinstance(span, Bold):
        return [Piece(span.text, "<b>", "</b>")]
    if isinstance(span, Italic):
        return [Piece(span.text, "<i>", "</i>")]
    if isinstance(span, Link):
        if span.url.lower().startswith(_SAFE_SCHEMES):
            href = html.escape(span.url, quote=True)
            return [Piece(span.text or span.url, f'<a href="{href}">', "</a>")]
        return [Piece(span.text if span.text == span.url else f"{span.text} ({span.url})")]
    if isinstance(span, StartLink):  # no bot username known here: the command to type
        return [Piece(f"{span.text} (/start {span.payload})")]
    if isinstance(span, Text):
        return [Piece(span.text)]
    raise TypeError(f"not an inline span: {span!r}")


def to_pieces(spans: Sequence[Span]) -> list[Piece]:
    """Flatten spans; lists become bullet lines; embedded newlines become their own pieces."""
    raw: list[Piece] = []
    for span in spans:
        if isinstance(span, ListItems):
            if raw and not raw[-1].text.endswith("\n"):
                raw.append(Piece("\n"))
            for number, item in enumerate(span.items, start=1):
                raw.append(Piece(f"{number}. " if span.numbered else "• "))
                for inline in item:
                    raw.extend(_inline_pieces(inline))
                raw.append(Piece("\n"))
        else:
            raw.extend(_inline_pieces(span))
    pieces: list[Piece] = []
    for piece in raw:
        for part in re.split(r"(\n)", piece.text):
            if part == "\n":
                pieces.append(Piece("\n"))
            elif part:
                pieces.append(Piece(part, piece.open, piece.close))
    return pieces


def _lines(pieces: list[Piece]) -> list[list[Piece]]:
    lines: list[list[Piece]] = [[]]
    for piece in pieces:
        lines[-1].append(piece)
        if piece.text == "\n":
            lines.append([])
    return [line for line in lines if line]


def _hard_split(piece: Piece, limit: int) -> list[Piece]:
    """A word longer than a whole message: cut by characters (never inside a surrogate pair)."""
    out: list[Piece] = []
    current = ""
    for char in piece.text:
        if utf16_len(current + char) > limit:
            out.append(Piece(current, piece.open, piece.close))
            current = ""
        current += char
    if current:
        out.append(Piece(current, piece.open, piece.close))
    return out


def _words(line: list[Piece], limit: int) -> list[Piece]:
    words: list[Piece] = []
    for piece in line:
        for token in re.findall(r"\S+\s*|\s+", piece.text):
            word = Piece(token, piece.open, piece.close)
            words.extend(_hard_split(word, limit) if word.size > limit else [word])
    return words


def _pack(units: list[list[Piece]], limit: int) -> list[list[Piece]]:
    chunks: list[list[Piece]] = [[]]
    used = 0
    for unit in units:
        size = sum(p.size for p in unit)
        if used + size > limit and chunks[-1]:
            chunks.append([])
            used = 0
        if size > limit:
            for word in _words(unit, limit):
                if used + word.size > limit and chunks[-1]:
                    chunks.append([])
                    used = 0
                chunks[-1].append(word)
                used += word.size
        else:
            chunks[-1].extend(unit)
            used += size
    return chunks


def _join(pieces: list[Piece], as_html: bool) -> str:
    out: list[str] = []
    run_open: str | None = None
    for piece in pieces:
        text = html.escape(piece.text, quote=False) if as_html else piece.text
        if not as_html:
            out.append(text)
            continue
        if piece.open != run_open:
            if run_open:
                out.append(_close_of(pieces, run_open))
            if piece.open:
                out.append(piece.open)
            run_open = piece.open or None
        out.append(text)
    if as_html and run_open:
        out.append(_close_of(pieces, run_open))
    return "".join(out)


def _close_of(pieces: list[Piece], open_tag: str) -> str:
    return next(p.close for p in pieces if p.open == open_tag)


def _trim(pieces: list[Piece]) -> list[Piece]:
    """Drop blank pieces at both ends: Telegram strips them, and they waste the limit."""
    start, end = 0, len(pieces)
    while start < end and not pieces[start].text.strip():
        start += 1
    while end > start and not pieces[end - 1].text.strip():
        end -= 1
    return pieces[start:end]


def with_deep_links(spans: Sequence[Span], username: str | None) -> list[Span]:
    """Each :class:`StartLink` as a ``t.me/<bot>?start=<payload>`` deep link (pure); kept
    as the command to type when the bot's username is not known."""
    if not username:
        return list(spans)

    def link(span: Any) -> Any:
        if isinstance(span, StartLink):
            return Link(span.text, f"https://t.me/{username}?start={span.payload}")
        if isinstance(span, ListItems):
            return ListItems(tuple(tuple(link(i) for i in item) for item in span.items), span.numbered)
        return span

    return [link(span) for span in spans]


def render_chunks(spans: Sequence[Span], limit: int = MAX_MESSAGE) -> list[Chunk]:
    """The messages to send for ``spans``: each within ``limit`` visible characters."""
    pieces = to_pieces(spans)
    chunks = []
    for group in _pack(_lines(pieces), limit):
        trimmed = _trim(group)
        if trimmed:
            chunks.append(Chunk(_join(trimmed, True), _join(trimmed, False)))
    return chunks


# --- keyboards -----------------------------------------------------------------------------


def callback_data_for(choice_id: str) -> str:
    """The engine's id when it fits 64 bytes, else a stable short digest the adapter maps back."""
    if len(choice_id.encode()) <= MAX_CALLBACK_DATA and not choice_id.startswith(HASHED_PREFIX):
        return choice_id
    digest = hashlib.sha256(choice_id.encode()).digest()
    return HASHED_PREFIX + urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def button_label(label: str) -> str:
    label = " ".join(label.split()) or "·"
    return label if len(label) <= MAX_BUTTON_LABEL else label[: MAX_BUTTON_LABEL - 1] + "…"


def keyboard_rows(choices: Sequence[Choice], row_chars: int = 30,
                  per_row: int = 3) -> list[list[tuple[str, str]]]:
    """(label, callback data) rows: short labels share a row, long ones get their own."""
    rows: list[list[tuple[str, str]]] = []
    width = 0
    for choice in choices[:MAX_BUTTONS]:
        label = button_label(choice.label)
        button = (label, callback_data_for(choice.id))
        if rows and len(rows[-1]) < per_row and width + len(label) <= row_chars:
            rows[-1].append(button)
            width += len(label)
        else:
            rows.append([button])
            width = len(label)
    return rows
