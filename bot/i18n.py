"""Localisation: gettext catalogs (Babel .po files) for French and English.

Message ids are stable keys (``search.no_results``), not English sentences, so a missing
translation is visible in either language and a test can compare both catalogs.
Each area of the code keeps its own ``locales/<lang>/LC_MESSAGES/<area>.po``; they are
merged into one catalog per language at load time (ids are unique across areas).
Placeholders use ``str.format`` names: ``{count}``, ``{name}``; a commune or category
name takes a grammar spec (``{commune:à}``, ``{category:aucun}``, see ``bot.grammar``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from bot.grammar import format_message

LANGUAGES: tuple[str, ...] = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


def pick_language(hint: str | None) -> str:
    """Map a platform hint (``fr-FR``, ``en_GB``, ``de``) to a supported language."""
    if hint:
        base = hint.replace("_", "-").split("-")[0].lower()
        if base in LANGUAGES:
            return base
        if base:
            return "en"
    return DEFAULT_LANGUAGE


@cache
def load_catalog(lang: str) -> Catalog:
    """Merge every ``.po`` file of a language into one Babel catalog."""
    merged = Catalog(locale=lang)
    folder = resources.files("locales").joinpath(lang, "LC_MESSAGES")
    for po in sorted(folder.iterdir(), key=lambda p: p.name):
        if not po.name.endswith(".po"):
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        for message in catalog:
            if not message.id:
                continue
            merged[message.id] = message
    return merged


@dataclass(frozen=True)
class Translator:
    """Everything language-dependent a dialog needs: sentences, plurals, numbers."""

    lang: str
    _locale: Locale = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_locale", Locale.parse(self.lang))

    def __call__(self, key: str, **values: Any) -> str:
        message = load_catalog(self.lang).get(key)
        if message is None or not message.string:
            text = key  # visible, and caught by the catalog tests
        elif isinstance(message.string, tuple | list):
            text = message.string[0]
        else:
            text = message.string
        return format_message(text, values) if values else text

    def plural(self, key: str, count: int, **values: Any) -> str:
        """``key`` is the singular msgid of a plural entry; ``count`` picks the form."""
        message = load_catalog(self.lang).get(key)
        values.setdefault("count", self.number(count))
        if message is None or not isinstance(message.string, tuple | list):
            return key
        form = self._locale.plural_form(abs(count))
        index = {"one": 0}.get(form, 1) if len(message.string) == 2 else 0
        return format_message(message.string[min(index, len(message.string) - 1)], values)

    def number(self, value: float, digits: int = 0) -> str:
        fmt = "#,##0" + ("." + "#" * digits if digits else "")
        return format_decimal(value, format=fmt, locale=self._locale)

    def distance(self, km: float | None) -> str:
        """``1,2 km`` in French, ``1.2 km`` in English; metres under 1 km."""
        if km is None:
            return ""
        if km < 1:
            return f"{self.number(round(km * 1000, -1))} m"
        if km < 10:
            return f"{self.number(km, 1)} km"
        return f"{self.number(round(km))} km"


@cache
def translator(lang: str) -> Translator:
    return Translator(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
