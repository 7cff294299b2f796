"""``communebot run -c config.yaml`` with Matrix enabled, as an operator starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import PASSWORD, register_bot
from .homeserver import Synapse

pytestmark = pytest.mark.synapse


async def test_communebot_run_answers_on_matrix(people, synapse: Synapse, tmp_path: Path) -> None:
    bot_id, _ = await register_bot(synapse)
    config = {
        "database": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
        "matrix": {
            "enabled": True,
            "homeserver": synapse.url,
            "user_id": bot_id,
            "store_path": str(tmp_path / "matrix-store"),
            "sync_timeout_ms": 500,
            "allowed_servers": [synapse.server_name],
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "MATRIX_PASSWORD": PASSWORD}  # the secret comes from the environment
    env.pop("COMMUNEBOT_DB", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "run", "-c", str(path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        alice = await people("alice")
        room = await alice.dm(bot_id)
        await alice.wait_joined(room, bot_id, timeout=40)
        await alice.say(room, "bonjour")
        answer = await alice.wait_for(
            lambda r, s: r == room and s["sender"] == bot_id, timeout=30
        )
        assert answer["content"]["msgtype"] == "m.notice"
        assert "Bonjour" in answer["content"]["body"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    log = output.decode(errors="replace")
    assert process.returncode == 0, log[-3000:]
    # issue 14, finding 8: matrix-nio's aiohttp session closed, nothing left half-done
    assert "Unclosed" not in log and "Traceback" not in log, log[-3000:]
    saved = yaml.safe_load((tmp_path / "matrix-store" / "communebot-matrix.json").read_text())
    assert saved["user_id"] == bot_id and saved["next_batch"]


def test_communebot_run_refuses_a_wrong_password_clearly(synapse: Synapse, tmp_path: Path) -> None:
    config = {
        "database": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
        "matrix": {
            "enabled": True,
            "homeserver": synapse.url,
            "user_id": f"@nobody:{synapse.server_name}",
            "password": "wrong",
            "store_path": str(tmp_path / "matrix-store"),
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MATRIX_", "COMMUNEBOT_DB"))}
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "run", "-c", str(path)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1
    assert "Error: the Matrix login was refused" in done.stderr
    assert "Traceback" not in done.stderr
