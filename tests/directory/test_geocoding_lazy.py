"""geopy is imported by the first geocoding, not by ``communebot run`` (issue 15)."""

from __future__ import annotations

import subprocess
import sys


def test_run_does_not_import_geopy_before_a_geocoding() -> None:
    # geopy pulls aiohttp and requests: 15 MB of every run's peak RSS, for a rare feature
    code = ("import sys, bot.commands.run\n"
            "from directory.geocoding import Geocoder\n"
            "g = Geocoder()\n"
            "assert 'geopy' not in sys.modules, 'imported at start'\n"
            "assert g.ban.geocode_api.endswith('/search') and 'geopy' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
