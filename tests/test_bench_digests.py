"""The digest benchmark runs in quick mode so it cannot rot; its figures are printed and
checked for sense, not for speed (speed targets live in benchmarks/, not in timed tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_digests.py"


def test_quick_mode_sends_every_digest_and_prints_its_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_digests", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures = module.main(["--quick"])
    out = capsys.readouterr().out
    assert "run_due   600 digests (600 queued)" in out
    assert "naive baseline" in out and "peak RSS" in out
    assert figures["rate"] > 0 and figures["baseline"] > 0
