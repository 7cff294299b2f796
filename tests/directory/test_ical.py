"""The upcoming public events as iCalendar (RFC 5545), parsed back with the same library:
only what has not ended, in each commune's time zone with its VTIMEZONE, stable UIDs."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from icalendar import Calendar

from bot.cli import main as cli
from directory.db import open_store, transaction
from directory.ical import write_ics
from directory.services import NewEntry, add_entry

LE_PORT = "97407"
NOUMEA = "98818"
#: the events are placed around the real clock, since the CLI reads it
NOW = datetime.now(UTC).replace(microsecond=0)


def fill(factory: Any) -> None:
    with transaction(factory) as session:
        def event(name: str, commune: str, starts: datetime, ends: datetime | None, **kw: Any) -> None:
            add_entry(session, NewEntry(name=name, category="theatre", commune_insee=commune,
                                        kind="event", starts_at=starts, ends_at=ends, **kw), force=True)

        event("Kabaré", LE_PORT, NOW + timedelta(days=1), NOW + timedelta(days=1, hours=3),
              address="12 rue du Port", lat=-20.94, lon=55.29, website="kabare.example.org")
        event("Bal fini", LE_PORT, NOW - timedelta(days=3), NOW - timedelta(days=3, hours=-2))
        event("En cours", LE_PORT, NOW - timedelta(hours=1), NOW + timedelta(hours=1))
        event("Sans fin", NOUMEA, NOW + timedelta(days=2), None)
        add_entry(session, NewEntry(name="Garage", category="garage", commune_insee=LE_PORT))


def parse_back(text: str) -> dict[str, Any]:
    calendar = Calendar.from_ical(text)
    events = {str(e.get("summary")): e for e in calendar.walk("VEVENT")}
    zones = {str(z.get("tzid")) for z in calendar.walk("VTIMEZONE")}
    return {"events": events, "zones": zones}


def test_upcoming_events_only_each_in_its_time_zone(store: Any) -> None:
    _engine, factory = store
    fill(factory)
    out = io.StringIO()
    with factory() as session:
        assert write_ics(session, out, now=NOW) == 3
    found = parse_back(out.getvalue())
    assert set(found["events"]) == {"Kabaré", "En cours", "Sans fin"}  # not the ended one
    kabare = found["events"]["Kabaré"]
    assert kabare.decoded("dtstart") == NOW + timedelta(days=1)
    assert str(kabare["dtstart"].params["TZID"]) == "Indian/Reunion"
    assert "12 rue du Port" in str(kabare["location"]) and "Le Port (974)" in str(kabare["location"])
    assert str(kabare["url"]) == "https://kabare.example.org"
    assert str(kabare["uid"]).startswith("entry-") and str(kabare["uid"]).endswith("@communebot.directory")
    endless = found["events"]["Sans fin"]
    assert endless.decoded("dtend") - endless.decoded("dtstart") == timedelta(hours=2)
    assert str(endless["dtstart"].params["TZID"]) == "Pacific/Noumea"
    assert {"Indian/Reunion", "Pacific/Noumea"} <= found["zones"]


def test_cli_exports_one_communes_calendar(db_url: str, tmp_path: Path) -> None:
    engine, factory = open_store(db_url)
    fill(factory)
    engine.dispose()
    target = tmp_path / "le-port.ics"
    result = CliRunner().invoke(cli, ["export", "--format", "ics", "--commune", LE_PORT, "-o",
                                      str(target), "--db", db_url, "--lang", "en"])
    assert result.exit_code == 0, result.output
    found = parse_back(target.read_text(encoding="utf-8"))
    assert "Sans fin" not in found["events"]  # Nouméa's
    assert "Kabaré" in found["events"]
