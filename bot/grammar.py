"""French around names put into sentences: « au Port », « des Avirons », « aucune crèche ».

A catalog sentence names a commune or a category with a *format spec* that says what
stands before it, and the value does the grammar (pure, no I/O):

- ``PlaceName`` (a commune): the spec is a preposition. ``{commune:à}`` gives « au Port
  (974) », « aux Avirons (974) », « à La Possession (974) », « à Saint-Paul (974) »;
  ``{commune:de}`` gives « du Port », « des Avirons », « de L'Étang-Salé », « d'Arles »;
  any spec ending with *à* or *de* contracts the same way (``{commune:près de}`` → « près
  du Tampon », ``{commune:autour de}``, ``{commune:jusqu'à}``). Other specs are a plain
  prefix: French ``{commune:dans}``, English ``{commune:in}`` → « in Le Port (974) ».
  French never says « en » before a commune: catalogs use ``à``.
- ``CategoryName`` (a kind of place): the spec is the words before the noun, written in
  the masculine singular, and each one agrees with the noun's gender and number and elides
  before a vowel: ``{category:aucun}`` → « aucune crèche » / « aucun garage »,
  ``{category:le}`` → « la crèche » / « l'école », ``{category:un nouveau}`` → « une
  nouvelle crèche », ``{category:pas de}`` → « pas d'école »; English ``{category:a}`` →
  « a daycare » / « an association », ``{category:no}`` → « no daycare ».

Case, decided by the spec: no spec keeps the label as it is (« Crèche », for lists,
buttons and the start of a sentence); any spec means the name sits inside a sentence, so
its first letter is lower-cased (« aucune crèche », acronyms such as « EHPAD » kept), and
``{category:-}`` asks for that lower-cased name alone. A spec starting with a capital
capitalises the result: ``{category:Aucun}`` → « Aucune crèche », ``{commune:À}`` →
« Au Port ».

Python hands a ``str`` subclass's ``__format__`` the raw text after the colon, so spaces
and apostrophes in specs work with ``str.format``. A plain ``str`` would refuse such a
spec (``ValueError``); ``format_message`` is ``str.format`` that reads a plain string given
such a spec as a place name (or a masculine category name for a determiner spec), so a
caller that forgot to wrap its value gets correct-enough French, not a crash.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from typing import Any

_LABEL = re.compile(r"^(?P<name>.*?)(?P<suffix> \([^()]*\))?$", re.S)
_APOSTROPHES = ("'", "’")
#: an English word starting with a vowel letter but said with a consonant ("a union")
_EN_CONSONANT_SOUND = ("uni", "use", "usu", "ute", "eu", "one", "once", "ur")
#: an English word starting with a silent h ("an hour")
_EN_SILENT_H = ("hour", "honest", "honou", "heir")


def _starts_with_vowel(word: str, *, h_is_vowel: bool = False) -> bool:
    """Whether ``word`` starts with a vowel letter (accents ignored; ``y`` counts)."""
    if not word:
        return False
    first = unicodedata.normalize("NFD", word[0])[0].lower()
    return first in "aeiouy" or (h_is_vowel and first == "h")


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def sentence_case(name: str) -> str:
    """The name as it reads inside a sentence: first letter lower-cased, acronyms kept."""
    first_word = name.split(" ", 1)[0]
    if len(first_word) > 1 and first_word[:2].isupper():
        return name
    return name[:1].lower() + name[1:]


# ---------------------------------------------------------------------------- places


def _ends_with_word(text: str, word: str) -> bool:
    """``près de`` ends with the word ``de``; ``jusqu'à`` with ``à``; ``aide`` not."""
    lowered = text.lower()
    if not lowered.endswith(word):
        return False
    before = lowered[: -len(word)]
    return not before or before[-1].isspace() or before[-1] in _APOSTROPHES


def place_phrase(preposition: str, label: str) -> str:
    """``preposition`` then ``label``, with French contraction of *à* and *de*.

    ``Le`` and ``Les`` opening a commune's name fuse with *à*/*de* (au, aux, du, des);
    ``La`` and ``L'`` do not; *de* elides before a vowel (« d'Arles », « d'Y »), not before
    an *h*, whose aspiration differs from town to town.
    """
    preposition = preposition.strip()
    if not preposition or not label.strip():
        return label  # no place known: say nothing rather than a dangling « de »
    for word, article_le, article_les in (("à", "au", "aux"), ("de", "du", "des")):
        if not _ends_with_word(preposition, word):
            continue
        head = preposition[: -len(word)]
        if label.startswith("Le "):
            joined = f"{article_le} {label[3:]}"
        elif label.startswith("Les "):
            joined = f"{article_les} {label[4:]}"
        elif word == "de" and _starts_with_vowel(label):
            joined = f"d'{label}"
        else:
            joined = f"{word} {label}"
        if preposition[-len(word)].isupper():
            joined = _capitalise(joined)
        return head + joined
    return f"{preposition} {label}"


class PlaceName(str):
    """A commune's label that renders itself after a preposition given as format spec.

    ``str(place)`` is the plain label (``Le Port (974)``); ``f"{place:à}"`` is « au Port
    (974) ». Equal to, and hashed as, the plain label.
    """

    name: str
    suffix: str

    def __new__(cls, name: str, suffix: str = "") -> PlaceName:
        made = super().__new__(cls, name + suffix)
        made.name = name
        made.suffix = suffix
        return made

    @classmethod
    def parse(cls, label: str) -> PlaceName:
        """``"Le Port (974)"`` → name ``Le Port``, suffix `` (974)``."""
        if isinstance(label, PlaceName):
            return label
        found = _LABEL.match(label)
        assert found is not None  # the pattern matches any text
        return cls(found["name"], found["suffix"] or "")

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return (self.name, self.suffix)

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        return place_phrase(spec, str(self))


# ------------------------------------------------------------------------ categories

#: French words before a noun, by their masculine singular: (masculine, feminine,
#: masculine before a vowel, feminine before a vowel, masculine plural, feminine plural)
_FRENCH_AGREEMENT: dict[str, tuple[str, str, str, str, str, str]] = {
    "un": ("un", "une", "un", "une", "des", "des"),
    "aucun": ("aucun", "aucune", "aucun", "aucune", "aucuns", "aucunes"),
    "le": ("le", "la", "l'", "l'", "les", "les"),
    "du": ("du", "de la", "de l'", "de l'", "des", "des"),
    "au": ("au", "à la", "à l'", "à l'", "aux", "aux"),
    "de": ("de", "de", "d'", "d'", "de", "de"),
    "ce": ("ce", "cette", "cet", "cette", "ces", "ces"),
    "quel": ("quel", "quelle", "quel", "quelle", "quels", "quelles"),
    "nouveau": ("nouveau", "nouvelle", "nouvel", "nouvelle", "nouveaux", "nouvelles"),
    "autre": ("autre", "autre", "autre", "autre", "autres", "autres"),
    "chaque": ("chaque", "chaque", "chaque", "chaque", "chaque", "chaque"),
}
#: English words before a noun: "a" picks "an" by sound and vanishes before a plural
_ENGLISH_WORDS = frozenset({"a", "an", "no", "the", "any", "another", "each"})
#: the spec asking for the lower-cased name alone
LOWER = "-"


def _english_article(following: str, plural: bool) -> str:
    if plural:
        return ""
    lowered = following.lower()
    if lowered.startswith(_EN_SILENT_H):
        return "an"
    if _starts_with_vowel(lowered) and not lowered.startswith(_EN_CONSONANT_SOUND):
        return "an"
    return "a"


def _agree(word: str, following: str, gender: str, plural: bool, *, adjacent: bool = True) -> str:
    """One word of the spec, agreed with the noun and elided before what follows it;
    ``adjacent`` says it stands right before the noun (no adjective between)."""
    lowered = word.lower()
    if lowered in ("a", "an"):
        return _english_article(following, plural)
    forms = _FRENCH_AGREEMENT.get(lowered)
    if forms is None:
        return word  # "pas", "dans", English "no": unchanged
    feminine = gender == "f"
    if plural:
        plural_form = forms[5 if feminine else 4]
        # "de nouveaux pompiers": "des" before an adjective is "de"
        return "de" if plural_form == "des" and not adjacent else plural_form
    vowel = _starts_with_vowel(following, h_is_vowel=True)
    return forms[(3 if vowel else 1) if feminine else (2 if vowel else 0)]


def category_phrase(spec: str, name: str, gender: str = "m", *, plural: bool = False) -> str:
    """The words of ``spec`` agreed with the noun ``name``, then the lower-cased name."""
    spec = spec.strip()
    if not spec:
        return name
    noun = sentence_case(name)
    if spec == LOWER:
        return noun
    phrase = noun
    for position, word in enumerate(reversed(spec.split())):
        agreed = _agree(word, phrase, gender, plural, adjacent=position == 0)
        if not agreed:
            continue
        phrase = agreed + phrase if agreed.endswith(_APOSTROPHES) else f"{agreed} {phrase}"
    return _capitalise(phrase) if spec[0].isupper() else phrase


def looks_plural(name: str, lang: str = "fr") -> bool:
    """A guess for taxonomies that do not say: « Pompiers », « Services sociaux »,
    "Social services" are plural; « Crèche », « Tiers-lieu », "Public transport" are not.

    French looks at the first word (the head noun), English at the last word before "and"
    or "of" (its head noun)."""
    if not name.strip():
        return False
    if lang == "fr":
        head = name.split()[0].lower()
        return head.endswith(("s", "x")) and len(head) > 3
    words = re.split(r"\s+(?:and|of)\s+", name.strip(), maxsplit=1)[0].split()
    head = words[-1].lower()
    return head.endswith("s") and not head.endswith(("ss", "us", "is"))


class CategoryName(str):
    """A category's name that agrees with the words before it, given as format spec.

    ``str(category)`` is the label (``Crèche``); ``f"{category:aucun}"`` is « aucune
    crèche ». ``gender`` is the French name's (``f`` or ``m``); ``plural`` says the name is
    a plural (« Pompiers »). Equal to, and hashed as, the plain label.
    """

    gender: str
    plural: bool

    def __new__(cls, name: str, gender: str = "m", *, plural: bool = False) -> CategoryName:
        if gender not in ("f", "m"):
            raise ValueError(f"gender must be 'f' or 'm', not {gender!r}")
        made = super().__new__(cls, name)
        made.gender = gender
        made.plural = plural
        return made

    def __getnewargs_ex__(self) -> tuple[tuple[str, str], dict[str, Any]]:
        return ((str(self), self.gender), {"plural": self.plural})

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        return category_phrase(spec, str(self), self.gender, plural=self.plural)


# -------------------------------------------------------------------------- messages


def is_category_spec(spec: str) -> bool:
    """Whether ``spec`` is words before a noun (``aucun``, ``un nouveau``, ``-``), for a
    plain string given one; a spec ending with *de* is read as a place's preposition."""
    if spec.strip() == LOWER:
        return True
    words = spec.lower().split()
    if not words or words[-1] == "de":  # "près de" is a place's preposition
        return False
    return words[-1] in _FRENCH_AGREEMENT or words[-1] in _ENGLISH_WORDS


class MessageFormatter(string.Formatter):
    """``str.format`` whose plain-string values also understand the grammar specs."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        if type(value) is str and format_spec:
            try:
                return format(value, format_spec)
            except ValueError:
                if is_category_spec(format_spec):
                    return category_phrase(format_spec, value)
                return place_phrase(format_spec, value)
        return format(value, format_spec)


_FORMATTER = MessageFormatter()


def format_message(text: str, values: Mapping[str, Any]) -> str:
    """``text.format(**values)``, with grammar specs working on plain strings too."""
    return _FORMATTER.vformat(text, (), values)
