"""The engine benchmark runs (tiny sizes) so that it cannot rot."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_engine.py"


def test_engine_benchmark_quick_mode(capsys) -> None:  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_engine", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--quick"])
    out = capsys.readouterr().out
    assert "msg/s" in out and "p99" in out
    assert result["entries"] == 500 and result["messages"] == 60
    assert result["rate"] > 0
    assert {"search", "help", "me", "cancel", "bad_input"} <= set(result["per_intent"])
