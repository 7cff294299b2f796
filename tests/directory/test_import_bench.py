"""The import benchmark runs (tiny size) so it cannot rot; its figures are not asserted
beyond being measured."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_import.py"


def test_import_benchmark_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_import", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_import", module)
    spec.loader.exec_module(module)
    result = module.main(["--rows", "300", "--searches", "5"])
    assert result["backend"] == "sqlite" and result["rows"] == 300
    assert result["import"] > 0 and result["re-import"] > 0 and result["naive"] > 0
    for p50, p95 in result["searches"].values():
        assert 0 < p50 <= p95
    assert "x the naive import" in capsys.readouterr().out


def test_import_benchmark_runs_as_a_script() -> None:
    import subprocess

    done = subprocess.run([sys.executable, str(BENCH), "--rows", "200"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "200 rows on sqlite" in done.stdout
