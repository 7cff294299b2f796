"""Multi-turn transcripts, run on the console adapter over the sample directory.

Each ``*.yaml`` file beside this one holds scenarios written from how people type on a
phone (SMS style, no accents, creole words, a question typed where the bot asked something
else). A scenario is a list of turns: what the user types, substrings the answer must
contain (``expect``, case- and accent-insensitive) and substrings it must not (``forbid``).
Every answer is also checked against :data:`ALWAYS_FORBIDDEN` (uncontracted French articles,
untranslated catalog keys, apologies for crashes).

Format::

    - name: a newcomer registers and asks
      lang: null            # the platform's language hint (null: none, as on Matrix)
      turns:
        - user: "bjr"
          expect: ["commune"]
          forbid: ["pas bien compris"]
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.console import ConsoleChat
from bot.engine import Engine
from directory.db import open_store
from directory.text import fold

HERE = Path(__file__).parent
#: every scenario runs at this instant (a Friday, La Réunion's afternoon): the sample's
#: events and opening hours answer the same whatever day the suite runs
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
#: never acceptable in any answer: bad French contractions, raw catalog keys, crashes
ALWAYS_FORBIDDEN = (" à Le ", " à Les ", " de Le ", " de Les ", "près de Le ", "près de Les ",
                    "Une erreur", "An error")
_CATALOG_KEY = re.compile(r"\b[a-z]+\.[a-z_]+\.[a-z_.]+\b")


def _load() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(HERE.glob("*.yaml")):
        for scenario in yaml.safe_load(path.read_text("utf-8")):
            found.append((f"{path.stem}: {scenario['name']}", scenario))
    return found


SCENARIOS = _load()


@pytest.fixture
def store(sample_db: Path, tmp_path: Path) -> Iterator[Any]:
    """A copy of the session's sample directory (tests/conftest.py) for one scenario."""
    copy = tmp_path / "chat.db"
    shutil.copy(sample_db, copy)
    engine_, factory = open_store(f"sqlite:///{copy}")
    yield factory
    engine_.dispose()


def _has(text: str, fragment: str) -> bool:
    return fold(fragment) in fold(text)


@pytest.mark.parametrize(("title", "scenario"), SCENARIOS, ids=[t for t, _ in SCENARIOS])
def test_scenario(title: str, scenario: dict[str, Any], store: Any) -> None:
    # documents show as "📎 [file: name]" lines; nothing is written in the working directory
    chat = ConsoleChat(Engine(store, clock=lambda: NOW), user_id="citizen", lang=scenario.get("lang"),
                       save_files=False)
    transcript: list[str] = []
    for number, turn in enumerate(scenario["turns"], start=1):
        answer = "\n".join(chat.send(str(turn["user"])))
        transcript += [f"> {turn['user']}", answer]
        where = f"{title}, turn {number} ({turn['user']!r}):\n" + "\n".join(transcript)
        for fragment in turn.get("expect", []):
            assert _has(answer, fragment), f"missing {fragment!r} in {where}"
        for fragment in [*turn.get("forbid", []), *ALWAYS_FORBIDDEN]:
            assert fragment not in answer and (
                fragment in ALWAYS_FORBIDDEN or not _has(answer, fragment)
            ), f"forbidden {fragment!r} in {where}"
        assert not _CATALOG_KEY.search(answer), f"raw catalog key in {where}"
        assert answer.strip(), f"no answer in {where}"


def test_the_checker_catches_a_missing_expectation(store: Any) -> None:
    chat = ConsoleChat(Engine(store, clock=lambda: NOW), user_id="checker", lang="fr")
    answer = "\n".join(chat.send("bonjour"))
    assert _has(answer, "COMMUNE") and not _has(answer, "garagiste introuvable")
