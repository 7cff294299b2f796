"""``clean``/``fold`` shortcuts give exactly what the per-character reference versions give."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from directory.search_index import fast_clean, fast_fold
from directory.text import clean, clean_reference, fold, fold_reference

TRICKY = [
    "",
    "   ",
    "Crèche Les P'tits Loups",
    "L'Étang-Salé",
    "Saint-Denis\u00a0(974)",  # no-break space
    "Cre\u0300che",  # NFD input: combining grave accent
    "E\u0301cole de musique",
    "Ga\u200brage\u200d Alpha",  # zero-width space and joiner
    "\ufeffBoulangerie",  # byte order mark
    "Pharmacie\u00adCentrale",  # soft hyphen
    "Ligne 1\nLigne 2\r\n\tfin",
    "nul\x00byte\x07bell\x7fdel",
    "\u2028séparateur\u2029paragraphe",
    "Café 🍰 & Thé ☕",
    "👨\u200d👩\u200d👧 famille",  # emoji ZWJ sequence
    "🇫🇷 drapeau",
    "Œuvre Cœur ÆSIR Straße",
    "ﬁnance ﬂeur",  # ligatures (NFKD)
    "Ｆｕｌｌｗｉｄｔｈ",
    "\u202eevil\u202c bidi",
    "Ⅻ Ω Å ℃",  # compatibility and singleton decompositions
    "private \ue000 use",
    "İstanbul ǅ ǈ",  # special lower-casing
    "ağaç ılık Øresund Łódź",
    "日本語 テスト",
    "a" * 300,
    " " + "é" * 250 + " ",
    "\ud800 lone surrogate",
]


@pytest.mark.parametrize("text", TRICKY)
def test_shortcuts_match_the_reference_on_tricky_strings(text: str) -> None:
    assert clean(text) == clean_reference(text)
    assert clean(text, 200) == clean_reference(text, 200)
    assert fast_clean(text) == clean_reference(text)
    assert fold(text) == fold_reference(text)
    assert fast_fold(text) == fold_reference(text)


def test_expected_results_on_a_few_strings() -> None:
    assert clean("Cre\u0300che  \u200bLa\tRuche\n") == "Crèche La Ruche"
    assert clean("nul\x00byte") == "nul byte"
    assert clean("Café 🍰") == "Café 🍰"
    assert fold("L'Étang-Salé") == "l etang sale"
    assert fold("E\u0301cole Œuvre") == "ecole oeuvre"
    assert fold("Ga\u200brage") == "garage"
    assert fold("🍰") == ""


def _chunks(codes: list[int], size: int = 48) -> list[str]:
    """Code points in strings of ``size``, each between letters (composition contexts)."""
    return [
        "".join(f"a{chr(c)}E\u0301 " for c in codes[start : start + size])
        for start in range(0, len(codes), size)
    ]


def test_shortcuts_match_the_reference_on_every_code_point() -> None:
    printable = [c for c in range(sys.maxunicode + 1) if chr(c).isprintable()]
    assert len(printable) > 100_000  # the shortcut's whole domain
    for text in _chunks(printable):
        assert clean(text) == clean_reference(text), text
        assert fold(text) == fold_reference(text), text
    # outside the domain each character goes through the reference (ASCII controls too)
    others = [c for c in range(sys.maxunicode + 1) if not chr(c).isprintable()]
    for code in others[:: max(1, len(others) // 5000)] + list(range(32)) + [127]:
        text = f"x{chr(code)}y"
        assert clean(text) == clean_reference(text), hex(code)
        assert fold(text) == fold_reference(text), hex(code)


def test_nfd_and_nfc_inputs_clean_alike() -> None:
    for text in ("Crèche Éléonore", "Ñandú", "Åsa Øre"):
        assert clean(unicodedata.normalize("NFD", text)) == clean(text) == text
