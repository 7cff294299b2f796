"""``--log-format json``: one JSON object per line, secrets masked (tracebacks included)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from bot.logformat import JsonFormatter
from bot.redact import MASK, RedactSecrets

TOKEN = "123456789:AAFakeTokenForTheLogTest_abcdefghijk"


def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    record = logging.LogRecord("communebot.test", logging.ERROR, __file__, 1, message, args, info)
    record.chat = "telegram:42"  # an extra= field
    return record


def test_one_json_object_per_line_with_the_fields() -> None:
    line = JsonFormatter().format(_record("answered %s in %d ms", "a chat", 12))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["level"] == "ERROR" and parsed["logger"] == "communebot.test"
    assert parsed["message"] == "answered a chat in 12 ms"
    assert parsed["chat"] == "telegram:42"
    assert parsed["time"].endswith("+00:00")


def test_a_secret_in_the_message_or_the_traceback_is_masked() -> None:
    try:
        raise RuntimeError(f"https://api.telegram.org/bot{TOKEN}/getUpdates failed")
    except RuntimeError as exc:
        record = _record("calling %s", f"https://api.telegram.org/bot{TOKEN}/getMe", exc=exc)
    assert RedactSecrets([TOKEN]).filter(record)
    line = JsonFormatter([TOKEN]).format(record)
    parsed = json.loads(line)
    assert TOKEN not in line and MASK in parsed["message"]
    assert "RuntimeError" in parsed["exception"] and MASK in parsed["exception"]


def test_the_text_format_masks_a_traceback_too() -> None:
    try:
        raise RuntimeError(f"token {TOKEN}")
    except RuntimeError as exc:
        record = _record("failed", exc=exc)
    RedactSecrets([TOKEN]).filter(record)
    text = logging.Formatter("%(message)s").format(record)
    assert TOKEN not in text and "RuntimeError" in text


def test_run_logs_json_lines(tmp_path: Path) -> None:
    """A real `communebot run --log-format json` whose configuration enables nothing: its
    log lines (and only them) are JSON objects."""
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'bot.db'}\n")
    done = subprocess.run([sys.executable, "-m", "bot.cli", "run", "-c", str(config), "--log-format",
                           "json", "--log-level", "DEBUG"], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode != 0 and "no adapter is enabled" in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("{")]
    assert lines, done.stderr
    for line in lines:
        parsed = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(parsed)
