"""The lookup benchmark runs in quick mode so it cannot rot; its figures are printed,
not asserted (speed targets live in benchmarks/, not in timed tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_lookup.py"


def test_quick_mode_prints_every_figure_with_its_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_lookup", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--quick"])
    out = capsys.readouterr().out
    for label in ("nearest(lat, lon)", "Gazetteer.load()", "parse(text)"):
        line = next(line for line in out.splitlines() if line.startswith(label))
        assert "baseline" in line and "| x" in line
