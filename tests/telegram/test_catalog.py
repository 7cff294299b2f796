"""The adapter's own sentences exist in both languages, with the same placeholders."""

from __future__ import annotations

import re
from importlib import resources

from babel.messages.pofile import read_po

from bot.i18n import translator


def _catalog(lang: str) -> dict[str, str]:
    path = resources.files("locales").joinpath(lang, "LC_MESSAGES", "telegram.po")
    with path.open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale=lang) if m.id}


def test_french_and_english_have_the_same_keys_and_placeholders() -> None:
    fr, en = _catalog("fr"), _catalog("en")
    assert set(fr) == set(en)
    assert all(key.startswith("telegram.") for key in fr)
    for key in fr:
        assert fr[key] and en[key], key
        assert set(re.findall(r"{(\w+)}", fr[key])) == set(re.findall(r"{(\w+)}", en[key]))


def test_every_key_the_adapter_uses_is_translated() -> None:
    source = resources.files("adapters.telegram").joinpath("runner.py").read_text("utf-8")
    used = set(re.findall(r'"(telegram\.[a-z_.]+)"', source))
    assert used
    for lang in ("fr", "en"):
        t = translator(lang)
        for key in used:
            assert t(key) != key, f"{lang}: {key}"
