"""Choices bound to a dialog state: pure functions, no database.

A dialog offers choices with its own readable ids. Before they leave, the engine replaces
each id with ``<nonce>.<n>``: the nonce is fresh for every step and stored in the dialog's
state row beside the dialog's own ids (the *offer*). A pressed button is valid only when
its nonce is the one of the current offer of the same user in the same chat: an old
message, a finished dialog or another user's button carries another nonce (or meets no
offer) and is refused. Ids stay well under Telegram's 64-byte callback limit (<= 19 bytes).

Text platforms answer with a number or a label: :func:`match_text` maps "2" or
"Saint-Paul (974)" to the dialog's id, using the last message that carried choices
(the numbers the user sees).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

from bot.messages import Choice, Outgoing, TargetKind
from directory.text import fold as _fold

#: folding is pure and the same labels and short answers come back all the time
fold = lru_cache(maxsize=8192)(_fold)

JSON = dict[str, Any]

#: a number with at most this many digits is read as a choice number when choices are offered
CHOICE_NUMBER_DIGITS = 2


def new_nonce() -> str:
    """8 hex characters: enough that a stale button never hits a fresh offer by chance."""
    return secrets.token_hex(4)


@dataclass(frozen=True)
class Offer:
    """The choices currently offered in one chat, as stored in the state row."""

    nonce: str
    ids: tuple[str, ...]  # the dialog's local ids, in order of appearance
    labels: tuple[str, ...]
    #: indices (into ids) of the last message carrying choices: what "1", "2"... mean
    last: tuple[int, ...]

    def to_json(self) -> JSON:
        return {"nonce": self.nonce, "ids": list(self.ids), "labels": list(self.labels),
                "last": list(self.last)}

    @classmethod
    def from_json(cls, data: Any) -> Offer | None:
        if not isinstance(data, dict) or not data.get("ids"):
            return None
        try:
            return cls(
                nonce=str(data["nonce"]),
                ids=tuple(str(i) for i in data["ids"]),
                labels=tuple(str(label) for label in data["labels"]),
                last=tuple(int(i) for i in data["last"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def opaque(self, index: int) -> str:
        return f"{self.nonce}.{index}"

    def last_choices(self) -> tuple[Choice, ...]:
        """The last offered choices with their opaque ids (to offer them again)."""
        return tuple(Choice(self.opaque(i), self.labels[i]) for i in self.last)


def bind_choices(replies: list[Outgoing], nonce: str) -> tuple[list[Outgoing], Offer | None]:
    """Give every reply's choices opaque ids bound to ``nonce``; return the offer to store.

    Choices in non-reply messages (a commune room, a follower) are dropped: nobody there
    has a dialog they could answer.
    """
    ids: list[str] = []
    labels: list[str] = []
    last: tuple[int, ...] = ()
    bound: list[Outgoing] = []
    for item in replies:
        if not item.choices:
            bound.append(item)
            continue
        if item.target.kind != TargetKind.REPLY:
            bound.append(replace(item, choices=()))
            continue
        indices = []
        new_choices = []
        for option in item.choices:
            index = len(ids)
            ids.append(option.id)
            labels.append(option.label)
            indices.append(index)
            new_choices.append(Choice(f"{nonce}.{index}", option.label))
        last = tuple(indices)
        bound.append(replace(item, choices=tuple(new_choices)))
    if not ids:
        return bound, None
    return bound, Offer(nonce=nonce, ids=tuple(ids), labels=tuple(labels), last=last)


def resolve_choice_id(offer: Offer | None, choice_id: str) -> str | None:
    """The dialog's id behind an opaque id, or None when stale or foreign."""
    if offer is None:
        return None
    nonce, _, number = choice_id.partition(".")
    if nonce != offer.nonce or not number.isdigit():
        return None
    index = int(number)
    if index >= len(offer.ids):
        return None
    return offer.ids[index]


TextMatch = tuple[Literal["choice", "out_of_range", "none"], str | None]


def match_text(offer: Offer | None, text: str) -> TextMatch:
    """"2" -> ("choice", id); "9" -> ("out_of_range", None); a label -> ("choice", id);
    anything else -> ("none", None) (free text for the dialog)."""
    if offer is None:
        return "none", None
    stripped = text.strip().rstrip(".)").lstrip("#")
    if stripped.isdigit() and len(stripped) <= CHOICE_NUMBER_DIGITS:
        number = int(stripped)
        if 1 <= number <= len(offer.last):
            return "choice", offer.ids[offer.last[number - 1]]
        return "out_of_range", None
    folded = fold(text)
    if not folded:
        return "none", None
    for index, label in enumerate(offer.labels):
        if fold(label) == folded:
            return "choice", offer.ids[index]
    return "none", None
