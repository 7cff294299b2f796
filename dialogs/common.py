"""Shared helpers for every dialog: replies, choices, yes/no, free text, the commune
question and how an entry looks in a list or on its own card.

Conventions every dialog relies on
----------------------------------
* **Choices.** A dialog offers ``Choice(id, label)`` items with *local*, readable ids
  (``"yes"``, ``"commune:97415"``, ``"hit:42"``, ``"more"``). The engine rewrites them
  into short opaque ids bound to the dialog's state before they leave, and maps a pressed
  button, a number ("2") or a label ("Saint-Paul (974)") back to the local id, so in
  ``resume`` the dialog only ever reads ``ctx.incoming.choice_id`` (or :func:`chosen`)
  with its own ids. A stale or foreign choice never reaches a dialog. Choices are only
  valid while the dialog that offered them stays open: return ``Step.wait`` with them.
* **Text.** :func:`user_text` is the cleaned text (control/zero-width characters gone,
  whitespace collapsed); :func:`check_text` says whether free text fits a field.
* **Replies.** :func:`say` builds a localized :class:`Outgoing` from a catalog key;
  :func:`ask` / :func:`ask_yes_no` / :func:`ask_commune` return a waiting :class:`Step`.
* **The commune question.** :func:`ask_commune` asks (and requests the location);
  :func:`resolve_commune_answer` reads the answer: a name, a postcode, an INSEE code, a
  shared location or a pressed candidate. It returns a :class:`CommuneAnswer`: either
  ``insee`` is set, or ``step`` is what to send back (candidates, or "not found, again").
  The state keys it uses start with ``_commune``; leave them alone.

Everything here is pure apart from reading the packaged gazetteer and taxonomy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from bot.dialog import JSON, DialogContext, Step
from bot.grammar import CategoryName, PlaceName, looks_plural
from bot.i18n import Translator, translator
from bot.messages import (
    Bold,
    Choice,
    Inline,
    LineBreak,
    Link,
    ListItems,
    MapPin,
    Outgoing,
    Span,
    Text,
)
from bot.nlu.lexicon import yes_no as parse_yes_no
from bot.router import is_clear_request
from directory.categories import get_taxonomy
from directory.gazetteer import get_gazetteer
from directory.text import clean, fold

if TYPE_CHECKING:
    from directory.gazetteer import Commune

# --- choices -------------------------------------------------------------------------------

YES = "yes"
NO = "no"
MORE = "more"
SKIP = "skip"
#: what people type to leave an optional answer empty, or to say they do not know it (folded)
SKIP_WORDS = frozenset({
    "passer", "passe", "pass", "skip", "aucun", "aucune", "personne", "rien", "non", "nan",
    "none", "no", "nope", "nobody", "no one", "nothing", "next", "suivant", "plus tard", "later",
    "non merci", "no thanks", "je sais pas", "je ne sais pas", "sais pas", "jsp", "j sais pas",
    "chais pas", "aucune idee", "pas d idee", "je connais pas", "je ne connais pas",
    "connais pas", "i don t know", "i dont know", "dont know", "don t know", "idk", "no idea",
    "not sure", "pas sur", "je sais plus", "je ne sais plus",
})
COMMUNE_PREFIX = "commune:"


def choice(choice_id: str, label: str) -> Choice:
    """One option; ``choice_id`` is local to the dialog (the engine makes it opaque)."""
    return Choice(id=choice_id, label=label)


def choices(items: Iterable[tuple[str, str]]) -> tuple[Choice, ...]:
    """``[(id, label), ...]`` -> choices, in order (numbered 1.. on text platforms)."""
    return tuple(Choice(id=i, label=label) for i, label in items)


def yes_no_choices(t: Translator) -> tuple[Choice, ...]:
    return (Choice(YES, t("common.yes")), Choice(NO, t("common.no")))


def chosen(ctx: DialogContext) -> str | None:
    """The local id of the choice this message picked (button, number or label), if any."""
    return ctx.incoming.choice_id


def answer_yes_no(ctx: DialogContext) -> bool | None:
    """The yes/no of this message: a pressed yes/no choice, else the typed text."""
    picked = chosen(ctx)
    if picked == YES:
        return True
    if picked == NO:
        return False
    return parse_yes_no(ctx.incoming.text)


# --- text ----------------------------------------------------------------------------------

#: longest free text a dialog field accepts by default (names, titles)
NAME_MAX = 200
DESCRIPTION_MAX = 2000


def user_text(ctx: DialogContext) -> str:
    """The message text, cleaned: no control or zero-width characters, single spaces."""
    return clean(ctx.incoming.text)


def check_text(text: str, *, max_length: int = NAME_MAX, min_length: int = 1) -> str | None:
    """None when ``text`` (already cleaned) fits, else the catalog key of the problem.

    Keys: ``common.text.empty``, ``common.text.too_long`` (placeholder ``{max}``),
    ``common.text.no_letters`` (only emojis or punctuation).
    """
    if len(text) < min_length or not text:
        return "common.text.empty"
    if len(text) > max_length:
        return "common.text.too_long"
    if not any(ch.isalnum() for ch in text):
        return "common.text.no_letters"
    return None


def text_problem(ctx: DialogContext, key: str, *, max_length: int = NAME_MAX) -> Outgoing:
    """The localized reply for a :func:`check_text` key."""
    return say(ctx, key, max=ctx.t.number(max_length))


# --- replies and steps -------------------------------------------------------------------


def say(
    ctx: DialogContext,
    key: str,
    *,
    choices: Sequence[Choice] = (),
    request_location: bool = False,
    pin: MapPin | None = None,
    edit_key: str | None = None,
    **values: Any,
) -> Outgoing:
    """A reply from a catalog key, in the user's language."""
    return Outgoing(
        spans=(Text(ctx.t(key, **values)),),
        choices=tuple(choices),
        request_location=request_location,
        pin=pin,
        edit_key=edit_key,
        lang=ctx.lang,
    )


def say_invalid(ctx: DialogContext, invalid: Any, key: str, **values: Any) -> Outgoing:
    """The dialog's own sentence (``key``) for an answer the store refused, or, for a text
    starting like a spreadsheet formula (``InvalidEntry.reason == "formula"``), the one
    that says what to change."""
    if getattr(invalid, "reason", None) == "formula":
        return say(ctx, "directory.invalid.formula")
    return say(ctx, key, **values)


def say_spans(
    ctx: DialogContext,
    spans: Sequence[Span],
    *,
    choices: Sequence[Choice] = (),
    pin: MapPin | None = None,
    edit_key: str | None = None,
) -> Outgoing:
    """A reply built from spans (bold names, lists, links)."""
    return Outgoing(
        spans=tuple(spans), choices=tuple(choices), pin=pin, edit_key=edit_key, lang=ctx.lang
    )


def ask(
    ctx: DialogContext,
    state: JSON,
    key: str,
    *,
    choices: Sequence[Choice] = (),
    request_location: bool = False,
    before: Sequence[Outgoing] = (),
    **values: Any,
) -> Step:
    """Wait for an answer: ``before`` replies, then the question ``key`` (with choices)."""
    question = say(ctx, key, choices=choices, request_location=request_location, **values)
    return Step.wait(state, *before, question)


def ask_yes_no(
    ctx: DialogContext, state: JSON, key: str, *, before: Sequence[Outgoing] = (), **values: Any
) -> Step:
    """A yes/no question; answer it with :func:`answer_yes_no`."""
    return ask(ctx, state, key, choices=yes_no_choices(ctx.t), before=before, **values)


def retry(ctx: DialogContext, state: JSON, problem: Outgoing, key: str, **values: Any) -> Step:
    """Say what was wrong and ask the same question again; the state is kept as is."""
    return ask(ctx, state, key, before=(problem,), **values)


# --- communes ------------------------------------------------------------------------------

#: a candidate this good is taken as the answer when no other is as good
STRONG_MATCH = 90.0
#: below this, a candidate is not even offered
WEAK_MATCH = 60.0
#: how many candidates to offer when the answer is ambiguous
MAX_CANDIDATES = 5


@dataclass(frozen=True)
class CommuneAnswer:
    """What :func:`resolve_commune_answer` understood.

    Exactly one of ``insee`` (resolved; ``point`` is set when a location was shared) and
    ``step`` (send it back and keep waiting) is set.
    """

    insee: str | None = None
    point: tuple[float, float] | None = None
    step: Step | None = None
    #: the citizen already confirmed it (pressed it, or said "oui" to the single proposal)
    confirmed: bool = False


def commune(insee: str | None) -> Commune | None:
    """The commune of an INSEE code (None when unknown)."""
    if not insee:
        return None
    found: Commune | None = get_gazetteer().get(insee)
    return found


@lru_cache(maxsize=65536)
def commune_label(insee: str | None) -> PlaceName:
    """``Saint-Paul (974)``, or the code itself when unknown; a ``PlaceName``, so that a
    sentence can say ``{commune:à}`` (« au Port (974) »). Memoized: the gazetteer does not
    change while the bot runs, and result lists ask for the same communes all the time."""
    found = commune(insee)
    if found is None:
        return PlaceName(insee or "")
    return PlaceName(found.name, found.label[len(found.name):])


def commune_choices(insees: Sequence[str]) -> tuple[Choice, ...]:
    return tuple(Choice(COMMUNE_PREFIX + code, commune_label(code)) for code in insees)


def ask_commune(
    ctx: DialogContext,
    state: JSON,
    key: str = "common.commune.ask",
    *,
    before: Sequence[Outgoing] = (),
    **values: Any,
) -> Step:
    """Ask for a commune (name, postcode, or the shared location) and wait.

    ``key`` is the question; it is remembered in the state so that a retry asks the same.
    """
    state = {k: v for k, v in state.items() if not k.startswith("_commune")}
    state["_commune_key"] = key
    state["_commune_values"] = {k: str(v) for k, v in values.items()}
    return ask(ctx, state, key, request_location=True, before=before, **values)


def _reference(ctx: DialogContext, near: str | tuple[float, float] | None) -> Any:
    if near is not None:
        return near
    if ctx.citizen.home_lat is not None and ctx.citizen.home_lon is not None:
        return (ctx.citizen.home_lat, ctx.citizen.home_lon)
    return ctx.citizen.home_insee or ctx.chat_commune


def rank_communes(
    matches: Sequence[Any], distance_km: Any = None, near_commune: Any = None
) -> tuple[str | None, list[str]]:
    """Decide from ranked ``CommuneMatch`` items: (resolved INSEE, or None; candidates).

    Pure: an INSEE code match, or a single strong candidate, is the answer; several strong
    candidates (same name, shared postcode) are offered unless one is near the reference
    commune and the others far away; weak candidates are offered as "did you mean".
    """
    if not matches:
        return None, []
    top = matches[0]
    if top.matched == "insee":
        return top.commune.insee, []
    strong = [m for m in matches if m.score >= STRONG_MATCH]
    if len(strong) == 1:
        return strong[0].commune.insee, []
    if len(strong) > 1:
        if distance_km is not None and near_commune is not None and top.matched != "postcode":
            first = distance_km(near_commune, strong[0].commune)
            second = distance_km(near_commune, strong[1].commune)
            if first is not None and second is not None and first < 100 <= second / 3:
                return strong[0].commune.insee, []
        return None, _unique(m.commune.insee for m in strong)[:MAX_CANDIDATES]
    weak = [m for m in matches if m.score >= WEAK_MATCH]
    return None, _unique(m.commune.insee for m in weak)[:MAX_CANDIDATES]


def _unique(codes: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for code in codes:
        seen.setdefault(code, None)
    return list(seen)


def _words_beside(text: str, name: str) -> int:
    """How many words of ``text`` are not the commune's name nor a number: "non j'habite
    au port" has four beside "Le Port", "St Pierre 974" one."""
    own = set(fold(name).replace("-", " ").split())
    return sum(1 for w in fold(text).replace("-", " ").split() if w not in own and not w.isdigit())


def resolve_commune_answer(
    ctx: DialogContext,
    state: JSON,
    *,
    near: str | tuple[float, float] | None = None,
    text: str | None = None,
    use_parse: bool = True,
) -> CommuneAnswer:
    """Read the answer to :func:`ask_commune`.

    A pressed/numbered candidate, a shared location (nearest commune), an INSEE code, a
    postcode or a name (typos, no accents, "St"). Ambiguous -> candidates offered as
    choices; not found -> ``Step.pass_on()`` when the text reads as a new request (see
    :func:`is_other_request`), else a short message and the question again. With
    ``use_parse``, a commune the engine's parse read unambiguously in the answer (creole
    spellings, a qualified namesake) is taken first. ``near`` defaults to
    the citizen's home point or commune, then the chat's commune, to rank same-name
    communes. ``text`` replaces the message text (e.g. a command's argument).
    """
    key = str(state.get("_commune_key", "common.commune.ask"))
    values = dict(state.get("_commune_values") or {})
    picked = chosen(ctx)
    if picked and picked.startswith(COMMUNE_PREFIX):
        code = picked[len(COMMUNE_PREFIX) :]
        if commune(code) is not None:
            return CommuneAnswer(insee=code, confirmed=True)
    gazetteer = get_gazetteer()
    location = ctx.incoming.location
    if location is not None:
        found = gazetteer.nearest(location.lat, location.lon)
        if found is None:
            problem = say(ctx, "common.commune.location_unknown")
            return CommuneAnswer(step=ask_commune(ctx, state, key, before=(problem,), **values))
        return CommuneAnswer(insee=found.insee, point=(location.lat, location.lon))
    text = user_text(ctx) if text is None else clean(text)
    if parse_yes_no(text) is not None:  # "oui" is no commune: offer again what is pending
        pending = [c for c in state.get("_commune_candidates") or [] if commune(c)]
        if len(pending) == 1 and parse_yes_no(text):
            return CommuneAnswer(insee=pending[0], confirmed=True)  # "oui" takes the proposal
        if pending:
            question = say(ctx, "common.commune.pick", choices=commune_choices(pending))
            return CommuneAnswer(step=Step.wait(dict(state), question))
        problem = say(ctx, "common.commune.not_understood")
        return CommuneAnswer(step=ask_commune(ctx, state, key, before=(problem,), **values))
    problem_key = check_text(text, max_length=120)
    if problem_key is not None:
        problem = text_problem(ctx, "common.commune.not_understood")
        return CommuneAnswer(step=ask_commune(ctx, state, key, before=(problem,), **values))
    reference = _reference(ctx, near)
    read = _read_by_the_nlu(ctx, text, reference) if use_parse else None
    if read is not None and len(read) == 1:
        return CommuneAnswer(insee=read[0])  # "sin-lwi", "Saint-Joseph, Martinique"
    named = commune(read[0]) if read else None
    if read and named is not None and _words_beside(text, named.name) >= 2:
        # "hello, which commune? I live in le port": the namesakes of the commune read,
        # named as such (not the whole sentence)
        new_state = {**state, "_commune_candidates": read}
        question = say(ctx, "common.commune.which", choices=commune_choices(read), text=named.name)
        return CommuneAnswer(step=Step.wait(new_state, question))
    matches = gazetteer.resolve(text, near=reference, limit=MAX_CANDIDATES + 3)
    near_commune = (
        gazetteer.current(reference) if isinstance(reference, str) and reference else None
    )
    insee, candidates = rank_communes(matches, gazetteer.distance_km, near_commune)
    if insee is not None:
        return CommuneAnswer(insee=insee)
    if candidates:
        new_state = dict(state)
        new_state["_commune_candidates"] = candidates
        key = "common.commune.which" if len(candidates) > 1 else "common.commune.did_you_mean"
        question = say(ctx, key, choices=commune_choices(candidates), text=text,
                       commune=commune_label(candidates[0]))
        return CommuneAnswer(step=Step.wait(new_state, question))
    if picked is None and is_other_request(ctx, text):
        # "je recommande le garage Zot au Port": no commune, a new request; the engine
        # routes it afresh (only once nothing matched: "La Crèche" is a commune too)
        return CommuneAnswer(step=Step.pass_on())
    problem = say(ctx, "common.commune.not_found", text=text)
    return CommuneAnswer(step=ask_commune(ctx, state, key, before=(problem,), **values))


#: a namesake this close to the reference (home, chat) is the one meant
NEAR_REFERENCE_KM = 100.0


def near_home(ctx: DialogContext, insee: str | None, km: float = NEAR_REFERENCE_KM) -> bool:
    """Whether ``insee`` lies near the citizen's home commune (or the chat's commune): a
    namesake this close is the one they mean, and needs no "did you mean" beside it."""
    home = ctx.citizen.home_insee or ctx.chat_commune
    if not home or not insee:
        return False
    gazetteer = get_gazetteer()
    here, there = gazetteer.get(home), gazetteer.get(insee)
    if here is None or there is None:
        return False
    distance = gazetteer.distance_km(here, there)
    return distance is not None and distance <= km


def _read_by_the_nlu(ctx: DialogContext, text: str, reference: Any) -> list[str] | None:
    """The commune the engine's parse read in this very answer ("sin-lwi", "st pierre 974",
    "Saint-Joseph, Martinique"), as one code when it is clear (a single reading, or the
    namesake near the reference), else its namesakes to choose from; None when the parse
    read no commune here (the gazetteer's own typo-tolerant lookup takes over)."""
    parse = ctx.parse
    code = getattr(parse, "commune", None)
    if not code or commune(code) is None or text != user_text(ctx):
        return None
    candidates = [c for c in getattr(parse, "commune_candidates", ()) or () if commune(c)]
    if code not in candidates:
        candidates.insert(0, code)
    if len(candidates) == 1:
        return [code]
    gazetteer = get_gazetteer()
    near_commune = gazetteer.current(reference) if isinstance(reference, str) and reference else None
    chosen_commune = commune(code)
    if near_commune is not None and chosen_commune is not None:
        distance = gazetteer.distance_km(near_commune, chosen_commune)
        if distance is not None and distance <= NEAR_REFERENCE_KM:
            return [code]
    return candidates[:MAX_CANDIDATES]


def is_other_request(ctx: DialogContext, text: str | None = None) -> bool:
    """True when this message reads as a new request ("garagiste au Port", "/help"-like
    phrases) rather than an answer: the engine's parse names a category (or projects,
    events, a contact) for a search, or another request intent.

    A bare commune name parses as a search without category, so it stays an answer.
    Dialogs return ``Step.pass_on()`` then, and the engine routes the message afresh.
    ``text`` is accepted for callers that already cleaned the message; the parse is the
    engine's, of this message.
    """
    if not (user_text(ctx) if text is None else text):
        return False
    return is_clear_request(ctx.parse)


def clear_commune_keys(state: JSON) -> JSON:
    """The state without the commune question's bookkeeping (once answered)."""
    return {k: v for k, v in state.items() if not k.startswith("_commune")}


# --- categories and entries ---------------------------------------------------------------


@lru_cache(maxsize=4096)
def category_name(slug: str | None, lang: str) -> CategoryName:
    """The category's name in ``lang`` ("Crèche" / "Daycare"), or the slug when unknown; a
    ``CategoryName`` with the French gender, so that a sentence can say ``{category:aucun}``
    (« aucune crèche »). The taxonomy has no number yet: plurals (« Pompiers ») are guessed."""
    if not slug:
        return CategoryName("")
    try:
        category = get_taxonomy().get(slug)
    except ImportError:
        category = None
    if category is None:
        return CategoryName(slug)
    name: str = category.name(lang)
    return CategoryName(name, category.gender, plural=looks_plural(name, lang))


def recommendations_text(t: Translator, count: int) -> str:
    """"1 recommandation" / "3 recommandations" / "no recommendation yet"."""
    if count <= 0:
        return t("common.recommendations.none")
    return t.plural("common.recommendations", count)


class HitLike(Protocol):
    """What a result line needs (``directory.search.SearchHit`` has it)."""

    name: str
    category: str
    commune_insee: str
    distance_km: float | None
    recommendations: int


@lru_cache(maxsize=16384)
def _distance_text(lang: str, km: float) -> str:
    """``Translator.distance`` memoized: locale number formatting (Babel) was a tenth of a
    result list's cost, and search distances are rounded to metres, so values repeat."""
    return translator(lang).distance(km)


def distance_text(t: Translator, km: float) -> str:
    """``t.distance(km)``, from the cache when ``t`` is the shared translator of its
    language (always, outside tests that build their own)."""
    if t is translator(t.lang):
        return _distance_text(t.lang, km)
    return t.distance(km)


def result_line(t: Translator, hit: HitLike) -> tuple[Inline, ...]:
    """One line of a result list: **name** — category · commune · 1,2 km · 3 recommandations."""
    parts = [category_name(hit.category, t.lang), commune_label(hit.commune_insee)]
    if hit.distance_km is not None:
        parts.append(distance_text(t, hit.distance_km))
    parts.append(recommendations_text(t, hit.recommendations))
    return (Bold(hit.name), Text(" — " + " · ".join(p for p in parts if p)))


def result_list(t: Translator, hits: Sequence[HitLike], *, start: int = 1) -> Span:
    """Results as a numbered list (numbers match the choices offered beside it)."""
    del start  # numbering always restarts with the choices of the same message
    return ListItems(items=tuple(result_line(t, h) for h in hits), numbered=True)


class EntryLike(Protocol):
    """What a card needs (``directory.models.Entry`` has it)."""

    name: str
    category: str
    commune_insee: str
    description: str
    address: str | None
    postcode: str | None
    phone: str | None
    website: str | None
    email: str | None
    lat: float | None
    lon: float | None
    recommendation_count: int


def entry_card(
    t: Translator, entry: EntryLike, *, distance_km: float | None = None
) -> tuple[Span, ...]:
    """An entry on its own: name, category, commune, distance, address, contact, description,
    recommendations. Only fields that are set are shown."""
    spans: list[Span] = [Bold(entry.name)]
    if getattr(entry, "verified", False):
        spans.append(Text(" " + t("common.card.verified")))
    spans.append(LineBreak())
    meta = [category_name(entry.category, t.lang), commune_label(entry.commune_insee)]
    if distance_km is not None:
        meta.append(t.distance(distance_km))
    spans += [Text(" · ".join(m for m in meta if m)), LineBreak()]
    address = ", ".join(p for p in (entry.address, entry.postcode) if p)
    if address:
        spans += [Text(t("common.card.address", address=address)), LineBreak()]
    if entry.phone:
        spans += [Text(t("common.card.phone", phone=entry.phone)), LineBreak()]
    if entry.email:
        spans += [Text(t("common.card.email", email=entry.email)), LineBreak()]
    if entry.website:
        url = entry.website if "://" in entry.website else "https://" + entry.website
        spans += [Link(entry.website, url), LineBreak()]
    if entry.description:
        spans += [Text(entry.description), LineBreak()]
    spans.append(Text(recommendations_text(t, entry.recommendation_count)))
    return tuple(spans)


def entry_pin(entry: EntryLike) -> MapPin | None:
    """A map pin for an entry with a point (Telegram venue, Matrix m.location)."""
    if entry.lat is None or entry.lon is None:
        return None
    address = ", ".join(p for p in (entry.address, entry.postcode) if p)
    return MapPin(name=entry.name, lat=entry.lat, lon=entry.lon, address=address)


def skipped(ctx: DialogContext, extra: frozenset[str] = frozenset()) -> bool:
    """An optional question left empty: the skip button, "non", "passer", "jsp" typed."""
    text = fold(ctx.incoming.text or "")
    return chosen(ctx) == SKIP or text in SKIP_WORDS or text in extra


def only_yes(ctx: DialogContext) -> bool:
    """ "oui" where something was to be typed ("Son adresse ?" "oui"): a yes to giving it,
    not the answer itself, so the question is asked again."""
    return chosen(ctx) is None and ctx.incoming.location is None and (
        parse_yes_no(ctx.incoming.text or "") is True)
