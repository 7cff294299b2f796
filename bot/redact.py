"""Secrets never reach a log line: a logging filter that masks them wherever they appear.

python-telegram-bot logs the Bot API URL (``…/bot<token>/getUpdates``) at DEBUG, and an
HTTP error can quote it; a Matrix access token can appear in a request dump. The filter
is installed on the root handlers by ``communebot run``: it replaces every configured
secret, and anything shaped like a Telegram token or a Matrix access token, in the
formatted message and its arguments, at every level.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

#: a Telegram bot token (``123456:ABC-…``) and a Matrix access token (``syt_…``, ``mct_…``)
_SHAPES = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{20,}|\b(?:syt|mct|syl)_[A-Za-z0-9_=-]{10,}")
MASK = "«secret»"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret (and anything shaped like a token) masked (pure)."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, MASK)
    return _SHAPES.sub(MASK, text)


class RedactSecrets(logging.Filter):
    """Masks secrets in each record: the message is formatted here, once, and frozen."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is still logged, masked as it stands
            message = str(record.msg)
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            # formatted here, so that the handler's formatter prints the masked text
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


def install(secrets: Iterable[str]) -> RedactSecrets:
    """Put the filter on every handler of the root logger (and keep it for new ones)."""
    found = RedactSecrets(secrets)
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(found)
    root.addFilter(found)
    return found
