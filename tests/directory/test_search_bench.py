"""The benchmark script runs (tiny sizes) so it cannot rot; its figures are not asserted
here beyond sanity (timed assertions would make the suite flaky)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_directory.py"


def test_benchmark_quick_mode_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_directory", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_directory", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    out = tmp_path / "bench.json"
    result = module.main(["--quick", "--sizes", "400", "--queries", "5", "--communes", "30",
                          "--workdir", str(tmp_path), "--json", str(out)])
    (size,) = result["sizes"]
    assert size["size"] == 400 and size["import_rows_per_s"] > 0
    assert size["baseline_import_rows_per_s"] > 0
    assert [s["query"] for s in size["searches"]] == ["category near a point", "free text in a commune"]
    for figures in [*size["searches"], result["resolution"]]:
        assert 0 < figures["p50_ms"] <= figures["p95_ms"]
        assert figures["baseline_p50_ms"] > 0 and figures["speedup_p50"] > 0
    assert result["resolution"]["found_in_top5"] >= 0.8
    assert out.exists() and "commune resolution" in capsys.readouterr().out
