"""One turn, one message where it fits: consecutive plain replies to the same chat are
joined, so a greeting and the question that follows it arrive as one message (fewer
notifications, and less of each platform's rate limits spent).

Pure. A reply is joined to the next one only when it is plain text for the chat the
message came from: no buttons, no location request, no map pin, no file, no edit key (an
edited view must stay its own message); the next one keeps its buttons and edit key. The
joined text stays within the smallest platform limit (Telegram's 4,096 characters).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.messages import LineBreak, Outgoing, TargetKind, plain_text

#: Telegram's limit for one message (Matrix's is far higher)
MAX_JOINED = 4096


def _plain(out: Outgoing) -> bool:
    return (out.target.kind == TargetKind.REPLY and not out.choices and not out.request_location
            and out.pin is None and out.document is None and out.edit_key is None and bool(out.spans))


def coalesce(replies: Sequence[Outgoing]) -> list[Outgoing]:
    """``replies`` with each run of plain replies joined to the reply that follows it."""
    joined: list[Outgoing] = []
    for out in replies:
        previous = joined[-1] if joined else None
        if (previous is not None and _plain(previous) and out.target.kind == TargetKind.REPLY
                and out.spans and out.pin is None and out.document is None and previous.lang == out.lang
                and len(plain_text(previous.spans)) + len(plain_text(out.spans)) + 1 <= MAX_JOINED):
            joined[-1] = dataclasses.replace(out, spans=(*previous.spans, LineBreak(), *out.spans))
        else:
            joined.append(out)
    return joined
