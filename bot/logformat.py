"""``--log-format json``: one JSON object per log line, for log collectors (Loki, journald,
Elasticsearch) that index fields rather than grep text.

Secrets are masked by the same :mod:`bot.redact` filter as the text format; the formatter
masks its whole line once more, so a token in an exception's text or an ``extra`` field
never leaves the process either.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.redact import redact

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: attributes every LogRecord has: what is left are the ``extra=`` fields of the call
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """time (UTC, ISO 8601), level, logger, message, exception text if any, extra fields."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        return redact(json.dumps(line, ensure_ascii=False), self.secrets)


def configure(level: str, fmt: str, secrets: Iterable[str] = ()) -> None:
    """Log to stderr in the format asked (``text`` or ``json``), as ``logging.basicConfig``
    would: plain stream handlers already there take the format; others (a test's capture)
    are left as they are."""
    formatter = JsonFormatter(secrets) if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    root = logging.getLogger()
    plain = [h for h in root.handlers if type(h) is logging.StreamHandler]
    if not root.handlers:
        plain = [logging.StreamHandler()]
        root.addHandler(plain[0])
    for handler in plain:
        handler.setFormatter(formatter)
    root.setLevel(level.upper())


def set_secrets(secrets: Iterable[str]) -> None:
    """Once the configuration is read: the JSON formatters mask its secrets too."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonFormatter):
            handler.formatter.secrets = tuple(secrets)
