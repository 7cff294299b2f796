"""bench_startup.py runs in quick mode so it cannot rot: it starts the real bot and PTB's
echo bot against the loopback emulator and prints a start-up time and a peak RSS for each
(speed targets live in benchmarks/, not in timed tests)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_quick_mode_prints_start_up_and_peak_rss_beside_the_echo_bot(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_startup", BENCH / "bench_startup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_startup"] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    result = module.main(["--quick", "--json", str(tmp_path / "s.json")])
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("start-up to first getUpdates"))
    assert float(line.split()[5]) == pytest.approx(result["communebot"]["startup_s"], abs=0.01)
    assert result["communebot"]["startup_s"] > 0 and result["baseline"]["startup_s"] > 0
    assert result["communebot"]["peak_rss_mb"] > 0
    # every message, the name search included, got an answer before RSS was read, in each
    # run (the second restarts the bot on the first one's database)
    assert result["communebot"]["answered"] == result["communebot"]["messages"] == 4
    assert json.loads((tmp_path / "s.json").read_text())["entries"] == 200
