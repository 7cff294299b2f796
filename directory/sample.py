"""The demo's sample directory: plainly fictional entries over the 24 communes of La
Réunion, plus a few in Paris, Lille and Nouméa.

The data file ``directory/data/sample_directory.csv`` is generated once by
``python -m directory.sample`` (deterministic: same seed, same file) and shipped, so the
demo never depends on randomness. Every name ends in "(fictive)"; websites use the
reserved ``example.org`` domain; phone numbers come from the ranges ARCEP keeps for
fiction (``01 99 00``, ``02 61 91``, ``03 53 01``); points are offset from the commune's
point by less than 3 km. Shops and services carry typical OpenStreetMap opening hours,
and each commune of La Réunion has its town hall. These extras draw from a random
stream of their own, so the rows of earlier versions of the file keep their values.
``load_sample`` goes through the importer, so it is validated like any import and
idempotent (source ``sample``: a second load updates, never duplicates).
"""

from __future__ import annotations

import math
import random
import sys
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from directory.import_batches import prepare_batch, write_batch
from directory.importer import CSV_COLUMNS, ImportReport, convert, csv_records, drop_duplicates

SAMPLE_SOURCE = "sample"
SAMPLE_FILE = "sample_directory.csv"
REUNION = tuple(f"974{n:02d}" for n in range(1, 25))
ELSEWHERE = {"75056": 8, "59350": 5, "98818": 6}  # Paris, Lille, Nouméa: a few each
PER_REUNION_COMMUNE = 12
MAX_OFFSET_KM = 2.8

_WORDS = (
    "Ti Bouts", "Zembrocal", "Papangue", "Tec-Tec", "Lontan", "Vanille", "Létchi", "Goyavier",
    "Filaos", "Tamarin", "Bichique", "Payanke", "Zoizo", "Marmay", "Kabar", "Maloya", "Séga",
    "Samoussa", "Ti Kaz", "Kari Poulé", "Rougail", "Bonbon Piment", "Vacoa", "Songe",
    "Fanjan", "Combava", "Pitaya", "Caméléon", "Tangue", "Cari Zourit", "Bois de Couleurs",
    "Ravine", "Piton", "Lagon", "Alizé", "Calumet", "Bourbon", "Kayanm", "Roulèr", "Ti Pié",
)
_STREETS = (
    "rue des Filaos", "chemin des Letchis", "allée des Tamariniers", "rue du Lagon",
    "impasse des Vacoas", "rue de la Ravine", "chemin du Piton", "rue des Alizés",
)
#: (category slug, kind, name pattern) for organizations and places; the sample cycles them
_ORGS = (
    ("creche", "organization", "Crèche {w}"),
    ("assistante-maternelle", "organization", "Nounou {w}"),
    ("ecole", "organization", "École {w}"),
    ("garage", "organization", "Garage {w}"),
    ("ecole-musique", "organization", "École de musique {w}"),
    ("theatre", "organization", "Théâtre {w}"),
    ("medecin", "organization", "Cabinet médical {w}"),
    ("pharmacie", "organization", "Pharmacie {w}"),
    ("boulangerie", "organization", "Boulangerie {w}"),
    ("bibliotheque", "organization", "Médiathèque {w}"),
    ("club-sportif", "organization", "Club sportif {w}"),
    ("veterinaire", "organization", "Clinique vétérinaire {w}"),
    ("plombier", "organization", "Plomberie {w}"),
    ("electricien", "organization", "Électricité {w}"),
    ("epicerie", "organization", "Épicerie {w}"),
    ("marche", "organization", "Marché forain {w}"),
    ("restaurant", "organization", "Restaurant {w}"),
    ("coiffeur", "organization", "Salon de coiffure {w}"),
    ("association", "organization", "Association {w}"),
    ("repair-cafe", "organization", "Repair café {w}"),
    ("snack", "organization", "Snack {w}"),
    ("danse", "organization", "École de danse {w}"),
    ("plage", "poi", "Plage {w}"),
    ("parc", "poi", "Jardin public {w}"),
    ("aire-jeux", "poi", "Aire de jeux {w}"),
    ("randonnee", "poi", "Sentier {w}"),
)
_PROJECTS = (
    ("jardin-partage", "Jardin partagé {w}"),
    ("repair-cafe", "Atelier vélo solidaire {w}"),
    ("tiers-lieu", "Tiers-lieu {w}"),
    ("aide-alimentaire", "Épicerie solidaire {w}"),
)
_EVENTS = (
    ("fete", "Fête de quartier {w}"),
    ("theatre", "Soirée contes {w}"),
    ("marche-noel", "Marché de Noël {w}"),
    ("club-sportif", "Tournoi {w}"),
)
#: typical hours by category, in OSM syntax (a row picks one of its category's)
OPENING_HOURS: dict[str, tuple[str, ...]] = {
    "pharmacie": ("Mo-Fr 08:30-12:30,14:00-19:30; Sa 08:30-12:30; PH off",
                  "Mo-Sa 08:00-20:00; Su 09:00-12:00"),
    "boulangerie": ("Tu-Sa 06:00-13:00,15:30-19:00; Su 06:00-12:30; Mo off",
                    "Mo-Sa 05:30-19:30; Su 06:00-12:00"),
    "garage": ("Mo-Fr 07:30-12:00,13:30-17:30; Sa 08:00-12:00; PH off",
               "Mo-Fr 08:00-17:00"),
    "mairie": ("Mo-Fr 07:30-12:00,13:00-16:00; PH off",
               "Mo,Tu,Th 08:00-12:00,13:30-16:30; We,Fr 08:00-12:00; PH off"),
    "medecin": ("Mo-Fr 08:00-12:00,14:00-19:00; Sa 08:00-12:00",),
    "veterinaire": ("Mo-Fr 08:30-12:00,14:00-19:00; Sa 09:00-12:00",),
    "creche": ("Mo-Fr 07:00-18:30; PH off",),
    "bibliotheque": ("Tu,Th,Fr 13:00-18:00; We,Sa 09:00-17:00",),
    "epicerie": ("Mo-Sa 07:00-20:00; Su 07:00-12:30",),
    "restaurant": ("Tu-Sa 11:30-14:00,19:00-22:30; Su 11:30-14:30",),
    "snack": ("Mo-Sa 10:00-14:30,17:30-22:30", "Th-Sa 18:00-01:00"),
    "coiffeur": ("Tu-Sa 09:00-18:30",),
    "plombier": ("Mo-Fr 08:00-12:00,13:30-17:00",),
    "electricien": ("Mo-Fr 08:00-12:00,13:30-17:00",),
    "marche": ("We,Sa 06:00-12:00",),
    "repair-cafe": ("Sa 09:00-12:00",),
    "parc": ("Mo-Su 06:00-18:00",),
}
#: categories that publish a phone number (when the row has none yet)
_PHONED = frozenset(OPENING_HOURS) - {"parc", "marche", "repair-cafe"}
#: ARCEP's numbers for fiction, by where the commune's telephone zone is
_FICTION_PHONE = {"974": "02 61 91", "75": "01 99 00", "59": "03 53 01"}
_STAGES = ("idea", "concept", "started", "development", "testing", "mature")
_NEEDS = ("volunteers", "materials", "funding", "skills")


def offset_point(lat: float, lon: float, rng: random.Random) -> tuple[float, float]:
    """A point 0.2–2.8 km from (lat, lon) in a random direction."""
    distance = rng.uniform(0.2, MAX_OFFSET_KM)
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / 111.195
    dlon = distance * math.sin(bearing) / (111.195 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def generate_rows(seed: int = 974) -> list[dict[str, Any]]:
    """The sample's CSV rows (deterministic for a seed)."""
    from directory.gazetteer import get_gazetteer

    gazetteer = get_gazetteer()
    rng = random.Random(seed)
    plan = [(insee, PER_REUNION_COMMUNE) for insee in REUNION] + list(ELSEWHERE.items())
    base = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
    extra = random.Random(seed + 1)  # opening hours, phones, town halls
    rows: list[dict[str, Any]] = []
    used: set[tuple[str, str]] = set()
    next_org = 0
    for insee, count in plan:
        commune = gazetteer.current(insee)
        assert commune is not None and commune.lat is not None and commune.lon is not None
        for n in range(count):
            word = rng.choice(_WORDS)
            row: dict[str, Any] = dict.fromkeys(CSV_COLUMNS, "")
            roll = n % 12
            if roll == 10:
                category, pattern = rng.choice(_PROJECTS)
                row.update(kind="project", stage=rng.choice(_STAGES),
                           needs=";".join(sorted(rng.sample(_NEEDS, rng.randint(1, 3)))),
                           org_type="")
            elif roll == 11:
                category, pattern = rng.choice(_EVENTS)
                start = base + timedelta(days=rng.randint(0, 120), hours=rng.randint(0, 4))
                row.update(kind="event", starts_at=start.isoformat(),
                           ends_at=(start + timedelta(hours=rng.choice((2, 3, 5)))).isoformat())
            else:
                category, kind, pattern = _ORGS[next_org % len(_ORGS)]
                next_org += 1
                row["kind"] = kind
            name = f"{pattern.format(w=word)} (fictive)"
            if (insee, name) in used:
                name = f"{pattern.format(w=word)} {commune.name} (fictive)"
            if (insee, name) in used:
                continue
            used.add((insee, name))
            lat, lon = offset_point(commune.lat, commune.lon, rng)
            row.update(
                id=f"{insee}-{n:02d}",
                name=name,
                category=category,
                commune=insee,
                address=f"{rng.randint(1, 120)} {rng.choice(_STREETS)}",
                postcode=commune.postcodes[0] if commune.postcodes else "",
                lat=f"{lat:.6f}",
                lon=f"{lon:.6f}",
                website=f"https://example.org/{insee}/{n:02d}" if rng.random() < 0.3 else "",
                description="Entrée fictive de démonstration / fictional demo entry.",
                tags="démo;fictif",
                status="active",
            )
            _add_contact(row, insee, extra)
            rows.append(row)
        if insee in REUNION:
            rows.append(_town_hall(insee, commune.lat, commune.lon,
                                   commune.postcodes[0] if commune.postcodes else "", extra))
    return rows


def _fiction_phone(insee: str, rng: random.Random) -> str:
    prefix = _FICTION_PHONE.get(insee[:3]) or _FICTION_PHONE.get(insee[:2])
    return f"{prefix} {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}" if prefix else ""


def _add_contact(row: dict[str, Any], insee: str, rng: random.Random) -> None:
    """Opening hours for shops and services, and a phone for most of them."""
    hours = OPENING_HOURS.get(row["category"]) if row["kind"] == "organization" else None
    if row["category"] == "parc":
        hours = OPENING_HOURS["parc"]
    if hours:
        row["opening_hours"] = rng.choice(hours)
    if row["category"] in _PHONED and row["kind"] == "organization" and rng.random() < 0.8:
        row["phone"] = _fiction_phone(insee, rng)


def _town_hall(insee: str, lat: float, lon: float, postcode: str, rng: random.Random) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(CSV_COLUMNS, "")
    lat, lon = offset_point(lat, lon, rng)
    row.update(
        # not "Mairie de <commune>": the commune's name would match every search naming
        # the commune ("garagiste au Tampon"), and French elision ("du Tampon") with it
        id=f"{insee}-mairie", name="Hôtel de ville (fictive)", category="mairie",
        kind="organization", org_type="public_service", commune=insee,
        address="Hôtel de ville, rue de la Mairie", postcode=postcode,
        lat=f"{lat:.6f}", lon=f"{lon:.6f}",
        phone=_fiction_phone(insee, rng), website=f"https://example.org/{insee}/mairie",
        opening_hours=rng.choice(OPENING_HOURS["mairie"]),
        description="Entrée fictive de démonstration / fictional demo entry.",
        tags="démo;fictif", status="active",
    )
    return row


def sample_path() -> Path:
    return Path(str(resources.files("directory").joinpath("data", SAMPLE_FILE)))


def write_sample(path: Path | None = None, seed: int = 974) -> int:
    import csv

    rows = generate_rows(seed)
    target = path or sample_path()
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def load_sample(session: Session) -> int:
    """Load (or refresh) the sample directory in the caller's transaction; returns the
    number of sample entries written. Idempotent: entries are keyed by their sample id."""
    text = sample_path().read_text(encoding="utf-8")
    report = ImportReport(SAMPLE_SOURCE)
    numbered = list(convert(csv_records(text), SAMPLE_SOURCE, report))
    conn = session.connection()
    seen: set[str] = set()
    batches = [
        drop_duplicates(
            prepare_batch([r for _, r in part], conn.dialect, [n for n, _ in part]), seen, report
        )
        for part in (numbered[start : start + 1000] for start in range(0, len(numbered), 1000))
    ]
    if report.errors:  # the shipped file is generated and tested: this is a packaging bug
        raise RuntimeError(f"sample directory has bad rows: {report.errors[:3]}")
    written = 0
    for batch in batches:
        counts = write_batch(conn, batch)
        written += counts.created + counts.updated
    return written


if __name__ == "__main__":  # pragma: no cover - regenerates the shipped file
    print(f"{write_sample(Path(sys.argv[1]) if len(sys.argv) > 1 else None)} rows written")
