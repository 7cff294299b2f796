"""``communebot run`` stops cleanly (issue 14, finding 8): with the Bot API or the
homeserver unreachable, start-up waits with back-off and says in the log for what and
for how long; SIGTERM or SIGINT ends it at once, exit code 0, no traceback and no
"Unclosed client session". A real process, a closed loopback port."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

VERSIONS = Path(__file__).parent.parent / "directory" / "migrations" / "versions"
#: what ``run`` may take to stop once signalled (the brief: about 2 s)
STOP_WITHIN = 2.5


def closed_port() -> int:
    """A loopback port nobody listens on (taken, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_for(backend: str, port: int, tmp_path: Path) -> Path:
    values: dict[str, object] = {"database": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
                                 "geocoder": {"enabled": False}}
    if backend == "telegram":
        values["telegram"] = {"enabled": True, "token": "123456:TEST-token",
                              "base_url": f"http://127.0.0.1:{port}/bot", "set_commands": False,
                              "connect_timeout": 1, "request_timeout": 2, "max_retries": 1}
    else:
        values["matrix"] = {"enabled": True, "homeserver": f"http://127.0.0.1:{port}",
                            "user_id": "@bot:localhost", "password": "secret", "encryption": False,
                            "store_path": str(tmp_path / "matrix-store")}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


class Output:
    """The process's merged output, read line by line in a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        self.thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self.thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line)

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 60.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if re.search(pattern, line)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in:\n{''.join(self.lines)[-3000:]}")

    @property
    def text(self) -> str:
        self.thread.join(timeout=5)
        return "".join(self.lines)


WAITING = {
    "telegram": r"waiting for the Telegram Bot API at http://127\.0\.0\.1:\d+/bot \(.+\): "
                r"next try in [\d.]+ s",
    "matrix": r"waiting for the Matrix homeserver http://127\.0\.0\.1:\d+ \(no answer, \d+ in a row\): "
              r"next try in [\d.]+ s",
}


@pytest.mark.parametrize("backend", ["telegram", "matrix"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_waits_for_an_unreachable_service_and_stops_at_once(
    backend: str, sig: signal.Signals, tmp_path: Path
) -> None:
    path = config_for(backend, closed_port(), tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MATRIX_", "TELEGRAM_", "COMMUNEBOT_DB"))}
    process = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "run", "-c", str(path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = Output(process)
    try:
        # two waits logged: the back-off is going on, the second one longer than the first
        lines = output.wait_for(WAITING[backend], count=2)
        delays = [float(re.findall(r"next try in ([\d.]+) s", line)[0]) for line in lines[:2]]
        assert delays[1] > delays[0], lines
        signalled = time.monotonic()
        process.send_signal(sig)
        code = process.wait(timeout=30)
        took = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = output.text
    assert code == 0, text[-3000:]
    assert took < STOP_WITHIN, f"stopped {took:.1f} s after the signal"
    for bad in ("Traceback", "Unclosed", "Task was destroyed"):
        assert bad not in text, text[-3000:]
    assert "stopped" in text
    assert "TEST-token" not in text  # the Bot API URL is logged without its token


@pytest.mark.parametrize("moment", [r"Context impl", r"Running upgrade 0004", r"Scheduler started"],
                         ids=["migrations-start", "migrating", "adapters-starting"])
def test_a_signal_during_start_up_stops_it_cleanly(moment: str, tmp_path: Path) -> None:
    """Before the adapters serve (migrations, warm-up) a SIGTERM ends it too, with code 0
    and no traceback; a migration under way finishes first."""
    path = config_for("telegram", closed_port(), tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "COMMUNEBOT_DB"))}
    process = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "run", "-c", str(path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = Output(process)
    try:
        output.wait_for(moment)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = output.text
    assert code == 0, text[-3000:]
    assert "Traceback" not in text and "Unclosed" not in text, text[-3000:]
    with sqlite3.connect(tmp_path / "bot.db") as db:  # no migration was cut short
        version = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert version == sorted(p.name[:4] for p in VERSIONS.glob("0*.py"))[-1]


def free_port() -> int:
    return closed_port()


def test_run_serves_healthz_and_metrics_and_stops_them_cleanly(tmp_path: Path) -> None:
    """``monitoring.enabled``: while the Bot API is unreachable ``/healthz`` answers 503 and
    says what the adapter waits for; ``/metrics`` answers; SIGTERM closes the port too."""
    import json
    import urllib.error
    import urllib.request

    path = config_for("telegram", closed_port(), tmp_path)
    values = yaml.safe_load(path.read_text())
    port = free_port()
    values["monitoring"] = {"enabled": True, "port": port}
    path.write_text(yaml.safe_dump(values))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "COMMUNEBOT_DB"))}
    process = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "run", "-c", str(path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = Output(process)
    try:
        output.wait_for(WAITING["telegram"])
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert refused.value.code == 503
        body = json.loads(refused.value.read())
        assert body["database"]["ok"] is True
        assert "waiting for the Bot API" in body["adapters"]["telegram"]["detail"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as scraped:
            text = scraped.read().decode()
        assert "communebot_outbox_backlog" in text and "communebot_errors_total" in text
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 0, output.text[-3000:]
    assert "Traceback" not in output.text and "Unclosed" not in output.text
    with socket.socket() as again, pytest.raises(ConnectionRefusedError):  # closed with it
        again.connect(("127.0.0.1", port))


def test_run_refuses_a_monitoring_port_in_use_in_words(tmp_path: Path) -> None:
    path = config_for("telegram", closed_port(), tmp_path)
    values = yaml.safe_load(path.read_text())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        values["monitoring"] = {"enabled": True, "port": taken.getsockname()[1]}
        path.write_text(yaml.safe_dump(values))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "COMMUNEBOT_DB"))}
        done = subprocess.run(
            [sys.executable, "-c", "from bot.cli import main; main()", "run", "-c", str(path)],
            env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "monitoring: cannot listen on 127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_second_run_on_the_same_sqlite_file_is_refused_in_words(tmp_path: Path) -> None:
    """SQLite serves one process: a second ``run`` on the same file stops at start with a
    clear message (exit 1), the first one goes on, and once it stopped a new one starts."""
    path = config_for("telegram", closed_port(), tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "COMMUNEBOT_DB"))}
    command = [sys.executable, "-c", "from bot.cli import main; main()", "run", "-c", str(path)]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    output = Output(first)
    try:
        output.wait_for(WAITING["telegram"])
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert "another `communebot run` is using" in second.stderr
        assert "Traceback" not in second.stderr
        assert first.poll() is None  # the first one is still serving
        first.send_signal(signal.SIGKILL)  # however it ends, the file is free again
        first.wait(timeout=30)
        third = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        try:
            Output(third).wait_for(WAITING["telegram"])
        finally:
            third.send_signal(signal.SIGTERM)
            assert third.wait(timeout=30) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
