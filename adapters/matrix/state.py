"""What the Matrix adapter keeps across restarts, in one JSON file under ``store_path``.

The device id must survive (the encryption keys belong to it) and so must the sync token:
matrix-nio only saves ``next_batch`` in its encryption store, and without it a restart
would either replay old messages or skip the ones sent while the bot was down. The file
is written atomically (temp file + rename) and readable by its owner only, since it holds
the access token of a password login.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FILE = "communebot-matrix.json"


@dataclass
class AdapterState:
    user_id: str = ""
    device_id: str = ""
    access_token: str = ""
    #: the homeserver the token belongs to (a token is useless on another one)
    homeserver: str = ""
    next_batch: str = ""
    #: user id -> the direct room the bot uses to reach them
    direct_rooms: dict[str, str] = field(default_factory=dict)


def state_path(store_path: str | Path) -> Path:
    return Path(store_path) / STATE_FILE


def load_state(store_path: str | Path) -> AdapterState:
    """A missing or unreadable file is a first start, not an error."""
    path = state_path(store_path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return AdapterState()
    if not isinstance(raw, dict):
        return AdapterState()
    state = AdapterState()
    for key in ("user_id", "device_id", "access_token", "homeserver", "next_batch"):
        if isinstance(raw.get(key), str):
            setattr(state, key, raw[key])
    rooms = raw.get("direct_rooms")
    if isinstance(rooms, dict):
        state.direct_rooms = {str(k): str(v) for k, v in rooms.items()}
    return state


def save_state(store_path: str | Path, state: AdapterState) -> None:
    folder = Path(store_path)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".state-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(asdict(state), fh, indent=1, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, state_path(folder))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Bounded(OrderedDict[str, str]):
    """A small LRU map (own event ids, edit keys): memory stays flat on a long run."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: str, value: str) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
