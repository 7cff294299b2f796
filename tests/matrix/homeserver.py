"""A throw-away Synapse homeserver for the Matrix tests.

Nothing is installed at run time: ``matrix-synapse`` is a test dependency. The config is
written by hand (faster than ``--generate-config``): SQLite, open registration without
verification, every rate limit raised except where a test wants one, 127.0.0.1 on a free
port, no federation, no TLS. ``restart()`` stops and starts the same server on the same
port and database, so a test can check that clients survive a homeserver restart.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

import yaml

SERVER_NAME = "localhost"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _generous(per_second: float = 1000, burst: int = 1000) -> dict[str, float]:
    return {"per_second": per_second, "burst_count": burst}


class Synapse:
    """One Synapse process in ``folder``; ``url`` is its client-server base URL."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server_name = SERVER_NAME
        self.process: subprocess.Popen[bytes] | None = None
        self._output: BinaryIO | None = None
        self.config_path = folder / "homeserver.yaml"
        self.log_path = folder / "homeserver.log"

    def write_config(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "media").mkdir(exist_ok=True)
        log_config = self.folder / "log.yaml"
        log_config.write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "formatters": {"p": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
                    "handlers": {
                        "file": {
                            "class": "logging.FileHandler",
                            "formatter": "p",
                            "filename": str(self.log_path),
                        }
                    },
                    "root": {"level": "WARNING", "handlers": ["file"]},
                    "disable_existing_loggers": False,
                }
            )
        )
        config = {
            "server_name": SERVER_NAME,
            "public_baseurl": self.url + "/",
            "pid_file": str(self.folder / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(self.folder / "homeserver.db")}},
            "log_config": str(log_config),
            "media_store_path": str(self.folder / "media"),
            "signing_key_path": str(self.folder / "signing.key"),
            "enable_registration": True,
            "enable_registration_without_verification": True,
            "registration_shared_secret": secrets.token_hex(16),
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "report_stats": False,
            # test passwords need no brute-force resistance; registrations get much cheaper
            "bcrypt_rounds": 4,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "enable_metrics": False,
            "presence": {"enabled": False},
            "url_preview_enabled": False,
            "rc_message": _generous(),
            "rc_registration": _generous(),
            "rc_login": {
                "address": _generous(),
                "account": _generous(),
                "failed_attempts": _generous(),
            },
            "rc_joins": {"local": _generous(), "remote": _generous()},
            "rc_joins_per_room": _generous(),
            "rc_invites": {
                "per_room": _generous(),
                "per_user": _generous(),
                "per_issuer": _generous(),
            },
            "rc_admin_redaction": _generous(),
            "rc_key_requests": _generous(),
            "rc_3pid_validation": _generous(),
            "rc_presence": {"per_user": _generous()},
        }
        self.config_path.write_text(yaml.safe_dump(config))
        if not (self.folder / "signing.key").exists():
            subprocess.run(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path),
                 "--generate-keys"],
                check=True,
                capture_output=True,
                cwd=self.folder,
            )

    def start(self, timeout: float = 60.0) -> None:
        env = dict(os.environ)
        env.pop("SYNAPSE_CACHE_FACTOR", None)
        self._output = open(self.folder / "stdout.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
            cwd=self.folder,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"synapse exited with {self.process.returncode}: "
                    + (self.folder / "stdout.log").read_text()[-3000:]
                )
            try:
                with urllib.request.urlopen(self.url + "/_matrix/client/versions", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("synapse did not answer /_matrix/client/versions in time")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        if self._output is not None:
            self._output.close()
            self._output = None

    def restart(self) -> None:
        self.stop()
        self.start()
