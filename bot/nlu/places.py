"""Reading the commune a message names: names, quartiers, postcodes, départements, typos.

See ``bot.nlu.parser``'s docstring (step 4) for the rules. Everything here works on tokens and
the in-memory gazetteer; ``places_index()`` builds the name keys once. Besides:

* a name made only of ordinary words (common nouns, months, language markers: "Long",
  "Mars", "la Salle", "Nice day") needs a capital, a place word or the whole message; "a"
  is no "à" in English text nor after a subject ("on a changé"); idioms after a place word
  ("en ville", "à la montagne", "en mars") are no places; "au bord" is no Aubord, "la
  saint Valentin" a feast, and "saint" before a saint's name never Le Saint;
* a département, region or overseas name right after a commune's name picks the namesake
  ("Saint-Joseph, Martinique", "Saint-Denis de la Réunion", "Villeneuve (Aveyron)");
* a saint's name needs no place word for its typos ("plombier saint pier"); creole and SMS
  names of La Réunion ("sin-pol", "la poss") read as the official one;
* "le 11e", "dans le 3e à Lyon", "in the 8th" name an arrondissement of the city named, or
  of the home city;
* namesakes are ordered by population over distance from home (``order_by_home``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from rapidfuzz import fuzz, process

from bot.nlu.lexicon import EN_MARKERS, FILLERS, FR_MARKERS, NAME_INTRO, word_set
from bot.nlu.tokens import Reading, Tok
from directory.categories import Category
from directory.gazetteer import Commune, Gazetteer, get_gazetteer
from directory.gazetteer_names import (
    DEPARTEMENTS,
    arrondissement_aliases,
    fold_name,
    keys_of_folded,
)

# fmt: off
ARTICLES = frozenset({"le", "la", "les", "l"})
#: an article contracted with its preposition before a commune's name ("du Port", "aux Avirons")
_CONTRACTED = frozenset({"du", "au", "aux", "des"})
# Words after which a commune name is expected. "o" is SMS for "au", "a" for "à".
_PLACE_STRONG = frozenset(
    {"a", "au", "aux", "en", "sur", "vers", "dans", "ds", "o", "pres", "habite", "jhabite",
     "vis", "reste", "in", "at", "near", "around", "from", "to", "live", "ville", "commune",
     "about"}
)  # fmt: skip
# Weaker: "de" follows many nouns ("de garde", "de chez moi"): only for unmistakable names.
_PLACE_WEAK = frozenset({"de", "du", "des", "d", "pour", "of", "depuis", "cote", "c", "est", "is"})
_PLACE_WORDS = _PLACE_STRONG | _PLACE_WEAK
# After a preposition these make idioms ("à côté", "au coin", "in the morning"), not places.
_IDIOMS = word_set(
    """
    cote coin proximite plus moins pied domicile quartier centre nord sud est ouest bout fond
    droite gauche maison travail bureau partir peu cause part cet ce cette mon ma mes tout
    toute tous vie midi soir matin heure heures demain the me home night day work all least
    most some any my your this that there here once nous vous lui eux elle elles moi toi
    janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre
    ville montagne campagne mer plage chemin route plein air bord bas haut face ligne
    town city way time
    """
)
# A place word that carries the article of the name after it: "au Port" is "le Port".
_ARTICLE_OF = {"au": "le", "du": "le", "o": "le", "aux": "les", "des": "les"}
# Places people name instead of their commune: quartiers and villages of La Réunion, the
# island the project was born on. A name that is also a commune elsewhere ("Saint-Gilles",
# a commune of the Gard) counts as the locality only for a user whose home is on the
# island (the département in the second field); the others count everywhere.
_LOCALITIES: dict[str, tuple[str, str | None]] = {
    "saint gilles les bains": ("97415", None), "saint gilles les hauts": ("97415", None),
    "saint gilles": ("97415", "974"), "l hermitage": ("97415", None),
    "hermitage les bains": ("97415", None), "boucan canot": ("97415", None),
    "la saline les bains": ("97415", None), "plateau caillou": ("97415", None),
    "le guillaume": ("97415", None), "la plaine saint paul": ("97415", None),
    "sainte clotilde": ("97411", None), "le chaudron": ("97411", None),
    "le moufia": ("97411", None), "bellepierre": ("97411", None),
    "hell bourg": ("97421", None), "grand ilet": ("97421", None),
    "la riviere saint louis": ("97414", None), "riviere saint louis": ("97414", None),
    "les makes": ("97414", None), "le gol": ("97414", None),
    "terre sainte": ("97416", None), "ravine des cabris": ("97416", None),
    "mont vert": ("97416", None), "pierrefonds": ("97416", None),
    "grands bois": ("97416", None),
    "la plaine des cafres": ("97422", None), "plaine des cafres": ("97422", None),
    "trois mares": ("97422", None), "bourg murat": ("97422", None),
    "piton saint leu": ("97413", None), "la chaloupe saint leu": ("97413", None),
    "dos d ane": ("97408", None), "riviere des galets": ("97407", None),
    "manapany": ("97412", None), "vincendo": ("97412", None),
    "champ borne": ("97409", None), "etang sale les bains": ("97404", None),
    "gillot": ("97418", None),
}
_SMS_EXPANSIONS = {"sen": "saint", "sin": "saint", "snt": "saint", "st": "saint", "ste": "sainte"}

# Ordinary words that are also commune names somewhere ("Y", "Eu", "Port", "Ville", "Pas",
# "Bains", "Plus"...): they only count as a commune in a place context.
COMMON_WORDS = word_set(
    """
    a au aux avec bain bains bas beau belle bien bon bonne bois bourg bout ca car ce cela
    centre ces champ champs chez coin cote cour dame de des deux du eau eaux elle en est et
    eu faire fin fond font fort gare grand grande haut haute il jardin je la lac le les
    lieu loin lu ma mais marche mer mes moi mon mont mur neuf neuve nord nous o on ou paix
    par pas petit petite peu plage plaine plus pont port porte pour pres quai rue saint
    sainte sans ses si son sous sud sur ta tes ton tour tu un une val vert vie vieux vieille
    ville vous y yes no on in at the bay bar mont oui non sept trois nice orange sens courant
    s t d m j n ll ve re
    vienne grasse cannes tours this baby vers quartier garde saintes lot var cher ain
    aire avion avril bio blanc bouquet bras bus cars chambre change charge chateau chemin
    corn cours couture die doux dry ecole fille frais gas grange hopital hours iron island
    job lance lent ligne long louer lys machine maire marie mars mere messe montagne monte
    mouton parc peintre pere piano pierre pin place plan poisson riviere roche salle salon
    sand sers sure table tasse temple vallee viens plaisance plein air still town open
    """
)
# Ordinary words in any case: the common words above, the language markers and idioms.
# A commune name made only of these needs a capital, a place word or the whole message.
_ORDINARY = COMMON_WORDS | FR_MARKERS | EN_MARKERS | _IDIOMS
# Words that start a saint's name: alone before another word they are never "Le Saint".
_SAINT_LEADS = frozenset({"saint", "sainte", "st", "ste", "sen", "sin", "snt"})
# Subjects after which "a" is the verb avoir ("on a changé", "il y a"), not "à".
_HAS_SUBJECTS = frozenset({"y", "il", "ya", "on", "elle", "qui", "ca", "sa", "ce", "t", "m"})
# Creole and SMS names of communes of La Réunion, read as the official name.
_ALIASES = {
    "sin pol": "saint paul", "sin dni": "saint denis", "sin deni": "saint denis",
    "sin pyer": "saint pierre", "sin pier": "saint pierre", "sin lwi": "saint louis",
    "sin lui": "saint louis", "sin zozef": "saint joseph", "sin le": "saint leu",
    "sin andre": "saint andre", "sin benoi": "saint benoit", "la poss": "la possession",
    "ptite ile": "petite ile", "sin zil": "saint gilles",
}  # fmt: skip
_UNITS = frozenset({"km", "kms", "m", "mi", "miles", "min", "minutes", "h", "ans", "euros", "e"})
_DEPT_NAME_WORDS = frozenset({"dans", "en", "in", "a", "departement", "dept", "dpt"})
# fmt: on


@dataclass(frozen=True, slots=True)
class Places:
    """Commune name keys for fast "is this word sequence a commune?" checks."""

    compacts: frozenset[str]
    # (compact keys, INSEE codes) side by side, for rapidfuzz over a small pool
    near_keys: dict[str, tuple[list[str], list[str]]]  # by département
    popular: tuple[list[str], list[str]]  # towns over 10,000 people and overseas communes


@cache
def places_index() -> Places:
    """Built once from the gazetteer (about 0.2 s)."""
    gaz = get_gazetteer()
    compacts: set[str] = set()
    by_dept: dict[str, tuple[list[str], list[str]]] = {}
    popular: tuple[list[str], list[str]] = ([], [])
    # key == keys_of_folded(fold_name(name)).compact, folded once when the index was built
    for key, insee, name, kind, departement, zone, population in gaz.place_rows():
        compacts.add(key)
        if kind == "arrondissement":  # "Lyon 3e", "paris 11"
            for alias in arrondissement_aliases(fold_name(name)):
                compacts.add(keys_of_folded(alias).compact)
        keys, codes = by_dept.setdefault(departement, ([], []))
        keys.append(key)
        codes.append(insee)
        if population >= 10000 or zone != "metro":
            popular[0].append(key)
            popular[1].append(insee)
    return Places(frozenset(compacts), by_dept, popular)


def _compact(words: Sequence[str]) -> str:
    expanded = [_SMS_EXPANSIONS.get(w, w) for w in words]
    return keys_of_folded(" ".join(expanded)).compact


def _phrase(words: Sequence[str]) -> str:
    return " ".join(_SMS_EXPANSIONS.get(w, w) for w in words)


@dataclass(slots=True)
class PlaceHit:
    start: int  # token indexes [start, end)
    end: int
    communes: list[Commune]
    context: int  # 2 after a strong place word ("à", "in"), 1 after a weak one ("de"), 0
    strong: bool  # unmistakable without context: several words, or one uncommon word
    adjacent: bool  # right next to a category word ("garagiste st paul")
    capital: bool  # written with a capital inside the sentence
    article: bool  # the name carries its article ("le port", "les avirons")
    # départements named right after it ("Saint-Joseph, Martinique", "Villeneuve (Aveyron)")
    # and the tokens that name them
    qualified: frozenset[str] = frozenset()
    qualifier_span: tuple[int, int] | None = None


def order_by_home(gaz: Gazetteer, communes: list[Commune], home: Commune | None) -> list[Commune]:
    """Same-name communes, the one the user most likely means first: the largest population
    for its distance from home (people over km, distances under 5 km counted as 5), so
    the namesake next door wins, but a village 150 km away does not hide a town of 85,000
    across the sea ("Saint-Pierre" from Paris). Without a home: as given, most populated
    first. The others stay in the list for the dialog to offer."""
    if home is None or home.point is None or len(communes) < 2:
        return communes

    def pull(commune: Commune) -> float:
        distance = gaz.distance_km(home, commune)
        return 0.0 if distance is None else (commune.population + 1) / max(distance, 5.0)

    return sorted(communes, key=pull, reverse=True)


def place_hits(
    tokens: list[Tok],
    covered: set[int],
    gaz: Gazetteer,
    places: Places,
    cat_starts: set[int],
    cat_ends: set[int],
    home_dept: str | None = None,
) -> list[PlaceHit]:
    """Every token sequence that is exactly a commune (or known locality) name, in context."""
    hits: list[PlaceHit] = []
    words = [t.fold for t in tokens]
    letters = [ch for t in tokens for ch in t.text if ch.isalpha()]
    shouting = sum(ch.isupper() for ch in letters) > len(letters) / 2
    english = _english(words)
    n_tokens = len(words)
    for i in range(n_tokens):
        if i in covered:
            continue
        for n in range(min(6, n_tokens - i), 0, -1):
            j = i + n
            if any(k in covered for k in range(i, j)):
                continue
            span = words[i:j]
            before = words[i - 1] if i > 0 else ""
            if _not_a_name(tokens, i, j):
                continue
            candidates: list[str] = []
            implied = _ARTICLE_OF.get(before)
            if implied and span[0] not in ARTICLES:
                candidates.append(_phrase([implied, *span]))
            alias = _ALIASES.get(" ".join(span))
            candidates.append(alias or _phrase(span))
            found: list[Commune] = []
            for phrase in candidates:
                locality = _LOCALITIES.get(phrase)
                if locality is not None and (locality[1] is None or locality[1] == home_dept):
                    commune = gaz.current(locality[0])
                    if commune is not None:
                        # same-name communes stay candidates ("Saint-Gilles dans le Gard")
                        found = [commune, *gaz.exact(phrase)]
                        break
                if keys_of_folded(phrase).compact not in places.compacts:
                    continue
                found = gaz.exact(phrase)
                if found:
                    break
            if not found:
                continue
            hit = _judge(tokens, i, j, found, cat_starts, cat_ends, shouting, english)
            qualifier = _qualifier_after(words, j, gaz)
            if qualifier is not None and any(c.departement in qualifier[0] for c in found):
                hit.qualified, hit.qualifier_span = qualifier
            hits.append(hit)
            break  # longest name starting here
    return hits


def _not_a_name(tokens: list[Tok], i: int, j: int) -> bool:
    """Word sequences that look like a commune name but are not one, whatever the gazetteer:
    "au bord" (not Aubord), "saint" before a saint's name (not Le Saint), "la Saint-Valentin"
    (a feast day), and an ordinary word heading a longer phrase ("port de plaisance")."""
    words = [t.fold for t in tokens]
    first, last = tokens[i], words[j - 1]
    if j - i > 1 and first.fold in _PLACE_WORDS and not first.text[:1].isupper():
        return True
    if last in _SAINT_LEADS and j < len(words) and words[j].isalpha():
        return True
    if first.fold in {"saint", "sainte", "st", "ste"} and i > 0 and words[i - 1] in {"la", "le"}:
        return not tokens[i - 1].text[:1].isupper()
    return (
        j + 1 < len(words)
        and words[j] in {"de", "du", "des", "d"}
        and all(w in _ORDINARY for w in words[i:j])
        and not first.text[:1].isupper()
    )


_QUALIFIER_JOINS = frozenset({"de", "du", "d", "la", "le", "les", "l", "en", "in", "dans", "a", "au"})


def _qualifier_after(
    words: list[str], end: int, gaz: Gazetteer
) -> tuple[frozenset[str], tuple[int, int]] | None:
    """A département, region or overseas name just after a commune name, joining words
    skipped: "Saint-Denis **de la Réunion**", "Saint-Pierre (Martinique)"."""
    start = end
    while start < len(words) and start - end < 3 and words[start] in _QUALIFIER_JOINS:
        start += 1
    for size in range(min(5, len(words) - start), 0, -1):
        phrase = words[start : start + size]
        if not phrase[0].isalpha():
            break  # codes ("Saint-Denis 93") are read with their units in mind elsewhere
        deps = gaz.qualifier(" ".join(phrase))
        if deps:
            return deps, (start, start + size)
    return None


# Arrondissements: "le 11e", "11ème", "dans le 3e à Lyon", "the 8th", "20eme arrondissement".
_ORDINAL = re.compile(r"^(\d{1,2})(e|eme|em|ieme|er|ere|th|st|nd|rd)$")
_ARR_WORDS = frozenset({"arrondissement", "arrondissements", "arrondissment", "arr", "arrdt"})
_MONTHS = word_set(
    "janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre "
    "january february march april may june july august september october november december"
)
_ARR_NAME = re.compile(r" (\d{1,2})(?:er|e) arrondissement$")


@cache
def _arrondissement_codes() -> dict[tuple[str, int], str]:
    """(city INSEE, number) -> the arrondissement's INSEE code: ("75056", 11) -> "75111"."""
    codes: dict[tuple[str, int], str] = {}
    for row in get_gazetteer().arrondissements():
        found = _ARR_NAME.search(fold_name(row.name))
        if found and row.parent:
            codes[(row.parent, int(found[1]))] = row.insee
    return codes


def arrondissement_number(words: list[str]) -> tuple[int, int] | None:
    """The arrondissement number a message names and its token: an ordinal ("11e", "1er",
    "8th") or a number before "arrondissement"; never a date ("le 1er mai", "on the 15th")."""
    for i, word in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else ""
        arr_word = following in _ARR_WORDS
        found = _ORDINAL.match(word)
        numbered = (word.isdigit() and len(word) <= 2) or word == "premier"
        if found is None and not (numbered and arr_word):
            continue
        if following in _MONTHS:
            continue
        number = 1 if word == "premier" else int(found[1] if found else word)
        if found is not None and found[2] in {"th", "st", "nd", "rd"} and not arr_word:
            prev = i - 1
            while prev >= 0 and words[prev] in {"the", "le"}:
                prev -= 1
            if prev < 0 or words[prev] not in {"in", "near", "around", "dans", "paris", "lyon", "marseille"}:
                continue  # "on the 15th" is a date
        if 1 <= number <= 20:
            return number, i
    return None


def _arrondissement(
    words: list[str], communes: list[Commune], home: Commune | None, gaz: Gazetteer
) -> tuple[Commune, int] | None:
    """The arrondissement of Paris, Lyon or Marseille the message names, with its token:
    of the city named ("dans le 3e à Lyon"), else of the home city ("le 11e" in Paris)."""
    number = arrondissement_number(words)
    if number is None:
        return None
    codes = _arrondissement_codes()
    if communes:
        city: Commune | None = communes[0]
    elif home is not None:
        city = gaz.municipality(home.insee)
    else:
        return None
    if city is None or (city.insee, number[0]) not in codes:
        return None
    row = gaz.current(codes[(city.insee, number[0])])
    return None if row is None else (row, number[1])


def _english(words: list[str]) -> bool:
    """More English markers than French ones: "a" is then an article, not "à"."""
    en = sum(w in EN_MARKERS for w in words)
    return en > 0 and en > sum(w in FR_MARKERS for w in words)


def _judge(
    tokens: list[Tok],
    i: int,
    j: int,
    found: list[Commune],
    cat_starts: set[int],
    cat_ends: set[int],
    shouting: bool,
    english: bool = False,
) -> PlaceHit:
    """How surely the words [i, j) name a place, from what surrounds them.

    A capitalised word inside a sentence ("du Port", "de Petite-Île") is a proper noun:
    it counts as unmistakable even when it is also an ordinary word.
    """
    words = [t.fold for t in tokens]
    span = words[i:j]
    content = [w for w in span if w not in ARTICLES]
    uncommon = [w for w in content if w not in _ORDINARY]
    has_article = len(content) < len(span)
    first_content = next((k for k in range(i, j) if words[k] not in ARTICLES), i)
    capital = not shouting and first_content > 0 and tokens[first_content].text[:1].isupper()
    saint = len(content) >= 2 and content[0] in _SAINT_LEADS  # "saint pierre", "ste marie"
    strong = (
        saint or capital or (bool(uncommon) and (len(content) >= 2 or has_article or len(uncommon[0]) >= 4))
    )
    ctx = i - 1
    while ctx >= 0 and words[ctx] in ARTICLES:
        ctx -= 1
    word = words[ctx] if ctx >= 0 else ""
    context = 0
    if content and content[0] in _IDIOMS:
        context = 0
    elif word in _PLACE_STRONG:
        context = 2
        if word == "a" and ((ctx >= 1 and words[ctx - 1] in _HAS_SUBJECTS) or english):
            context = 0  # "il y a", "on a changé": the verb; "a nice day": the article
    elif word in _PLACE_WEAK and strong:
        context = 1
    adjacent = (ctx in cat_ends and (strong or has_article)) or (j in cat_starts and strong)
    return PlaceHit(i, j, found, context, strong, adjacent, capital, has_article)


def _postcodes(tokens: list[Tok], gaz: Gazetteer) -> list[tuple[int, list[Commune]]]:
    found: list[tuple[int, list[Commune]]] = []
    for i, tok in enumerate(tokens):
        if len(tok.fold) == 5 and tok.fold.isdigit():
            communes = gaz.by_postcode(tok.fold)
            if not communes:
                current = gaz.current(tok.fold)
                communes = [current] if current is not None else []
            if communes:
                found.append((i, communes))
    return found


def dept_qualifiers(tokens: list[Tok], cleaned: str) -> tuple[set[str], dict[int, set[str]]]:
    """Départements the text names ("dans le 974", "Saint-Louis (68)", "dans la Somme")."""
    deps: set[str] = set()
    used: dict[int, set[str]] = {}  # token -> the départements it names
    words = [t.fold for t in tokens]
    names = dept_names()
    for i, w in enumerate(words):
        prev = words[i - 1] if i > 0 else ""
        prev2 = words[i - 2] if i > 1 else ""
        code = w.upper()
        in_parens = cleaned[: tokens[i].start].rstrip().endswith("(")
        if code in DEPARTEMENTS and (
            len(w) == 3 or w[0] == "0" or prev in {"le", "dans"} or prev2 == "dans" or in_parens
        ):
            following = words[i + 1] if i + 1 < len(words) else ""
            if following not in _UNITS:
                deps.add(code)
                used.setdefault(i, set()).add(code)
        for n in (5, 4, 3, 2, 1):
            phrase = " ".join(words[i : i + n])
            if phrase in names and (
                prev in _DEPT_NAME_WORDS
                or prev2 in _DEPT_NAME_WORDS
                or (prev in ARTICLES and prev2 in _DEPT_NAME_WORDS)
            ):
                deps.update(names[phrase])
                for k in range(i, i + n):
                    used.setdefault(k, set()).update(names[phrase])
                break
    return deps, used


@cache
def dept_names() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for code, name in DEPARTEMENTS.items():
        keys = keys_of_folded(fold_name(name))
        for key in {keys.full, keys.bare}:
            table.setdefault(key, set()).add(code)
    table.setdefault("reunion", set()).add("974")
    return {k: frozenset(v) for k, v in table.items()}


def _fuzzy_place(
    tokens: list[Tok], covered: set[int], gaz: Gazetteer, places: Places, home: Commune | None
) -> tuple[int, int, list[Commune]] | None:
    """A misspelt commune after a place word ("à Salazi", "in st pierr").

    First among the communes of the home département and the towns and overseas communes
    (cheap); the whole gazetteer's typo search only for a capitalised word or after
    "j'habite" / "I live in", where a place is certain.
    """
    words = [t.fold for t in tokens]
    vocabulary = FR_MARKERS | EN_MARKERS | _IDIOMS
    for i, w in enumerate(words):
        if w in _PLACE_STRONG:
            first = i + 1
            while first < len(words) and words[first] in ARTICLES:
                first += 1
        elif w in _SAINT_LEADS and i not in covered and (i == 0 or words[i - 1] not in _PLACE_STRONG):
            if i > 0 and words[i - 1] in {"la", "le"}:
                continue  # "la saint Valentin" is a feast day
            first = i  # "plombier saint pier": a saint's name needs no place word
        else:
            continue
        chunk: list[str] = []
        k = first
        while k < len(words) and k not in covered and len(chunk) < 4:
            word = words[k]
            inner = (  # "fort de frans": a joining word inside a name
                chunk
                and word in {"de", "du", "des", "d", "la", "le", "les", "l"}
                and k + 1 < len(words)
                and words[k + 1].isalpha()
                and words[k + 1] not in vocabulary
            )
            if word.isdigit() or (word in _PLACE_WORDS and not inner):
                break
            if word in vocabulary and word not in _SAINT_LEADS and not inner:
                break
            chunk.append(word)
            k += 1
        if not chunk or len("".join(chunk)) < 4:
            continue
        for size in range(len(chunk), 0, -1):
            if chunk[size - 1] in {"saint", "sainte", "st", "ste", "sen", "les", "le", "la"}:
                continue  # "Sainte-Clotilde" is not a misspelt "Saint-Leu"
            key = _compact(chunk[:size])
            if len(key) < 5:
                break
            pools: list[tuple[list[str], list[str]]] = []
            if home is not None and home.departement in places.near_keys:
                pools.append(places.near_keys[home.departement])
            pools.append(places.popular)
            for keys, codes in pools:
                hit = process.extractOne(key, keys, scorer=fuzz.ratio, score_cutoff=84)
                if hit is None:
                    continue
                commune = gaz.current(codes[hit[2]])
                if commune is not None:
                    return first, first + size, gaz.exact(commune.name) or [commune]
        certain = tokens[first].text[:1].isupper() or w in {"habite", "jhabite", "live", "vis"}
        if certain:
            near = home.insee if home is not None else None
            matches = gaz.resolve(" ".join(chunk), near=near, limit=3)
            if matches and matches[0].score >= 85:
                return first, first + len(chunk), [m.commune for m in matches]
    return None


def acceptable(
    hit: PlaceHit,
    words: list[str],
    content: list[int],
    qual_tokens: dict[int, set[str]],
    has_category: bool,
) -> bool:
    """Whether a commune name found in the text is meant as a place."""
    named = set().union(*(qual_tokens.get(k, set()) for k in range(hit.start, hit.end)))
    if named and not any(c.departement in named for c in hit.communes):
        return False  # "à la Réunion" is the island, not La Réunion (47)
    if hit.start > 0 and words[hit.start - 1] in NAME_INTRO and not hit.context:
        return False  # "je m'appelle Marie": a first name
    whole_text = all(hit.start <= k < hit.end for k in content)
    big = any(c.population >= 20000 for c in hit.communes[:1])
    names = [w for w in words[hit.start : hit.end] if w not in ARTICLES]
    several = len(names) > 1
    # "atelier théâtre enfants le port": an article + name closing a request
    # ("la troupe de théâtre du port": the same with a contracted article, "du"/"au"/"aux")
    contracted = hit.start > 0 and words[hit.start - 1] in _CONTRACTED
    trailing = (hit.article or contracted) and hit.end == len(words) and has_category \
        and names[0] not in _IDIOMS
    return bool(
        hit.context
        or hit.qualified
        or whole_text
        or hit.adjacent
        or trailing
        or (hit.strong and (several or big or hit.capital))
    )


def settle_place(
    reading: Reading,
    accepted: list[PlaceHit],
    deps: set[str],
    qual_tokens: dict[int, set[str]],
    covered: set[int],
    gaz: Gazetteer,
    places: Places,
    home: Commune | None,
) -> tuple[list[Commune], tuple[int, int] | None, bool]:
    """The communes the message names, best first; their token span; whether that span
    is a place rather than part of an entry's name.

    The surest name wins (not a département name, after a place word, unmistakable,
    longest, last); a postcode narrows it or stands alone; with neither, a misspelt name
    after a place word; a département named anywhere narrows same-name communes, then
    the home commune orders them.
    """
    tokens = reading.tokens
    words = [t.fold for t in tokens]
    deps = set(deps)
    communes: list[Commune] = []
    span: tuple[int, int] | None = None
    is_place = False
    if accepted:
        best = max(
            accepted,
            key=lambda h: (
                not any(k in qual_tokens for k in range(h.start, h.end)),  # "dans la Somme"
                h.context,
                h.strong,
                h.end - h.start,
                h.start,
            ),
        )
        after = words[best.end] if best.end < len(words) else ""
        following = words[best.end + 1] if best.end + 1 < len(words) else ""
        if after.upper() in DEPARTEMENTS and following not in _UNITS:
            deps.add(after.upper())  # "Saint-Louis 68", "Saint-Denis 93"
        deps |= best.qualified
        communes = best.communes
        span = (best.start, best.end)
        # "FC Avirons": a capitalised place right after a capitalised word is part of a name
        is_place = not (best.context == 0 and best.capital and tokens[best.start - 1].text[:1].isupper())
    postcodes = _postcodes(tokens, gaz)
    if postcodes:
        index, by_code = postcodes[0]
        if communes:
            named = {c.insee for c in communes}
            narrowed = [p for p in by_code if p.insee in named]
            # "Marseille 13005": the arrondissement of that postcode
            narrowed += [p for p in by_code if p.parent in named]
            communes = narrowed or communes
        else:
            communes, span, is_place = by_code, (index, index + 1), True
    if not communes or communes[0].insee in {"75056", "69123", "13055"}:
        arrondissement = _arrondissement(words, communes, home, gaz)
        if arrondissement is not None:
            row, index = arrondissement
            if not communes:
                span, is_place = (index, index + 1), True
            communes = [row]
    weak = span is not None and accepted and best.context < 2 and not best.capital
    if not communes or weak:
        # a name read after "de" may be the end of a misspelt one: "à fort de frans"
        fuzzy = _fuzzy_place(tokens, covered | set(qual_tokens), gaz, places, home)
        if fuzzy is not None and (
            not communes or (span is not None and fuzzy[0] < span[0] and span[1] <= fuzzy[1])
        ):
            span, communes, is_place = (fuzzy[0], fuzzy[1]), fuzzy[2], True
    if deps and len(communes) > 1:
        communes = [c for c in communes if c.departement in deps] or communes
    return order_by_home(gaz, communes, home), span, is_place


# --- the two steps the parser calls --------------------------------------------------------


@dataclass(slots=True)
class PlaceFinding:
    """Commune names found in a message before the category is settled."""

    accepted: list[PlaceHit]  # names meant as places
    deps: set[str]  # départements the text names
    qual_tokens: dict[int, set[str]]  # token -> départements it names
    covered: set[int]  # tokens of exact category words (never a place)

    @property
    def tokens(self) -> set[int]:
        """Tokens of accepted names: a typo-tolerant category word never takes them."""
        return {k for h in self.accepted for k in range(h.start, h.end)}


def find_places(
    reading: Reading,
    mentions: list[tuple[Category, float, int, int]],
    home: Commune | None,
) -> PlaceFinding:
    """Every commune name in the text that is meant as a place (``mentions``: all category
    mentions, exact ones already in ``reading.cat_mentions``)."""
    tokens = reading.tokens
    words = [t.fold for t in tokens]
    gaz = get_gazetteer()
    deps, qual_tokens = dept_qualifiers(tokens, reading.cleaned)
    covered = {k for _, _, i, j in reading.cat_mentions for k in range(i, j)}
    hits = place_hits(
        tokens,
        covered,
        gaz,
        places_index(),
        {i for _, _, i, _ in reading.cat_mentions},  # a typo category is no landmark
        {j - 1 for _, _, _, j in mentions},
        home.departement if home is not None else None,
    )
    for hit in hits:
        if hit.qualifier_span is not None:  # "Réunion" qualifies, it is no commune of its own
            for k in range(*hit.qualifier_span):
                qual_tokens.setdefault(k, set()).update(hit.qualified)
    content = [k for k in range(len(tokens)) if k not in covered and words[k] not in FILLERS]
    has_category = bool(reading.cat_mentions)
    accepted = [hit for hit in hits if acceptable(hit, words, content, qual_tokens, has_category)]
    return PlaceFinding(accepted, deps, qual_tokens, covered)


def read_commune(
    reading: Reading, found: PlaceFinding, home: Commune | None
) -> tuple[list[Commune], tuple[int, int] | None, bool]:
    """The communes the message names once its category words are known (best first),
    their token span, and whether that span is a place rather than part of a name."""
    cat_tokens = {k for _, _, i, j in reading.cat_mentions for k in range(i, j)}
    accepted = [h for h in found.accepted if not any(k in cat_tokens for k in range(h.start, h.end))]
    return settle_place(
        reading,
        accepted,
        found.deps,
        found.qual_tokens,
        found.covered | cat_tokens,
        get_gazetteer(),
        places_index(),
        home,
    )


def warm_up_places() -> None:
    """Build the name indexes now rather than on the first message."""
    places_index()
    dept_names()
