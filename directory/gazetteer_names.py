"""Name keys and place qualifiers for the commune gazetteer: pure functions, no I/O.

A commune name is compared through three keys built from its folded form
(``directory.text.fold``) after expanding the usual abbreviations (``st`` → ``saint``):

* ``full``    — every token, article included: ``"l etang sale"``;
* ``bare``    — without a leading article (``le``, ``la``, ``les``, ``l``): ``"etang sale"``;
* ``compact`` — ``bare`` with no spaces at all: ``"etangsale"`` (``Entre Deux`` = ``Entredeux``).

A qualifier is what people add to tell same-name communes apart: a département code or name
("Saint-Louis 974", "Saint-Louis (68)", "saint louis reunion"), a region, or a postcode.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ARTICLES: frozenset[str] = frozenset({"le", "la", "les", "l"})

# Abbreviations people type for tokens of official names.
ABBREVIATIONS: dict[str, str] = {
    "st": "saint",
    "ste": "sainte",
    "sts": "saints",
    "stes": "saintes",
    "mt": "mont",
}

# Words that join a name and its qualifier: "saint louis à la réunion", "saint denis dans le 93".
CONNECTORS: frozenset[str] = frozenset(
    {"a", "au", "aux", "en", "dans", "de", "des", "du", "d", "le", "la", "les", "l", "in", "on"}
)

# What people put before a commune's name: "à Saint-Paul", "la commune de Cilaos", "near Lyon".
LEADING_FILLERS: tuple[tuple[str, ...], ...] = (
    ("commune", "de"), ("commune", "d"), ("ville", "de"), ("ville", "d"), ("mairie", "de"),
    ("mairie", "d"), ("pres", "de"), ("pres", "d"), ("a", "cote", "de"), ("la", "commune", "de"),
    ("la", "ville", "de"), ("a",), ("au",), ("aux",), ("en",), ("dans",), ("sur",), ("vers",),
    ("in",), ("at",), ("near",), ("around",), ("commune",), ("ville",),
)  # fmt: skip

_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_NON_WORD = re.compile(r"[^0-9a-z]+")
_PARENTHESIS = re.compile(r"\s*\([^)]*\)\s*")


def fold_name(name: str) -> str:
    """``directory.text.fold`` for clean official names, about ten times faster.

    Loading folds 37k names; the general ``fold`` inspects every character's category to
    drop invisible ones, which official names never contain. A test checks both agree on
    every shipped name.
    """
    text = name.lower()
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
        text = text.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    return _NON_WORD.sub(" ", text).strip()


def expand_tokens(folded: str) -> list[str]:
    """Split a folded phrase into tokens with abbreviations expanded."""
    return [ABBREVIATIONS.get(token, token) for token in folded.split()]


def strip_article(tokens: list[str]) -> list[str]:
    """Drop one leading article, unless it is the whole name."""
    if len(tokens) > 1 and tokens[0] in ARTICLES:
        return tokens[1:]
    return tokens


def strip_fillers(tokens: list[str]) -> list[str]:
    """Drop one leading filler ("à", "commune de"…), unless nothing would be left."""
    for filler in sorted(LEADING_FILLERS, key=len, reverse=True):
        if len(tokens) > len(filler) and tuple(tokens[: len(filler)]) == filler:
            return tokens[len(filler) :]
    return tokens


@dataclass(frozen=True, slots=True)
class NameKeys:
    """The three comparison keys of one name (see module docstring)."""

    full: str
    bare: str
    compact: str

    @property
    def has_article(self) -> bool:
        return self.full != self.bare


def keys_of_tokens(tokens: list[str]) -> NameKeys:
    bare = strip_article(tokens)
    return NameKeys(" ".join(tokens), " ".join(bare), "".join(bare))


def keys_of_folded(folded: str) -> NameKeys:
    """Keys of a phrase already folded (user input or an n-gram from the NLU)."""
    return keys_of_tokens(expand_tokens(folded))


def name_variants(name: str) -> list[NameKeys]:
    """Keys under which an official name is indexed.

    ``Bors (Canton de Tude-et-Lavalette)`` is also found as ``Bors``: the parenthesis only
    separates same-name communes, nobody types it.
    """
    variants = [keys_of_folded(fold_name(name))]
    if "(" in name:
        without = _PARENTHESIS.sub(" ", name).strip()
        if without and without != name:
            variants.append(keys_of_folded(fold_name(without)))
    return variants


_ARRONDISSEMENT = re.compile(r"^(?P<city>.+?) (?P<n>\d{1,2})(?:er|e) arrondissement$")


def arrondissement_aliases(folded_name: str) -> list[str]:
    """What people call ``Paris 11e Arrondissement``: ``paris 11``, ``paris 11e``, ``paris 11eme``…"""
    found = _ARRONDISSEMENT.match(folded_name)
    if not found:
        return []
    city, n = found["city"], found["n"]
    suffixes = ["", "e", "eme", "em"] + (["er", "ere"] if n == "1" else [])
    aliases: list[str] = []
    for suffix in suffixes:
        aliases.append(f"{city} {n}{suffix}")
        aliases.append(f"{city} {n}{suffix} arrondissement")
        aliases.append(f"{city} {n}{suffix} arr")
    return [alias for alias in aliases if alias != folded_name]


# Well-known places that are not communes, as people name them, with the commune they lie in.
# Only unambiguous ones (La Saline straddles two communes; "Saint-Gilles" alone is also a
# commune name in five départements). They lead to their commune like a former commune.
LOCALITIES: dict[str, str] = {
    "Saint-Gilles-les-Bains": "97415", "Saint-Gilles-les-Hauts": "97415",
    "L'Hermitage-les-Bains": "97415", "Boucan Canot": "97415", "La Saline-les-Bains": "97415",
    "Le Guillaume": "97415", "Sainte-Clotilde": "97411", "La Plaine-des-Cafres": "97422",
    "Bourg-Murat": "97422", "Trois-Mares": "97422", "Hell-Bourg": "97421",
    "Grand-Îlet": "97421", "Terre-Sainte": "97416", "Ravine des Cabris": "97416",
    "Le Tévelave": "97401", "Bras-Sec": "97424", "Îlet à Cordes": "97424",
    "Dos d'Âne": "97408", "Piton Saint-Leu": "97413", "La Chaloupe Saint-Leu": "97413",
    "La Rivière Saint-Louis": "97414",
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Qualifiers: départements, regions, overseas collectivities, postcodes.

DEPARTEMENTS: dict[str, str] = {
    "01": "Ain", "02": "Aisne", "03": "Allier", "04": "Alpes-de-Haute-Provence",
    "05": "Hautes-Alpes", "06": "Alpes-Maritimes", "07": "Ardèche", "08": "Ardennes",
    "09": "Ariège", "10": "Aube", "11": "Aude", "12": "Aveyron", "13": "Bouches-du-Rhône",
    "14": "Calvados", "15": "Cantal", "16": "Charente", "17": "Charente-Maritime",
    "18": "Cher", "19": "Corrèze", "2A": "Corse-du-Sud", "2B": "Haute-Corse",
    "21": "Côte-d'Or", "22": "Côtes-d'Armor", "23": "Creuse", "24": "Dordogne",
    "25": "Doubs", "26": "Drôme", "27": "Eure", "28": "Eure-et-Loir", "29": "Finistère",
    "30": "Gard", "31": "Haute-Garonne", "32": "Gers", "33": "Gironde", "34": "Hérault",
    "35": "Ille-et-Vilaine", "36": "Indre", "37": "Indre-et-Loire", "38": "Isère",
    "39": "Jura", "40": "Landes", "41": "Loir-et-Cher", "42": "Loire", "43": "Haute-Loire",
    "44": "Loire-Atlantique", "45": "Loiret", "46": "Lot", "47": "Lot-et-Garonne",
    "48": "Lozère", "49": "Maine-et-Loire", "50": "Manche", "51": "Marne",
    "52": "Haute-Marne", "53": "Mayenne", "54": "Meurthe-et-Moselle", "55": "Meuse",
    "56": "Morbihan", "57": "Moselle", "58": "Nièvre", "59": "Nord", "60": "Oise",
    "61": "Orne", "62": "Pas-de-Calais", "63": "Puy-de-Dôme", "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées", "66": "Pyrénées-Orientales", "67": "Bas-Rhin", "68": "Haut-Rhin",
    "69": "Rhône", "70": "Haute-Saône", "71": "Saône-et-Loire", "72": "Sarthe",
    "73": "Savoie", "74": "Haute-Savoie", "75": "Paris", "76": "Seine-Maritime",
    "77": "Seine-et-Marne", "78": "Yvelines", "79": "Deux-Sèvres", "80": "Somme",
    "81": "Tarn", "82": "Tarn-et-Garonne", "83": "Var", "84": "Vaucluse", "85": "Vendée",
    "86": "Vienne", "87": "Haute-Vienne", "88": "Vosges", "89": "Yonne",
    "90": "Territoire de Belfort", "91": "Essonne", "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis", "94": "Val-de-Marne", "95": "Val-d'Oise",
    "971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion",
    "975": "Saint-Pierre-et-Miquelon", "976": "Mayotte", "977": "Saint-Barthélemy",
    "978": "Saint-Martin", "984": "Terres australes et antarctiques françaises",
    "986": "Wallis-et-Futuna", "987": "Polynésie française", "988": "Nouvelle-Calédonie",
    "989": "Clipperton",
}  # fmt: skip

REGIONS: dict[str, str] = {
    "01": "Guadeloupe", "02": "Martinique", "03": "Guyane", "04": "La Réunion", "06": "Mayotte",
    "11": "Île-de-France", "24": "Centre-Val de Loire", "27": "Bourgogne-Franche-Comté",
    "28": "Normandie", "32": "Hauts-de-France", "44": "Grand Est", "52": "Pays de la Loire",
    "53": "Bretagne", "75": "Nouvelle-Aquitaine", "76": "Occitanie",
    "84": "Auvergne-Rhône-Alpes", "93": "Provence-Alpes-Côte d'Azur", "94": "Corse",
}  # fmt: skip

# Everyday names for groups of départements.
ALIASES: dict[str, tuple[str, ...]] = {
    "reunion": ("974",), "ile de la reunion": ("974",), "run": ("974",),
    "guyane francaise": ("973",), "caledonie": ("988",), "nc": ("988",),
    "polynesie": ("987",), "tahiti": ("987",), "wallis": ("986",), "futuna": ("986",),
    "spm": ("975",), "saint barth": ("977",), "saint barts": ("977",), "taaf": ("984",),
    "paca": ("04", "05", "06", "13", "83", "84"), "idf": ("75", "77", "78", "91", "92", "93",
    "94", "95"), "alsace": ("67", "68"), "corse": ("2A", "2B"), "20": ("2A", "2B"),
    "dom": ("971", "972", "973", "974", "976"), "drom": ("971", "972", "973", "974", "976"),
    # English names
    "reunion island": ("974",), "french guiana": ("973",), "new caledonia": ("988",),
    "french polynesia": ("987",), "saint pierre and miquelon": ("975",),
    "wallis and futuna": ("986",), "corsica": ("2A", "2B"),
    "brittany": ("22", "29", "35", "56"), "normandy": ("14", "27", "50", "61", "76"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Qualifier:
    """A restriction named in the text: départements, or one postcode."""

    departements: frozenset[str] = frozenset()
    postcode: str | None = None


_POSTCODE = re.compile(r"^\d{5}$")


def qualifier_table(region_departements: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    """Folded qualifier phrase → départements, from the tables above and the data's regions."""
    table: dict[str, set[str]] = {}

    def add(phrase: str, codes: set[str] | tuple[str, ...]) -> None:
        keys = keys_of_folded(fold_name(phrase))
        for key in {keys.full, keys.bare}:
            table.setdefault(key, set()).update(codes)

    for code, name in DEPARTEMENTS.items():
        add(code, {code})
        add(name, {code})
    for code, name in REGIONS.items():
        if code in region_departements:
            add(name, region_departements[code])
    for phrase, codes in ALIASES.items():
        add(phrase, codes)
    return {phrase: frozenset(codes) for phrase, codes in table.items()}


def split_qualifiers(
    tokens: list[str], table: dict[str, frozenset[str]], max_tokens: int = 5
) -> list[tuple[list[str], Qualifier]]:
    """Every way to read a trailing (or leading) qualifier off ``tokens``.

    Returns (name tokens, qualifier) pairs; the name part is never empty and loses any
    joining word ("saint louis **a la** reunion").
    """
    readings: list[tuple[list[str], Qualifier]] = []
    for size in range(1, min(max_tokens, len(tokens) - 1) + 1):
        for name, phrase in ((tokens[:-size], tokens[-size:]), (tokens[size:], tokens[:size])):
            qualifier = _qualifier(" ".join(phrase), table)
            if qualifier is None:
                continue
            trimmed = list(name)
            while len(trimmed) > 1 and trimmed[-1] in CONNECTORS:
                trimmed.pop()
            if trimmed:
                readings.append((trimmed, qualifier))
    return readings


def _qualifier(phrase: str, table: dict[str, frozenset[str]]) -> Qualifier | None:
    if _POSTCODE.match(phrase):
        return Qualifier(postcode=phrase)
    codes = table.get(phrase)
    if codes is None:
        return None
    return Qualifier(departements=codes)
