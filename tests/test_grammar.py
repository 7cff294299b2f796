"""French around commune and category names: contraction (« au Port », « des Avirons »),
elision (« d'Arles », « l'école ») and agreement (« aucune crèche »), in bot.grammar and in
every catalog sentence that names a commune or a category."""

from __future__ import annotations

import copy
import json
import pickle
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.grammar import (
    CategoryName,
    PlaceName,
    category_phrase,
    format_message,
    is_category_spec,
    looks_plural,
    place_phrase,
    sentence_case,
)
from bot.i18n import LANGUAGES, translator
from dialogs.common import category_name, commune_label

LOCALES = Path(__file__).resolve().parent.parent / "locales"

# ------------------------------------------------------------------------------ places

#: real names of the gazetteer, each with « à », « de », « près de » and « autour de »
PLACES = [
    ("97407", "Le Port (974)", "au Port (974)", "du Port (974)"),
    ("97401", "Les Avirons (974)", "aux Avirons (974)", "des Avirons (974)"),
    ("97408", "La Possession (974)", "à La Possession (974)", "de La Possession (974)"),
    ("97404", "L'Étang-Salé (974)", "à L'Étang-Salé (974)", "de L'Étang-Salé (974)"),
    ("97422", "Le Tampon (974)", "au Tampon (974)", "du Tampon (974)"),
    ("97423", "Les Trois-Bassins (974)", "aux Trois-Bassins (974)", "des Trois-Bassins (974)"),
    ("97415", "Saint-Paul (974)", "à Saint-Paul (974)", "de Saint-Paul (974)"),
    ("97403", "Entre-Deux (974)", "à Entre-Deux (974)", "d'Entre-Deux (974)"),
    ("13004", "Arles (13)", "à Arles (13)", "d'Arles (13)"),
    ("89162", "Évry (89)", "à Évry (89)", "d'Évry (89)"),
    ("76351", "Le Havre (76)", "au Havre (76)", "du Havre (76)"),
    ("97101", "Les Abymes (971)", "aux Abymes (971)", "des Abymes (971)"),
    ("97213", "Le Lamentin (972)", "au Lamentin (972)", "du Lamentin (972)"),
    ("80829", "Y (80)", "à Y (80)", "d'Y (80)"),
    ("76255", "Eu (76)", "à Eu (76)", "d'Eu (76)"),
    ("78502", "Le Port-Marly (78)", "au Port-Marly (78)", "du Port-Marly (78)"),
    ("01001", "L'Abergement-Clémenciat (01)", "à L'Abergement-Clémenciat (01)",
     "de L'Abergement-Clémenciat (01)"),
]


@pytest.mark.parametrize(("insee", "label", "to", "of"), PLACES)
def test_a_commune_after_a_and_de(insee: str, label: str, to: str, of: str) -> None:
    place = commune_label(insee)
    assert isinstance(place, PlaceName)
    assert place == label and str(place) == label and f"{place}" == label
    assert f"{place:à}" == to
    assert f"{place:de}" == of
    assert f"{place:près de}" == "près " + of
    assert f"{place:autour de}" == "autour " + of
    assert f"{place:jusqu'à}" == "jusqu'" + to
    template = "{c:à} / {c:près de}"  # what Translator does with a catalog string
    assert template.format(c=place) == f"{to} / près {of}"


@pytest.mark.parametrize(("insee", "label", "to", "of"), PLACES)
def test_a_plain_label_renders_the_same_through_the_catalog_formatter(
    insee: str, label: str, to: str, of: str
) -> None:
    assert format_message("{c:à}|{c:autour de}|{c}", {"c": label}) == f"{to}|autour {of}|{label}"
    assert PlaceName.parse(label) == label and f"{PlaceName.parse(label):à}" == to


def test_a_place_without_a_known_commune_still_renders() -> None:
    assert commune_label("99999") == "99999" and f"{commune_label('99999'):à}" == "à 99999"
    assert commune_label(None) == "" and f"{commune_label(None):de}" == ""


def test_other_prepositions_and_english_only_prefix() -> None:
    port = PlaceName("Le Port", " (974)")
    assert f"{port:in}" == "in Le Port (974)"
    assert f"{port:near}" == "near Le Port (974)"
    assert f"{port:around}" == "around Le Port (974)"
    assert f"{port:dans}" == "dans Le Port (974)"
    assert f"{port:pour}" == "pour Le Port (974)"
    # words that merely end with the letters of « de » or « à » are not those prepositions
    assert place_phrase("aide", "Le Port") == "aide Le Port"
    assert place_phrase("voilà", "Le Port") == "voilà Le Port"


def test_a_capital_in_the_spec_starts_a_sentence() -> None:
    port, avirons = PlaceName("Le Port", " (974)"), PlaceName("Les Avirons", " (974)")
    assert f"{port:À}" == "Au Port (974)" and f"{port:De}" == "Du Port (974)"
    assert f"{avirons:À}" == "Aux Avirons (974)"
    assert f"{PlaceName('Saint-Paul'):À}" == "À Saint-Paul"
    assert f"{port:Près de}" == "Près du Port (974)"


def test_only_the_article_word_contracts() -> None:
    assert place_phrase("à", "Lespignan") == "à Lespignan"  # "Les" without a space
    assert place_phrase("de", "Le") == "de Le"  # a name that is only an article
    assert place_phrase("de", "Hirson") == "de Hirson"  # no elision before h: it varies
    assert place_phrase("à", "La Plaine-des-Palmistes") == "à La Plaine-des-Palmistes"


def test_place_names_survive_copy_pickle_and_json() -> None:
    port = PlaceName("Le Port", " (974)")
    for twin in (pickle.loads(pickle.dumps(port)), copy.copy(port), copy.deepcopy(port)):
        assert twin == port and twin.name == "Le Port" and twin.suffix == " (974)"
        assert f"{twin:à}" == "au Port (974)"
    assert json.dumps({"c": port}) == '{"c": "Le Port (974)"}'
    assert {port: 1}["Le Port (974)"] == 1


# -------------------------------------------------------------------------- categories

#: (slug, « aucun », « un », « le », « du », « pas de »)
CATEGORIES = [
    ("creche", "aucune crèche", "une crèche", "la crèche", "de la crèche", "pas de crèche"),
    ("garage", "aucun garage", "un garage", "le garage", "du garage", "pas de garage"),
    ("ecole", "aucune école", "une école", "l'école", "de l'école", "pas d'école"),
    ("hopital", "aucun hôpital", "un hôpital", "l'hôpital", "de l'hôpital", "pas d'hôpital"),
    ("atelier-art", "aucun atelier d'art", "un atelier d'art", "l'atelier d'art",
     "de l'atelier d'art", "pas d'atelier d'art"),
    ("association", "aucune association", "une association", "l'association",
     "de l'association", "pas d'association"),
    ("plombier", "aucun plombier", "un plombier", "le plombier", "du plombier",
     "pas de plombier"),
    ("boulangerie", "aucune boulangerie", "une boulangerie", "la boulangerie",
     "de la boulangerie", "pas de boulangerie"),
]


@pytest.mark.parametrize(("slug", "none", "one", "the", "of_the", "no"), CATEGORIES)
def test_a_category_agrees_with_its_gender(
    slug: str, none: str, one: str, the: str, of_the: str, no: str
) -> None:
    category = category_name(slug, "fr")
    assert isinstance(category, CategoryName)
    assert f"{category}" == str(category) and category[0].isupper()
    assert f"{category:aucun}" == none
    assert f"{category:Aucun}" == none[0].upper() + none[1:]
    assert f"{category:un}" == one
    assert f"{category:le}" == the
    assert f"{category:du}" == of_the
    assert f"{category:pas de}" == no
    assert f"{category:-}" == none.split(" ", 1)[1]


def test_the_taxonomy_genders_reach_the_sentences() -> None:
    assert category_name("creche", "fr").gender == "f"
    assert category_name("garage", "fr").gender == "m"
    assert category_name("unknown-slug", "fr") == "unknown-slug"
    assert f"{category_name('unknown-slug', 'fr'):un}" == "un unknown-slug"
    assert category_name(None, "fr") == ""


def test_more_determiners_and_adjectives() -> None:
    creche, garage = CategoryName("Crèche", "f"), CategoryName("Garage", "m")
    hopital, ecole = CategoryName("Hôpital", "m"), CategoryName("École", "f")
    assert f"{creche:un nouveau}" == "une nouvelle crèche"
    assert f"{garage:un nouveau}" == "un nouveau garage"
    assert f"{hopital:un nouveau}" == "un nouvel hôpital"
    assert f"{hopital:le nouveau}" == "le nouvel hôpital"  # « le » sees « nouvel », no elision
    assert f"{hopital:ce}" == "cet hôpital" and f"{creche:ce}" == "cette crèche"
    assert f"{garage:ce}" == "ce garage" and f"{ecole:ce}" == "cette école"
    assert f"{ecole:au}" == "à l'école" and f"{garage:au}" == "au garage"
    assert f"{creche:au}" == "à la crèche"
    assert f"{creche:quel}" == "quelle crèche" and f"{creche:chaque}" == "chaque crèche"
    assert f"{creche:dans}" == "dans crèche"  # a word the table does not know is kept


def test_plural_names() -> None:
    pompiers = CategoryName("Pompiers", "m", plural=True)
    sociaux = CategoryName("Services sociaux", "m", plural=True)
    assert f"{pompiers:un}" == "des pompiers" and f"{pompiers:le}" == "les pompiers"
    assert f"{pompiers:un nouveau}" == "de nouveaux pompiers"
    assert f"{pompiers:aucun}" == "aucuns pompiers"
    assert f"{sociaux:du}" == "des services sociaux" and f"{sociaux:au}" == "aux services sociaux"
    assert f"{sociaux:pas de}" == "pas de services sociaux"
    assert looks_plural("Pompiers") and looks_plural("Services sociaux")
    assert looks_plural("Transports en commun")
    assert not looks_plural("Crèche") and not looks_plural("Tiers-lieu")
    assert not looks_plural("Police et gendarmerie") and not looks_plural("Bus")
    assert looks_plural("Social services", "en") and not looks_plural("Public transport", "en")
    assert not looks_plural("Lawyer and notary", "en") and not looks_plural("Fitness", "en")
    assert category_name("creche", "fr").plural is False


def test_english_articles() -> None:
    assert f"{category_name('creche', 'en'):a}" == "a daycare"
    assert f"{category_name('association', 'en'):a}" == "an association"
    assert f"{category_name('association', 'en'):no}" == "no association"
    assert f"{category_name('creche', 'en'):no}" == "no daycare"
    assert f"{category_name('creche', 'en'):A}" == "A daycare"
    assert f"{CategoryName('University'):a}" == "a university"
    assert f"{CategoryName('Hour club'):a}" == "an hour club"
    assert f"{CategoryName('Social services', plural=True):a}" == "social services"
    assert f"{CategoryName('Social services', plural=True):the}" == "the social services"


def test_case_inside_a_sentence() -> None:
    assert sentence_case("Crèche") == "crèche" and sentence_case("École de musique") == "école de musique"
    assert sentence_case("EHPAD") == "EHPAD" and sentence_case("CAF du Port") == "CAF du Port"
    assert f"{CategoryName('EHPAD'):un}" == "un EHPAD"
    assert category_phrase("", "Crèche", "f") == "Crèche"  # no spec: the label as it is


def test_category_names_survive_copy_and_pickle_and_reject_a_bad_gender() -> None:
    creche = CategoryName("Crèche", "f")
    for twin in (pickle.loads(pickle.dumps(creche)), copy.copy(creche), copy.deepcopy(creche)):
        assert twin == "Crèche" and f"{twin:aucun}" == "aucune crèche"
    with pytest.raises(ValueError):
        CategoryName("Crèche", "x")


def test_the_catalog_formatter_keeps_standard_specs_and_reads_grammar_ones() -> None:
    values = {"n": 3, "s": "abc", "c": "Le Port (974)", "k": "Garage", "x": 1.5}
    assert format_message("{n:>3}|{s:s}|{s:^5}|{x:.2f}|{{c}}", values) == "  3|abc| abc |1.50|{c}"
    assert format_message("{c:à}|{k:aucun}|{k:-}", values) == "au Port (974)|aucun garage|garage"
    assert is_category_spec("aucun") and is_category_spec("un nouveau") and is_category_spec("-")
    assert is_category_spec("no") and not is_category_spec("près de")
    assert not is_category_spec("à") and not is_category_spec("de") and not is_category_spec("in")
    with pytest.raises(KeyError):
        format_message("{missing:à}", {})


# ----------------------------------------------------------------------------- catalogs


def _messages(lang: str) -> list[tuple[str, str, str]]:
    """(file, key, text) for every string of every .po file of ``lang``."""
    found: list[tuple[str, str, str]] = []
    for path in sorted((LOCALES / lang / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as fh:
            for message in read_po(fh, locale=lang):
                if not message.id:
                    continue
                key = message.id if isinstance(message.id, str) else message.id[0]
                strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
                found += [(path.name, key, text) for text in strings if text]
    return found


#: catalog sentences whose ``{name}`` is a commune's name (given by their callers as a str)
PLACE_NAMED = {"matrix.room_topic", "gazetteer.cli.locality"}
_FIELD = re.compile(r"(?<!\{)\{(\w+)(?::([^{}]*))?\}")
_BARE_PREPOSITION = re.compile(
    r"(?:\b(?:à|au|aux|de|du|des|en)|d['’])\s*\{(\w+)(?::[^{}]*)?\}$", re.IGNORECASE
)


def _is_place(key: str, field: str) -> bool:
    return "commune" in field or (key in PLACE_NAMED and field == "name")


def test_no_catalog_puts_a_bare_french_preposition_before_a_commune() -> None:
    offenders = []
    for lang in LANGUAGES:
        for area, key, text in _messages(lang):
            for field in _FIELD.finditer(text):
                before = text[: field.end()]
                bare = _BARE_PREPOSITION.search(before)
                if bare and _is_place(key, field.group(1)):
                    offenders.append(f"{lang}/{area} {key}: …{before[-30:]}")
    assert offenders == []


def test_the_scan_catches_what_it_should() -> None:
    for bad in ("relié à {commune}", "près de {commune}", "habitants d'{commune}",
                "projet de {commune:de}", "Au {commune_name}", "en {commune}"):
        assert _BARE_PREPOSITION.search(bad), bad
    for good in ("relié {commune:à}", "{commune:près de}", "Votre commune : {commune}."):
        assert not _BARE_PREPOSITION.search(good), good


def _sample(key: str, field: str, place: str) -> object:
    if _is_place(key, field):
        return PlaceName.parse(place)
    if field == "category":
        return CategoryName("Crèche", "f")
    return 1 if field == "count" else "X"


@pytest.mark.parametrize("place", ["Le Port (974)", "Les Avirons (974)"])
@pytest.mark.parametrize("wrap", [True, False], ids=["wrapped", "plain-str"])
def test_every_catalog_sentence_naming_a_commune_contracts(place: str, wrap: bool) -> None:
    rendered = 0
    for lang in LANGUAGES:
        for _area, key, text in _messages(lang):
            fields = {m.group(1): m.group(2) for m in _FIELD.finditer(text)}
            if not any(_is_place(key, f) for f in fields):
                continue
            values = {f: _sample(key, f, place) for f in fields}
            if not wrap:
                values = {f: str(v) if isinstance(v, str) else v for f, v in values.items()}
            out = format_message(text, values)
            rendered += 1
            for wrong in ("à Le ", "de Le ", "à Les ", "de Les ", "à le ", "de les "):
                assert wrong not in out, f"{lang}:{key}: {out}"
            assert place.split(" ", 1)[1] in out, f"{lang}:{key} lost the name: {out}"
    assert rendered >= 20


def test_every_catalog_sentence_naming_a_category_agrees() -> None:
    rendered = 0
    for lang in LANGUAGES:
        for _area, key, text in _messages(lang):
            fields = {m.group(1): m.group(2) for m in _FIELD.finditer(text)}
            if "category" not in fields:
                continue
            values = {f: _sample(key, f, "Le Port (974)") for f in fields}
            out = format_message(text, values)
            rendered += 1
            assert "aucun crèche" not in out and "un crèche" not in out, f"{lang}:{key}: {out}"
            if fields["category"]:  # inside a sentence: lower case
                assert "Crèche" not in out or out.startswith("Crèche"), f"{lang}:{key}: {out}"
    assert rendered >= 3


def test_the_no_result_answer_says_what_and_where() -> None:
    fr, en = translator("fr"), translator("en")
    port = PlaceName("Le Port", " (974)")
    found = fr("ask.none.found.category", category=CategoryName("Crèche", "f"))
    where = fr("ask.none.where.commune", commune=port)
    assert fr("ask.none", found=found, radius=fr.distance(10), where=where) == (
        "Je n'ai trouvé aucune crèche dans un rayon de 10 km autour du Port (974)."
    )
    found = en("ask.none.found.category", category=category_name("creche", "en"))
    where = en("ask.none.where.commune", commune=port)
    assert en("ask.none_widened", found=found, radius=en.distance(10), wider=en.distance(30),
              where=where) == "I found no daycare within 10 km around Le Port (974), nor even within 30 km."


def test_announce_room_posts_contract() -> None:
    fr = translator("fr")
    avirons = PlaceName("Les Avirons", " (974)")
    assert fr("announce.room.new", commune=avirons) == "Nouveau projet aux Avirons (974) :"
    assert fr("announce.room.update", commune=avirons) == "Du nouveau pour un projet des Avirons (974) :"
    assert fr("matrix.room_topic", name="Le Port", departement="974").startswith(
        "Le salon des habitants du Port (974)"
    )
    assert fr("gazetteer.cli.locality", alias="Saint-Gilles-les-Bains", name="Saint-Paul") == (
        "Saint-Gilles-les-Bains, commune de Saint-Paul"
    )


def test_every_current_commune_of_la_reunion_renders_without_a_bare_article() -> None:
    for insee in (f"974{n:02d}" for n in range(1, 25)):
        place = commune_label(insee)
        assert place != insee, insee  # known to the gazetteer
        for spec in ("à", "de", "près de", "autour de"):
            out = f"{place:{spec}}"
            assert not re.search(r"\b(?:à|de) Les? ", out), out
