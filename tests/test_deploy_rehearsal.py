"""Issue 15: what the container does, rehearsed without Docker (no engine runs on this
machine kind). The shipped ``deploy/config.docker.yaml`` with the database in
``COMMUNEBOT_DB`` (as compose.yaml sets it) and the Bot API on a closed loopback port:
``communebot run`` migrates the empty database, waits for the Bot API and stays up; the
image's HEALTHCHECK script (``deploy/healthcheck.py``), reading the bot's own command
line, finds ``/healthz`` and reports unhealthy with the reason; SIGTERM stops it with exit
code 0. Then the script's own choices: nothing to probe without ``run -c`` or with
monitoring off, healthy on a 200."""

from __future__ import annotations

import http.server
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy" / "healthcheck.py"


def load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_healthcheck", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = load_healthcheck()


def free_port() -> int:
    """A loopback port nobody listens on (taken, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def container_config(tmp_path: Path, **monitoring: object) -> Path:
    """The shipped container configuration, with the Bot API on a closed port and the
    monitoring server on loopback (the container listens on 0.0.0.0, behind compose's
    loopback-only publication); one getMe retry so the wait shows within seconds."""
    values = yaml.safe_load((ROOT / "deploy" / "config.docker.yaml").read_text())
    values["telegram"].update(base_url=f"http://127.0.0.1:{free_port()}/bot", max_retries=1,
                              connect_timeout=1, request_timeout=2)
    values["monitoring"].update({"listen": "127.0.0.1", "port": free_port(), **monitoring})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def run_healthcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=30, cwd=ROOT)


def test_the_container_start_rehearsed(db_url: str, tmp_path: Path) -> None:
    config = container_config(tmp_path)
    env = {**os.environ, "COMMUNEBOT_DB": db_url, "TELEGRAM_TOKEN": "123456:TEST-not-a-token"}
    communebot = Path(sys.executable).parent / "communebot"  # the console script, as in the image
    process = subprocess.Popen([str(communebot), "run", "-c", str(config)], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("waiting for the Telegram Bot API" in line for line in list(lines)):
            assert process.poll() is None, "".join(lines)[-3000:]
            assert time.monotonic() < deadline, "".join(lines)[-3000:]
            time.sleep(0.1)
        assert any("Running upgrade" in line for line in lines)  # what test-image.sh looks for
        checked = run_healthcheck("--pid", str(process.pid))
        assert checked.returncode == 1, checked.stdout + checked.stderr
        assert "503" in checked.stdout and "waiting for the Bot API" in checked.stdout, checked.stdout
        assert process.poll() is None  # still up
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
        reader.join(timeout=5)
    assert code == 0, "".join(lines)[-3000:]
    assert "Traceback" not in "".join(lines)


def test_nothing_to_probe_without_run_or_without_monitoring(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv_of = healthcheck.config_path_from_argv
    assert argv_of(["/usr/local/bin/python", "/usr/local/bin/communebot", "demo"]) is None
    assert argv_of(["python", "communebot", "run", "-c", "/config/c.yaml"]) == "/config/c.yaml"
    assert argv_of(["communebot", "run", "--config", "a.yaml"]) == "a.yaml"
    assert argv_of(["communebot", "run", "--config=b.yaml", "--log-format", "json"]) == "b.yaml"
    assert argv_of(["communebot", "run", "-cc.yaml"]) == "c.yaml"
    found = healthcheck.bot_config_path
    bot = ["/usr/local/bin/python", "/usr/local/bin/communebot", "run", "-c", "/config/config.yaml"]
    assert found([["/sbin/docker-init", "--", "communebot", "run", "-c", "x"], bot]) == "/config/config.yaml"
    assert found([["vim", "run", "-c", "x"], ["python", "/usr/local/bin/communebot", "demo"]]) is None
    assert healthcheck.healthz_url(False, "0.0.0.0", 9464) is None
    assert healthcheck.healthz_url(True, "0.0.0.0", 9464) == "http://127.0.0.1:9464/healthz"
    assert healthcheck.healthz_url(True, "::", 1) == "http://[::1]:1/healthz"
    assert healthcheck.healthz_url(True, "10.0.0.2", 80) == "http://10.0.0.2:80/healthz"
    assert healthcheck.main(["--config", str(container_config(tmp_path, enabled=False))]) == 0
    assert "nothing to probe" in capsys.readouterr().out
    # monitoring on and nobody listening: unhealthy
    assert healthcheck.main(["--config", str(container_config(tmp_path)), "--timeout", "2"]) == 1
    assert "no answer" in capsys.readouterr().out


@pytest.fixture
def healthy_server() -> Iterator[int]:
    """A loopback /healthz that says 200."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = 200 if self.path == "/healthz" else 404
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_healthy_on_200(tmp_path: Path, healthy_server: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert healthcheck.main(["--config", str(container_config(tmp_path, port=healthy_server))]) == 0
    assert '200 {"status": "ok"}' in capsys.readouterr().out
