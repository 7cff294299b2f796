"""Pure routing decisions: which command a text is, whether it cancels, whether a message
typed while a dialog waits is a new request, an aside or an answer. No I/O, so every rule
is testable in isolation. Which dialog a command or an intent opens comes from the dialogs'
specs (``bot.spec.Specs``), not from tables here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from bot.nlu.lexicon import ACK_WORDS, is_cancel_words, yes_no
from directory.text import fold as _fold

#: folding is pure and the same labels and short answers come back all the time
fold = lru_cache(maxsize=8192)(_fold)

_COMMAND = re.compile(r"^/([A-Za-z_][A-Za-z0-9_]{0,31})(?:@([A-Za-z0-9_]{1,64}))?(?:\s+(.*))?$", re.S)


@dataclass(frozen=True)
class Command:
    name: str  # lower case, without the slash or @botname
    args: str  # the rest of the line, stripped
    bot: str | None = None  # the @botname suffix, when given


def parse_command(text: str) -> Command | None:
    """``/search@communebot crèche`` -> Command("search", "crèche", "communebot").

    Only a leading slash followed by a command word counts: "/ 12" or "//x" is text.
    """
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    name, bot, args = match.groups()
    return Command(name=name.lower(), args=(args or "").strip(), bot=bot)


def is_cancel(text: str) -> bool:
    """"annuler", "Cancel !", "stop", "/cancel" (any case, accents, punctuation)."""
    command = parse_command(text)
    if command is not None:
        return command.name in {"cancel", "annuler", "stop"}
    return is_cancel_words(text)


def parse_location_command(text: str) -> tuple[float, float] | None:
    """``/location -21.0 55.27`` (console stand-in for sharing a location) -> (lat, lon).

    Commas as decimal separators are accepted ("-21,0 55,27"); out-of-range -> None.
    """
    command = parse_command(text)
    if command is None or command.name not in {"location", "position"}:
        return None
    parts = command.args.replace(";", " ").split()
    if len(parts) != 2:
        return None
    try:
        lat, lon = (float(p.replace(",", ".")) for p in parts)
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


#: yeses that only say the last message was read or was right: no consent to an offer
_NOT_CONSENT = ACK_WORDS | frozenset(
    ["c est bon", "go", "voila", "right", "correct", "exact", "exactement", "c est ca", "y", "o"])
_POLITE = (" merci", " thanks", " thank you", " svp", " please", " stp", " !")


def plain_yes_no(text: str) -> bool | None:
    """A typed answer to an offer: "oui", "oui merci", "yes please" -> True; "non", "no
    thanks" -> False; "ok", "parfait", "d'accord" (which may only acknowledge what was
    said) and anything else -> None."""
    answer = yes_no(text)
    if answer is not True:
        return answer
    folded = fold(text) or text.strip()  # "👍" folds to nothing
    for tail in _POLITE:
        folded = folded.removesuffix(tail).strip()
    return None if folded in _NOT_CONSENT else True


#: intents that are a request of their own (they open a dialog)
REQUEST_INTENTS = frozenset(
    {"search", "recommend", "join", "announce_project", "settings", "me", "register", "move",
     "help"}
)
#: answered beside an open dialog, which stays open (its question is asked again)
ASIDE_INTENTS = frozenset({"help", "me", "greeting", "thanks", "bye", "switch_language"})


def is_clear_request(parse: Any) -> bool:
    """True when a parse is a request of its own, not an answer to some question.

    A search needs something to look for (a category, a name, projects or events, a pasted
    contact): a commune alone is what a commune question expects, so it stays an answer.
    """
    intent = getattr(parse, "intent", None)
    if intent not in REQUEST_INTENTS:
        return False
    if intent == "search":
        return bool(
            getattr(parse, "category", None) or getattr(parse, "kind", None)
            or getattr(parse, "contact", None)
        )
    if intent in {"register", "move"}:
        return bool(getattr(parse, "commune", None))
    return True


Decision = Literal["answer", "interrupt", "aside"]


def decide(parse: Any, *, dialog: str, opens: str | None, step: str | None,
           interruptible: bool, free_text_steps: tuple[str, ...],
           slot_steps: tuple[str, ...] = (), question: bool = False,
           browse_steps: tuple[str, ...] = ()) -> Decision:
    """What free text typed while ``dialog`` waits at ``step`` is.

    ``opens`` is the dialog the parse's intent would open. An aside (help, thanks, a
    language switch) is answered and the dialog stays; a clear request for another dialog
    leaves it, except where the dialog asked for free text (a name, a description), where
    any sentence may be the answer; everything else is the dialog's answer. Where the
    dialog only shows something to browse (``browse_steps``), "ok" is small talk too.
    """
    intent = getattr(parse, "intent", None)
    free = step in free_text_steps
    if intent in ASIDE_INTENTS and opens != dialog:
        return "aside"  # "merci" is no project description: small talk is always an aside
    if intent == "ack" and step in browse_steps:
        return "aside"  # "ok" under a result list acknowledges it: it picks nothing
    named_request = intent in {"recommend", "join"} and getattr(parse, "name", None)
    if free and interruptible and opens != dialog and is_clear_request(parse) and (
        question or named_request
        or (getattr(parse, "field", None) and getattr(parse, "commune", None))
    ):
        # a question where a name or a description was asked ("whats the number of the vet
        # in le port ?" as a project's title): answered as the question it is
        return "interrupt"
    if not interruptible or free or opens == dialog:
        return "answer"
    if step in slot_steps and intent == "search":
        return "answer"  # it gives the category or the commune the dialog asked for
    return "interrupt" if is_clear_request(parse) else "answer"
