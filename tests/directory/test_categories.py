"""The category taxonomy: completeness, unambiguous synonyms, everyday words, OSM tags."""

from __future__ import annotations

import pytest

from directory.categories import Category, Taxonomy, get_taxonomy, load_taxonomy, stem
from directory.models import EntryKind, OrgType
from directory.text import fold

REQUIRED = [
    "creche",
    "assistante-maternelle",
    "ecole",
    "garage",
    "ecole-musique",
    "theatre",
    "jardin-partage",
    "medecin",
    "pharmacie",
    "boulangerie",
    "bibliotheque",
    "club-sportif",
    "veterinaire",
    "plombier",
    "electricien",
    "epicerie",
    "marche",
    "restaurant",
    "coiffeur",
    "mairie",
]


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return get_taxonomy()


def test_required_slugs_and_size(tax: Taxonomy) -> None:
    missing = [slug for slug in REQUIRED if tax.get(slug) is None]
    assert not missing
    assert len(tax) >= 40
    assert len({c.slug for c in tax}) == len(tax)
    assert get_taxonomy() is tax  # cached


def test_every_category_is_complete(tax: Taxonomy) -> None:
    kinds = {k.value for k in EntryKind}
    org_types = {t.value for t in OrgType}
    for cat in tax:
        assert isinstance(cat, Category)
        assert cat.name_fr.strip() and cat.name_en.strip(), cat.slug
        assert cat.name("fr") == cat.name_fr and cat.name("en") == cat.name_en
        assert cat.synonyms_fr and cat.synonyms_en, cat.slug
        assert cat.osm_tags or cat.kind == "event", cat.slug  # no OSM tag for a one-off event
        for tag in cat.osm_tags:
            key, sep, value = tag.partition("=")
            assert sep and key and value and " " not in tag, (cat.slug, tag)
        assert cat.kind in kinds, cat.slug
        assert cat.org_type is None or cat.org_type in org_types, cat.slug
        if cat.kind == "poi":
            assert cat.org_type is None, cat.slug
        assert len(cat.slug) <= 64 and fold(cat.slug).replace(" ", "-") == cat.slug


def test_every_category_has_a_gender(tax: Taxonomy) -> None:
    assert all(cat.gender in ("f", "m") for cat in tax)
    genders = {cat.slug: cat.gender for cat in tax}
    assert genders["creche"] == "f" and genders["pharmacie"] == "f" and genders["ecole"] == "f"
    assert genders["garage"] == "m" and genders["medecin"] == "m" and genders["cafe"] == "m"


def test_no_synonym_belongs_to_two_categories(tax: Taxonomy) -> None:
    assert tax.conflicts == ()
    owner: dict[str, str] = {}
    for cat in tax:
        for term in tax.terms(cat.slug):
            key = " ".join(stem(w) for w in term.split())
            assert owner.setdefault(key, cat.slug) == cat.slug, (term, owner[key], cat.slug)


def test_conflicting_taxonomy_is_reported() -> None:
    bad = load_taxonomy(
        """
- {slug: a, fr: Aa, en: Aa, gender: m, kind: poi, osm: [x=y], syn_fr: [truc], syn_en: [thing]}
- {slug: b, fr: Bb, en: Bb, gender: f, kind: poi, osm: [x=z], syn_fr: [Trucs], syn_en: [other]}
"""
    )
    assert bad.conflicts == (("truc", "a", "b"),)


@pytest.mark.parametrize(
    "source, message",
    [
        ("- {slug: a, fr: A, en: A, gender: f, kind: poi}", "missing osm"),
        ("- {slug: a, fr: A, en: A, kind: poi, osm: [x=y]}", "missing gender"),
        ("- {slug: a, fr: A, en: A, gender: n, kind: poi, osm: [x=y]}", "gender must be f or m"),
        ("- {slug: a, fr: A, en: A, gender: f, kind: shop, osm: [x=y]}", "unknown kind"),
        ("- {slug: a, fr: A, en: A, gender: f, kind: poi, org_type: club, osm: [x=y]}", "unknown org_type"),
        ("{slug: a}", "YAML list"),
        (
            "- {slug: a, fr: A, en: A, gender: f, kind: poi, osm: [x=y]}\n"
            "- {slug: a, fr: B, en: B, gender: m, kind: poi, osm: [x=z]}",
            "duplicate",
        ),
    ],
)
def test_bad_taxonomy_is_refused(source: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_taxonomy(source)


@pytest.mark.parametrize(
    "word, slug",
    [
        ("nounou", "assistante-maternelle"),
        ("garagiste", "garage"),
        ("mécano", "garage"),
        ("MECANO", "garage"),
        ("daycare", "creche"),
        ("Crèches", "creche"),
        ("mechanic", "garage"),
        ("toubib", "medecin"),
        ("kiné", "kine"),
        ("véto", "veterinaire"),
        ("vet", "veterinaire"),
        ("boulang", "boulangerie"),
        ("doc", "medecin"),
        ("halte-garderie", "creche"),
        ("médiathèque", "bibliotheque"),
        ("library", "bibliotheque"),
        ("librairie", "librairie"),
        ("jardin partagé", "jardin-partage"),
        ("community garden", "jardin-partage"),
        ("troupe de théâtre", "theatre"),
        ("hôtel de ville", "mairie"),
        ("city hall", "mairie"),
        ("resto", "restaurant"),
        ("plumber", "plombier"),
        ("électricien", "electricien"),
        ("superette", "epicerie"),
        ("marché forain", "marche"),
        ("barber", "coiffeur"),
        ("club de foot", "club-sportif"),
        ("conservatoire", "ecole-musique"),
        # typos
        ("pharmacei", "pharmacie"),
        ("veterinere", "veterinaire"),
        ("boulengerie", "boulangerie"),
        ("electricienn", "electricien"),
    ],
)
def test_match_everyday_words(tax: Taxonomy, word: str, slug: str) -> None:
    ranked = tax.match(word)
    assert ranked, word
    assert ranked[0][0].slug == slug
    assert 0 <= ranked[0][1] <= 100
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    "text, slug",
    [
        ("une troupe", "theatre"),
        ("un garage auto", "garage"),
        ("cours de piano pour enfants", "ecole-musique"),
        ("salon de coiffure afro", "coiffeur"),
        ("magasin de vélos", "velo"),
    ],
)
def test_match_phrases(tax: Taxonomy, text: str, slug: str) -> None:
    ranked = tax.match(text)
    assert ranked[0][0].slug == slug
    assert ranked[0][1] >= 80


@pytest.mark.parametrize("text", ["truc", "azerty", "bonjour"])
def test_match_nonsense_scores_low(tax: Taxonomy, text: str) -> None:
    assert all(score < 80 for _, score in tax.match(text, limit=5))


def test_match_limits_and_empty(tax: Taxonomy) -> None:
    assert tax.match("") == []
    assert tax.match("   !!! ") == []
    assert len(tax.match("ecole", limit=5)) == 5
    assert tax.match("ecole", limit=0) == []
    assert tax.match("garage")[0] == (tax.get("garage"), 100.0)


@pytest.mark.parametrize(
    "sentence, slug, mention",
    [
        ("je cherche une crèche près de chez moi", "creche", "creche"),
        ("g cherche 1 garagiste st paul", "garage", "garagiste"),
        ("ya 1 bon medecin o port?", "medecin", "medecin"),
        ("je fais partie de la troupe de théâtre du Port", "theatre", "troupe de theatre"),
        ("une école de musique à Saint-Denis ?", "ecole-musique", "ecole de musique"),
        ("any good bakeries in Saint-Pierre?", "boulangerie", "bakeries"),
        ("jcherche 1 pharmacei ouverte", "pharmacie", "pharmacei"),
        ("looking for a daycare near me", "creche", "daycare"),
    ],
)
def test_find_in_text(tax: Taxonomy, sentence: str, slug: str, mention: str) -> None:
    found = tax.find_in_text(sentence)
    assert found is not None
    cat, score, (start, end) = found
    assert cat.slug == slug
    assert fold(sentence)[start:end] == mention
    assert score >= 83


@pytest.mark.parametrize(
    "sentence",
    [
        "bonjour",
        "je cherche quelque chose",
        "parce que",
        "",
        "🙂🙂",
        "merci beaucoup",
        "je reste ici",  # not a misspelt "resto"
        "il faut garder le chien",  # not "garderie"
        "tailler la haie",  # not "tiler"
        "my office",  # not "officine"
    ],
)
def test_find_in_text_ignores_ordinary_words(tax: Taxonomy, sentence: str) -> None:
    assert tax.find_in_text(sentence) is None


def test_find_all_in_text_keeps_order_without_overlap(tax: Taxonomy) -> None:
    found = tax.find_all_in_text("une boulangerie et une pharmacie et une école de musique")
    assert [c.slug for c, _, _ in found] == ["boulangerie", "pharmacie", "ecole-musique"]


@pytest.mark.parametrize(
    "tags, slug",
    [
        ({"amenity": "pharmacy"}, "pharmacie"),
        ({"shop": "car_repair"}, "garage"),
        ({"amenity": "kindergarten"}, "creche"),
        ({"amenity": "childcare"}, "creche"),
        ({"amenity": "kindergarten", "kindergarten:FR": "creche"}, "creche"),
        ({"amenity": "kindergarten", "school:FR": "maternelle"}, "ecole"),
        ({"amenity": "school", "school:FR": "college"}, "college"),
        ({"amenity": "childcare", "childcare": "childminder"}, "assistante-maternelle"),
        ({"leisure": "sports_centre", "sport": "swimming"}, "piscine"),
        ({"leisure": "sports_centre"}, "club-sportif"),
        ({"shop": "bakery;pastry", "name": "Chez Paul"}, "boulangerie"),
        ({"amenity": "townhall"}, "mairie"),
        ({"craft": "plumber"}, "plombier"),
        ({"amenity": "marketplace"}, "marche"),
        ({"healthcare": "doctor"}, "medecin"),
    ],
)
def test_from_osm_tags(tax: Taxonomy, tags: dict[str, str], slug: str) -> None:
    cat = tax.from_osm_tags(tags)
    assert cat is not None and cat.slug == slug


def test_from_osm_tags_unknown(tax: Taxonomy) -> None:
    assert tax.from_osm_tags({}) is None
    assert tax.from_osm_tags({"building": "yes", "name": "X"}) is None


def test_every_osm_tag_leads_back_to_a_category(tax: Taxonomy) -> None:
    for cat in tax:
        if not cat.osm_tags:
            continue  # an event category (checked complete above)
        key, _, value = cat.osm_tags[0].partition("=")
        assert tax.from_osm_tags({key: value}) is not None


def test_terms_are_folded(tax: Taxonomy) -> None:
    terms = tax.terms("creche")
    assert "creche" in terms and "daycare" in terms and "halte garderie" in terms
    assert all(t == fold(t) for t in terms)
    assert tax.terms("nope") == ()


@pytest.mark.parametrize(
    "text, slug",
    [
        ("l'évier est bouché", "plombier"),
        ("fuite d'eau sous le lavabo", "plombier"),
        ("my sink is blocked", "plombier"),
        ("mon chien boite", "veterinaire"),
        ("je suis enfermé dehors", "serrurier"),
        ("j'ai perdu mes clés", "serrurier"),
        ("I'm locked out", "serrurier"),
    ],
)
def test_needs_name_their_category(tax: Taxonomy, text: str, slug: str) -> None:
    found = tax.find_need(text)
    assert found is not None and found[0].slug == slug


def test_needs_are_not_read_in_ordinary_words(tax: Taxonomy) -> None:
    assert tax.find_need("bonjour, une crèche à Saint-Paul ?") is None
    # words of a need too far apart are no need
    assert tax.find_need("mon chien et le chat de la voisine qui boite") is None


def test_most_categories_list_needs(tax: Taxonomy) -> None:
    with_needs = [c for c in tax if len(c.needs_fr) >= 3 and len(c.needs_en) >= 3]
    assert len(with_needs) >= 30
