"""The bilingual category taxonomy: names, everyday synonyms and OpenStreetMap tags.

Data lives in ``directory/data/categories.yaml`` so that adding a synonym is a data
change, not a code change. Everything here is pure and in memory: the taxonomy is loaded
once (``get_taxonomy()``) and then only looked up, so the NLU can call it on every
message.

Matching works on folded text (``directory.text.fold``: no accents, no case, punctuation
as spaces) and ignores a final plural ``-s``/``-x`` on words longer than three letters,
so "Crèches", "creche" and "CRECHE" are one term. Short terms (under five letters:
"doc", "vet", "bus") only ever match exactly, because a typo-tolerant match on three
letters would fire on ordinary words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from directory.text import fold

KINDS = ("organization", "poi", "event")
#: grammatical gender of the French name, for "aucune crèche" / "aucun garage"
GENDERS = ("f", "m")
ORG_TYPES = ("association", "business", "public_service", "informal")

# OSM keys that say what a thing is in broad strokes. Any other key (sport=swimming,
# school:FR=college, childcare=childminder) refines it and weighs more when several
# categories share a primary tag.
_PRIMARY_OSM_KEYS = frozenset(
    {
        "amenity",
        "shop",
        "craft",
        "leisure",
        "office",
        "tourism",
        "healthcare",
        "natural",
        "highway",
        "route",
        "club",
        "public_transport",
    }
)
_WORD = re.compile(r"[0-9a-z]+")
_MAX_TERM_WORDS = 6
_FUZZY_MIN_LEN = 5
# Ordinary words close to a term by one or two letters; never read as a category.
_FUZZY_STOP = frozenset(
    {
        "cherche",
        "recherche",
        "chercher",
        "cherch",
        "jcherche",
        "pareil",
        "pareille",
        "billet",
        "marcher",
        "parce",
        "toute",
        "toutes",
        "comment",
        "quelle",
        "quelles",
        "quelqu",
        "merci",
        "bonjour",
        "besoin",
        "bonne",
        "jardin",
        "ecrire",
        "pourquoi",
        "encore",
        "autre",
        "autres",
        "there",
        "where",
        "which",
        "looking",
        "please",
        "thanks",
        "hello",
        "would",
        "could",
        "their",
        "about",
        "garde",
        "garder",
        "poser",
        "poster",
        "barre",
        "porte",
        "parle",
        "parler",
        "route",
        "match",
        "place",
        "home",
        "house",
        "maison",
        "ville",
        "village",
        "commune",
        "quartier",
        "centre",
        "center",
        "moins",
        "rayon",
        "environ",
        "around",
        "within",
        "miles",
        "metres",
        "bons",
        "bonnes",
        "coller",
        "college",
        "colle",
        "colis",
        "fleur",
        "ecolo",
        "chez",
        "salle",
        "depuis",
    }
)


#: at most this many remembered typo-tolerant lookups per taxonomy
_FUZZY_MEMO_SIZE = 20_000


def stem(word: str) -> str:
    """Drop one plural ``s``/``x`` from words longer than three letters ("garages")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"  # bakeries, nurseries, libraries
    if len(word) > 3 and word[-1] in "sx" and not word.endswith("ss"):
        return word[:-1]
    return word


def _key(folded: str) -> str:
    return " ".join(stem(w) for w in folded.split())


@dataclass(frozen=True, slots=True)
class Category:
    """One category of the directory. ``slug`` is what entries store."""

    slug: str
    name_fr: str
    name_en: str
    synonyms_fr: tuple[str, ...]
    synonyms_en: tuple[str, ...]
    osm_tags: tuple[str, ...]
    kind: str
    org_type: str | None
    #: grammatical gender of ``name_fr``: "f" (une crèche) or "m" (un garage)
    gender: str
    #: situations that call for this category ("evier bouche", "locked out"), folded
    needs_fr: tuple[str, ...] = ()
    needs_en: tuple[str, ...] = ()

    def name(self, lang: str) -> str:
        """Display name in ``lang`` (French for anything but English)."""
        return self.name_en if lang == "en" else self.name_fr


@dataclass(frozen=True, slots=True)
class _Term:
    category: Category
    folded: str  # the folded term as listed
    key: str  # folded + stemmed, what lookups compare
    lang: str  # fr | en


class Taxonomy:
    """All categories plus the indexes that make lookups cheap."""

    def __init__(self, categories: list[Category]) -> None:
        self._categories = list(categories)
        self._by_slug: dict[str, Category] = {}
        self._terms_by_slug: dict[str, tuple[str, ...]] = {}
        self._exact: dict[str, _Term] = {}
        self._conflicts: list[tuple[str, str, str]] = []
        self._langs: dict[str, set[str]] = {}
        # fuzzy buckets: (first letter, word count) -> terms, for typo-tolerant lookups
        self._buckets: dict[tuple[str, int], list[_Term]] = {}
        #: ``_fuzzy`` answers: the terms never change after construction, and the NLU asks
        #: about the same few words (n-grams of what people type) message after message
        self._fuzzy_memo: dict[tuple[str, int], tuple[_Term, float] | None] = {}
        for cat in self._categories:
            if cat.slug in self._by_slug:
                raise ValueError(f"duplicate category slug {cat.slug!r}")
            self._by_slug[cat.slug] = cat
            folded_terms: list[str] = []
            for lang, words in (
                ("fr", (cat.name_fr, cat.slug.replace("-", " "), *cat.synonyms_fr)),
                ("en", (cat.name_en, *cat.synonyms_en)),
            ):
                for word in words:
                    folded = fold(word)
                    if not folded:
                        continue
                    if folded not in folded_terms:
                        folded_terms.append(folded)
                    self._add_term(_Term(cat, folded, _key(folded), lang))
            self._terms_by_slug[cat.slug] = tuple(folded_terms)
        self._all_keys = list(self._exact)
        # need phrases as stemmed word tuples, longest first: "porte ferme plus" before "porte"
        needs = [
            (tuple(_key(fold(phrase)).split()), cat)
            for cat in self._categories
            for phrase in (*cat.needs_fr, *cat.needs_en)
            if fold(phrase)
        ]
        self._needs = sorted(needs, key=lambda n: -len(n[0]))
        self._need_words = frozenset(w for words, _ in self._needs for w in words)
        #: need phrases by their first word, longest first: a message is only checked
        #: against the phrases whose first word it contains (a parse runs this every time)
        self._needs_by_first: dict[str, list[tuple[int, tuple[str, ...], Category]]] = {}
        for order, (phrase, cat) in enumerate(self._needs):
            self._needs_by_first.setdefault(phrase[0], []).append((order, phrase, cat))
        self._osm: dict[tuple[str, str], list[tuple[Category, int]]] = {}
        for cat in self._categories:
            for tag in cat.osm_tags:
                key, _, value = tag.partition("=")
                weight = 1 if key in _PRIMARY_OSM_KEYS else 2
                self._osm.setdefault((key, value), []).append((cat, weight))

    def _add_term(self, term: _Term) -> None:
        self._langs.setdefault(term.key, set()).add(term.lang)
        existing = self._exact.get(term.key)
        if existing is not None:
            if existing.category.slug != term.category.slug:
                self._conflicts.append((term.key, existing.category.slug, term.category.slug))
            return
        self._exact[term.key] = term
        if len(term.key.replace(" ", "")) >= _FUZZY_MIN_LEN:
            bucket = (term.key[0], term.key.count(" ") + 1)
            self._buckets.setdefault(bucket, []).append(term)

    # --- container protocol -------------------------------------------------------------
    def get(self, slug: str) -> Category | None:
        return self._by_slug.get(slug)

    def __iter__(self) -> Iterator[Category]:
        return iter(self._categories)

    def __len__(self) -> int:
        return len(self._categories)

    @property
    def conflicts(self) -> tuple[tuple[str, str, str], ...]:
        """Terms listed under two categories (term, first slug, second slug): must be empty."""
        return tuple(self._conflicts)

    def terms(self, slug: str) -> tuple[str, ...]:
        """Folded names and synonyms of a category, for search to match entries against."""
        return self._terms_by_slug.get(slug, ())

    def term_langs(self, text: str) -> frozenset[str]:
        """Languages ("fr", "en") of the term ``text`` is, or is a typo of: a hint for the NLU."""
        key = _key(fold(text))
        if key not in self._langs and key:
            near = self._fuzzy(key, key.count(" ") + 1)
            key = near[0].key if near else key
        return frozenset(self._langs.get(key, ()))

    # --- matching -----------------------------------------------------------------------
    def lookup(self, text: str) -> Category | None:
        """The category whose name or synonym is exactly ``text`` (folded, plural-blind)."""
        term = self._exact.get(_key(fold(text)))
        return term.category if term else None

    def match(self, text: str, lang: str | None = None, limit: int = 3) -> list[tuple[Category, float]]:
        """Categories whose names or synonyms look like ``text``, best first, score 0..100.

        * 100: ``text`` is a term (folded, plural-blind);
        * 80..99: a term is mentioned inside ``text`` ("un garage auto", "asso de foot"),
          more for a mention that covers more of the text, less for a typo'd mention;
        * otherwise rapidfuzz's plain ratio between ``text`` and each term (a whole-string
          comparison: "truc" is not "food truck").
        Each category keeps its best term; ``lang`` breaks ties in favour of its terms.
        """
        folded = fold(text)
        key = _key(folded)
        if not key or limit <= 0:
            return []
        best: dict[str, tuple[float, float]] = {}

        def offer(slug: str, score: float, bonus: float) -> None:
            if slug not in best or (score, bonus) > best[slug]:
                best[slug] = (score, bonus)

        exact = self._exact.get(key)
        if exact is not None:
            offer(exact.category.slug, 100.0, 1.0)
        for cat, score, (start, end) in self.find_all_in_text(folded):
            coverage = (end - start) / max(len(folded), 1)
            offer(cat.slug, min(99.0, (80 + 19 * coverage) * score / 100), 0.0)
        for found, score, _ in process.extract(
            key, self._all_keys, scorer=fuzz.ratio, limit=limit * 6, score_cutoff=50
        ):
            term = self._exact[found]
            offer(term.category.slug, float(score), 0.5 if lang and term.lang == lang else 0.0)
        ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)
        return [(self._by_slug[slug], round(score, 1)) for slug, (score, _) in ranked[:limit]]

    def find_all_in_text(self, text: str) -> list[tuple[Category, float, tuple[int, int]]]:
        """Every category mentioned in a sentence, without overlaps, in text order.

        Longer terms win over shorter ones ("école de musique" over "école"), exact over
        typo-tolerant. Spans are character offsets in ``fold(text)``.
        """
        folded = fold(text)
        tokens = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(folded)]
        if not tokens:
            return []
        stems = [stem(tok) for tok, _, _ in tokens]
        found: list[tuple[int, float, int, int, Category]] = []  # (words, score, i, j, cat)
        for i in range(len(tokens)):
            for n in range(min(_MAX_TERM_WORDS, len(tokens) - i), 0, -1):
                term = self._exact.get(" ".join(stems[i : i + n]))
                if term is not None:
                    found.append((n, 100.0, i, i + n, term.category))
                    break
        covered = {k for _, _, i, j, _ in found for k in range(i, j)}
        for n in (2, 1):
            for i in range(len(tokens) - n + 1):
                if any(k in covered for k in range(i, i + n)):
                    continue
                if any(tokens[k][0] in _FUZZY_STOP or tokens[k][0].isdigit() for k in range(i, i + n)):
                    continue
                hit = self._fuzzy(" ".join(stems[i : i + n]), n)
                if hit is not None:
                    term, score = hit
                    found.append((n, score, i, i + n, term.category))
        # keep the best non-overlapping matches: more words first, then higher score
        found.sort(key=lambda f: (-f[0], -f[1], f[2]))
        taken: set[int] = set()
        result: list[tuple[int, Category, float, tuple[int, int]]] = []
        for _n, score, i, j, cat in found:
            if any(k in taken for k in range(i, j)):
                continue
            taken.update(range(i, j))
            result.append((i, cat, score, (tokens[i][1], tokens[j - 1][2])))
        result.sort(key=lambda r: r[0])
        return [(cat, score, span) for _, cat, score, span in result]

    def find_in_text(self, text: str) -> tuple[Category, float, tuple[int, int]] | None:
        """The best category mentioned inside a sentence, with its span in ``fold(text)``."""
        matches = self.find_all_in_text(text)
        if not matches:
            return None
        # the longest mention wins, then the surest; ties go to the first one
        return max(
            matches,
            key=lambda m: (m[1] >= 100, m[2][1] - m[2][0], m[1], -m[2][0]),
        )

    def find_need(self, text: str) -> tuple[Category, tuple[int, int]] | None:
        """The category a described situation calls for ("l'évier est bouché" -> plombier).

        A need phrase matches when all its words appear in the text in order, with at most
        three other words between its first and last ("j'ai perdu mes clés" is "perdu
        cle"). Returns the category and the word span (indexes in ``fold(text).split()``).
        The longest phrase wins, then the earliest.
        """
        words = [stem(w) for w in fold(text).split()]
        present = set(words)
        if present.isdisjoint(self._need_words):
            return None
        candidates = sorted(  # in the order of self._needs: longest first, then the file's
            (order, phrase, cat)
            for first in present & self._needs_by_first.keys()
            for order, phrase, cat in self._needs_by_first[first]
            if present.issuperset(phrase)
        )
        best: tuple[int, int, int, Category] | None = None  # (-length, start, end, cat)
        for _order, phrase, cat in candidates:
            if best is not None and len(phrase) < -best[0]:
                break
            span = _subsequence(words, phrase, slack=3)
            if span is not None and (best is None or (-len(phrase), span[0]) < best[:2]):
                best = (-len(phrase), span[0], span[1], cat)
        return (best[3], (best[1], best[2])) if best else None

    def _fuzzy(self, key: str, words: int) -> tuple[_Term, float] | None:
        """Typo-tolerant lookup of one phrase among terms of the same word count.

        A typo is one edit (insertion, deletion, substitution or swap of two neighbours)
        in words up to seven letters, two in longer ones, and more than 80% alike:
        "pharmacei", "plonbier", "veterinere" match; "garder" (garderie), "office"
        (officine) and "reste" (resto) do not. The first letter must be right.
        """
        memo_key = (key, words)
        if memo_key in self._fuzzy_memo:
            return self._fuzzy_memo[memo_key]
        found = self._fuzzy_uncached(key, words)
        if len(self._fuzzy_memo) >= _FUZZY_MEMO_SIZE:
            self._fuzzy_memo.clear()  # crude bound: a flood of odd words cannot grow it
        self._fuzzy_memo[memo_key] = found
        return found

    def _fuzzy_uncached(self, key: str, words: int) -> tuple[_Term, float] | None:
        if len(key.replace(" ", "")) < _FUZZY_MIN_LEN:
            return None
        bucket = self._buckets.get((key[0], words))
        if not bucket:
            return None
        allowed = 1 if len(key) <= 7 else 2
        choices = [t.key for t in bucket if abs(len(t.key) - len(key)) <= allowed]
        if not choices:
            return None
        hit = process.extractOne(key, choices, scorer=OSA.distance, score_cutoff=allowed)
        if hit is None:
            return None
        score = float(fuzz.ratio(key, hit[0]))
        if score <= 80:  # one changed letter in five is another word ("reste", "resto")
            return None
        return self._exact[hit[0]], score

    # --- OpenStreetMap ------------------------------------------------------------------
    def from_osm_tags(self, tags: Mapping[str, str]) -> Category | None:
        """The category an OSM feature belongs to, or None.

        Every category tag present on the feature adds its weight (refining tags weigh
        2, primary ones 1); the heaviest category wins, ties to the earlier one in the
        file. Multi-valued tags ("shop=bakery;pastry") count each value.
        """
        scores: dict[str, int] = {}
        for key, raw in tags.items():
            if not isinstance(raw, str):
                continue
            for value in raw.split(";"):
                for cat, weight in self._osm.get((key.strip(), value.strip()), ()):
                    scores[cat.slug] = scores.get(cat.slug, 0) + weight
        if not scores:
            return None
        order = {cat.slug: i for i, cat in enumerate(self._categories)}
        slug = max(scores, key=lambda s: (scores[s], -order[s]))
        return self._by_slug[slug]


def _subsequence(words: list[str], phrase: tuple[str, ...], slack: int) -> tuple[int, int] | None:
    """First span of ``words`` holding ``phrase`` in order, at most ``slack`` extra words."""
    for start, word in enumerate(words):
        if word != phrase[0]:
            continue
        k, end = 1, start + 1
        limit = min(len(words), start + len(phrase) + slack)
        while k < len(phrase) and end < limit:
            if words[end] == phrase[k]:
                k += 1
            end += 1
        if k == len(phrase):
            return start, end
    return None


def _category(raw: Mapping[str, Any]) -> Category:
    """Build one category from its YAML mapping, refusing incomplete items."""
    slug = str(raw.get("slug") or "")
    # an event category has no OpenStreetMap tag (an empty list, said explicitly)
    event = raw.get("kind") == "event" and raw.get("osm") == []
    missing = [k for k in ("slug", "fr", "en", "gender", "kind", "osm")
               if not raw.get(k) and not (k == "osm" and event)]
    if missing:
        raise ValueError(f"category {slug or raw!r}: missing {', '.join(missing)}")
    kind = str(raw["kind"])
    org_type = raw.get("org_type")
    if kind not in KINDS:
        raise ValueError(f"category {slug}: unknown kind {kind!r}")
    if org_type is not None and org_type not in ORG_TYPES:
        raise ValueError(f"category {slug}: unknown org_type {org_type!r}")
    gender = str(raw["gender"])
    if gender not in GENDERS:
        raise ValueError(f"category {slug}: gender must be f or m, not {gender!r}")
    return Category(
        slug=slug,
        name_fr=str(raw["fr"]),
        name_en=str(raw["en"]),
        synonyms_fr=tuple(str(s) for s in raw.get("syn_fr") or ()),
        synonyms_en=tuple(str(s) for s in raw.get("syn_en") or ()),
        osm_tags=tuple(str(t) for t in raw["osm"]),
        kind=kind,
        org_type=str(org_type) if org_type is not None else None,
        gender=gender,
        needs_fr=tuple(str(s) for s in raw.get("needs_fr") or ()),
        needs_en=tuple(str(s) for s in raw.get("needs_en") or ()),
    )


def load_taxonomy(source: str) -> Taxonomy:
    """Parse taxonomy YAML text (used by tests with small inline taxonomies too)."""
    # libyaml's loader when PyYAML has it: the same data in 0.07 s instead of 0.85 s, paid
    # by every start-up (issue 15: start-up under 2 s)
    data = yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(data, list):
        raise ValueError("the taxonomy must be a YAML list of categories")
    return Taxonomy([_category(item) for item in data])


@cache
def get_taxonomy() -> Taxonomy:
    """The shipped taxonomy, loaded once per process."""
    text = resources.files("directory").joinpath("data", "categories.yaml").read_text("utf-8")
    return load_taxonomy(text)
