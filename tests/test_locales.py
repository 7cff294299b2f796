"""Catalog completeness over every area's .po file: each msgid exists in French AND
English, with a translation, the same placeholders and (for plurals) every form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, load_catalog, translator

LOCALES = Path(__file__).resolve().parent.parent / "locales"
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)[^{}]*\}(?!\})")


def areas() -> list[str]:
    names = {p.stem for lang in LANGUAGES for p in (LOCALES / lang / "LC_MESSAGES").glob("*.po")}
    return sorted(names)


def read(lang: str, area: str) -> dict[str, object]:
    path = LOCALES / lang / "LC_MESSAGES" / f"{area}.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    return {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}


def placeholders(message: object) -> set[str]:
    strings = message.string  # type: ignore[attr-defined]
    texts = strings if isinstance(strings, tuple | list) else (strings,)
    found: set[str] = set()
    for text in texts:
        found |= set(PLACEHOLDER.findall(text or ""))
    return found


def test_there_are_catalogs() -> None:
    assert {"engine", "common", "register", "settings", "me", "help", "admin"} <= set(areas())


@pytest.mark.parametrize("area", areas())
def test_area_is_complete_in_both_languages(area: str) -> None:
    fr, en = read("fr", area), read("en", area)
    assert fr, f"locales/fr/LC_MESSAGES/{area}.po is missing or empty"
    assert en, f"locales/en/LC_MESSAGES/{area}.po is missing or empty"
    assert sorted(set(fr) - set(en)) == [], f"{area}: only in French"
    assert sorted(set(en) - set(fr)) == [], f"{area}: only in English"
    for key in fr:
        f, e = fr[key], en[key]
        for lang, message in (("fr", f), ("en", e)):
            strings = message.string  # type: ignore[attr-defined]
            values = strings if isinstance(strings, tuple | list) else (strings,)
            assert all(v.strip() for v in values), f"{lang}:{key} has an empty translation"
            assert "fuzzy" not in message.flags, f"{lang}:{key} is fuzzy"  # type: ignore[attr-defined]
        assert placeholders(f) == placeholders(e), f"{area}:{key} placeholders differ"
        assert f.pluralizable == e.pluralizable, f"{key}: plural in one language only"  # type: ignore[attr-defined]
        if f.pluralizable:  # type: ignore[attr-defined]
            assert len(f.string) == 2 and len(e.string) == 2, key  # type: ignore[attr-defined]


def test_message_ids_are_unique_across_areas() -> None:
    seen: dict[str, str] = {}
    for area in areas():
        for key in read("fr", area):
            assert key not in seen, f"{key} is in both {seen.get(key)} and {area}"
            seen[key] = area


def test_every_message_formats_with_its_placeholders() -> None:
    for lang in LANGUAGES:
        t = translator(lang)
        for message in load_catalog(lang):
            if not message.id:
                continue
            key = message.id if isinstance(message.id, str) else message.id[0]
            values = {name: "X" for name in placeholders(message) if name != "count"}
            if message.pluralizable:
                for count in (1, 2, 5):
                    assert t.plural(key, count, **values) != key
            else:
                assert t(key, **values, **({"count": 1} if "count" in placeholders(message) else {})) != key


def test_plurals_and_numbers_per_locale() -> None:
    fr, en = translator("fr"), translator("en")
    assert fr.plural("common.recommendations", 1) == "1 recommandation"
    assert fr.plural("common.recommendations", 0) == "0 recommandation"  # French: 0 is singular
    assert fr.plural("common.recommendations", 3) == "3 recommandations"
    assert en.plural("common.recommendations", 0) == "0 recommendations"
    assert en.plural("common.recommendations", 1) == "1 recommendation"
    assert fr.distance(1.234) == "1,2 km" and en.distance(1.234) == "1.2 km"
    assert fr.number(12345).replace("\u202f", " ").replace("\xa0", " ") == "12 345"
    assert en.number(12345) == "12,345"
