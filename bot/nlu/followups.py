"""What a message says about the conversation rather than the directory: a follow-up ("et à
Saint-Benoît ?"), a pick by rank ("la troisième"), a sort, a wider search, a question about
a shown entry ("son téléphone ?", "ouvert samedi ?"), a reference to what is on screen
("celle-ci", "it"), a pasted contact, a language switch, projects or events.

Pure functions of the folded text (``" ".join`` of token folds) or the cleaned text.
"""

from __future__ import annotations

import re

from bot.nlu.tokens import rx

_ORDINAL_WORDS: dict[str, int] = {
    "premier": 1, "premiere": 1, "1er": 1, "1ere": 1, "first": 1, "1st": 1,
    "deuxieme": 2, "second": 2, "seconde": 2, "2e": 2, "2eme": 2, "2nd": 2,
    "troisieme": 3, "third": 3, "3e": 3, "3eme": 3, "3rd": 3,
    "quatrieme": 4, "fourth": 4, "4e": 4, "4eme": 4, "4th": 4,
    "cinquieme": 5, "fifth": 5, "5e": 5, "5eme": 5, "5th": 5,
    "sixieme": 6, "sixth": 6, "6e": 6, "6eme": 6, "6th": 6,
    "septieme": 7, "seventh": 7, "7e": 7, "7eme": 7, "7th": 7,
    "huitieme": 8, "eighth": 8, "8e": 8, "8eme": 8, "8th": 8,
    "neuvieme": 9, "ninth": 9, "9e": 9, "9eme": 9, "9th": 9,
    "dixieme": 10, "tenth": 10, "10e": 10, "10eme": 10, "10th": 10,
    "dernier": -1, "derniere": -1, "last": -1,
    "autre": 0, "other": 0,
}  # fmt: skip
# an ordinal counts after an article: "la troisième", "the second one", "l'autre"
_ORDINAL_LEAD = frozenset({"le", "la", "l", "the", "celui", "celle"})
# "l'autre jour", "the other day", "le premier mai": not a pick
_ORDINAL_BLOCK = frozenset(
    {"jour", "jours", "fois", "day", "days", "time", "times", "week", "semaine", "mois", "month",
     "annee", "year", "side", "cote", "hand"}
)  # fmt: skip

_FOLLOWUP = re.compile(r"^(?:et|and|what about|sinon|plutot|how about|ou bien|or)\b")

_SORT_DISTANCE = rx(
    r"(?:le|la|les) plus (?:pres|proches?)",
    r"(?:lekel|lequel|laquelle|lesquels) (?:le |est |i le )?(?:le |la )?plus (?:pres|proches?)",
    r"plus pres",
    r"le moins loin",
    r"la moins loin",
    r"nearest",
    r"closest",
    r"the nearest",
)
_SORT_RECOMMENDED = rx(
    r"mieux notee?s?",
    r"(?:le|la|les) plus recommandee?s?",
    r"plus recommandee?s?",
    r"most recommended",
    r"best rated",
    r"top rated",
    r"highest rated",
    r"(?:le|la) plus conseillee?",
)
_WIDEN = rx(
    r"plus large",
    r"plus loin",
    r"elargi\w*",
    r"agrandi\w* (?:le|la) (?:rayon|zone|recherche)",
    r"further(?: away| out)?",
    r"farther",
    r"wider",
    r"broaden",
    r"expand the search",
)

# the field a question asks about; e-mail before address ("adresse mail")
_FIELDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", rx(r"e ?mails?", r"email\w*", r"mails?", r"courriel", r"mel")),
    (
        "phone",
        rx(
            r"telephone", r"tel", r"numero", r"num", r"phone(?: number)?", r"number",
            r"appeler", r"call (?:them|it|him|her)", r"joindre", r"ring them",
        ),
    ),
    (
        "website",
        rx(r"site(?: web| internet)?", r"website", r"web site", r"url", r"page facebook"),
    ),
    (
        "address",
        rx(
            r"adresse", r"address", r"c est ou", r"c ou", r"ou c est", r"ou est ce",
            r"ou ca se trouve", r"where is (?:it|this|that)", r"where are they",
            r"located", r"situee?", r"comment y aller", r"how do i get there",
        ),
    ),
    (
        "hours",
        rx(
            r"horaires?", r"ouvert\w*", r"ouvre\w*", r"open(?:ing)?(?: hours| times)?(?! by)",
            r"hours", r"closes?(?! by| to)", r"closing time", r"heures d ouverture",
        ),
    ),
)  # fmt: skip

_WEEKDAYS: dict[str, int] = {
    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5,
    "dimanche": 6, "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6, "lun": 0, "sam": 5, "dim": 6,
}  # fmt: skip

_DEICTIC = rx(
    r"celle ci",
    r"celui ci",
    r"celle la",
    r"celui la",
    r"ceux ci",
    r"celles ci",
    r"this one",
    r"that one",
    r"this place",
    r"that place",
    r"it",
    r"them",
    r"there",
    r"j en suis",
    r"(?:je|j|g) suis (?:membre|adherente?|benevole)$",
    r"i m a member of (?:it|that|this)",
    r"partage (?:la|le|les)",
    r"envoie (?:la|le|les)",
    r"(?:je|on) (?:la|le|les) (?:recommande|conseille)\w*",
)
#: a demonstrative before a category word names what is on screen ("ce garage")
DEMONSTRATIVES = frozenset({"ce", "cet", "cette", "this", "that"})

_SWITCH = (
    (
        "en",
        rx(
            r"in english", r"en anglais", r"parle(?:r|z)? anglais", r"speak english",
            r"english please", r"english pls", r"anglais (?:svp|stp|please)",
            r"talk in english", r"switch to english",
        ),
    ),
    (
        "fr",
        rx(
            r"en francais", r"in french", r"parle(?:r|z)? francais", r"speak french",
            r"french please", r"francais (?:svp|stp|please)", r"talk in french",
            r"switch to french",
        ),
    ),
)  # fmt: skip

_PROJECT_WORDS = rx(r"projets?", r"projects?")
_EVENT_WORDS = rx(
    r"evenements?",
    r"events?",
    r"manifs?",
    r"manifestations?",
    r"sorties",
    r"agenda",
    r"what s on",
    r"whats on",
    r"(?:kosa|koi|quoi|ke) (?:i |il )?(?:se )?passe",
    r"qu est ce qui se passe",
    r"quoi de neuf",
    r"festivals?",
    r"concerts?",
    r"vide greniers?",
    r"brocantes?",
    r"kermesses?",
)

_PHONE = re.compile(r"(?<![\w+])(\+?\d[\d .\-]{6,}\d)(?!\w)")
_WEB = re.compile(
    r"(?<![\w@.])(https?://)?(www\.)?((?:[a-z0-9-]+\.)+([a-z]{2,}))(/[^\s?#,;]*)?",
    re.IGNORECASE,
)
# bare host names need a known top-level domain: "Saint-Paul.Merci" is no address
_TLDS = frozenset({"re", "fr", "com", "org", "net", "io", "eu", "info", "be", "ch", "yt",
                   "gp", "mq", "nc", "pf", "gf", "pm", "asso", "bzh", "app", "co", "uk"})  # fmt: skip


_SHARE = rx(
    r"partage\w*", r"share", r"envoie (?:le|la|les|ca|moi ca)", r"send (?:it|this|that)",
    r"transfere\w*", r"forward (?:it|this)",
)  # fmt: skip


def share(folded: str) -> bool:
    """ "partage-la", "share it", "envoie-le à un ami"."""
    return bool(_SHARE.search(folded))


_HELP = rx(
    r"m y retrouve (?:pas|plus)",
    r"j ?y comprends? rien",
    r"j? ?comprends? rien",
    r"c est quoi (?:ce bot|ce truc|cette appli|les commandes)",
    r"sais pas comment (?:ca marche|faire|on fait|ca fonctionne)",
    r"what (?:do|can|should) i (?:type|ask|do|say|write)",
    r"i m confused",
    r"how does (?:this|it) work",
    r"tu sers a quoi",
    r"a quoi tu sers",
    r"what is this (?:bot|thing)",
    r"what (?:can|do) (?:you|u) do",
    r"i ?m lost",
    r"(?:pas|pa) compri\w* (?:com+ent|coment|koman) (?:ca|sa) marche",
    r"(?:com+ent|coment|koman) (?:ca|sa) (?:marche|fonctionne)",
    r"je suis perdue?",
    r"(?:kosa|koi) ou (?:i )?(?:fe|fait)",
)


def asks_help(folded: str) -> bool:
    """ "je m'y retrouve pas", "c'est quoi ce bot ?", "what do I type?"."""
    return bool(_HELP.search(folded))


def followup(folded: str) -> bool:
    """ "et à Saint-Benoît ?", "what about...", "sinon...", "plutôt...": builds on the last
    question."""
    return bool(_FOLLOWUP.search(folded))


def ordinal(words: list[str]) -> int | None:
    """The rank a message picks in words ("la troisième" 3, "le dernier" -1, "l'autre" 0)."""
    for i, word in enumerate(words):
        rank = _ORDINAL_WORDS.get(word)
        if rank is None or i == 0 or words[i - 1] not in _ORDINAL_LEAD:
            continue
        following = words[i + 1] if i + 1 < len(words) else ""
        if following in _ORDINAL_BLOCK:
            continue
        return rank
    return None


def sort(folded: str) -> str | None:
    """ "distance" for "le plus près", "recommended" for "le mieux noté"."""
    if _SORT_RECOMMENDED.search(folded):
        return "recommended"
    if _SORT_DISTANCE.search(folded):
        return "distance"
    return None


def widen(folded: str) -> bool:
    """ "cherche plus large", "plus loin", "further away"."""
    return bool(_WIDEN.search(folded))


def field(folded: str) -> str | None:
    """The detail of an entry a message asks for: phone, address, hours, website, email."""
    for name, pattern in _FIELDS:
        if pattern.search(folded):
            return name
    return None


def weekday(words: list[str]) -> int | None:
    """0 (Monday) to 6 (Sunday) for the first day named."""
    for word in words:
        day = _WEEKDAYS.get(word)
        if day is not None:
            return day
    return None


def deictic(folded: str) -> bool:
    """ "celle-ci", "celui-là", "this one", "it", "j'en suis membre", "partage-la"."""
    return bool(_DEICTIC.search(folded))


def switch_lang(folded: str) -> str | None:
    """ "fr" or "en" when the message asks to be spoken to in that language."""
    for lang, pattern in _SWITCH:
        if pattern.search(folded):
            return lang
    return None


def kind(folded: str) -> str | None:
    """ "project" or "event" when the message is about projects or events."""
    if _PROJECT_WORDS.search(folded):
        return "project"
    if _EVENT_WORDS.search(folded):
        return "event"
    return None


def contact(cleaned: str) -> str | None:
    """A pasted phone number (digits, leading "+" kept) or web address (host and path,
    lower case, without scheme or "www.")."""
    for match in _PHONE.finditer(cleaned):
        raw = match.group(1)
        digits = re.sub(r"\D", "", raw)
        if 9 <= len(digits) <= 15:
            return ("+" if raw.startswith("+") else "") + digits
    for match in _WEB.finditer(cleaned):
        scheme, www, host, tld, path = match.groups()
        if not (scheme or www or tld.lower() in _TLDS):
            continue
        if cleaned[: match.start()].endswith("]("):
            continue  # a Markdown link's target is formatting, not an address pasted to us
        address = host.lower() + (path or "").lower()
        return address.rstrip("/")
    return None
