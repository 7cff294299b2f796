"""The console adapter: one message per input line, replies as plain text.

Used by ``communebot chat`` and ``communebot demo``. Choices are printed numbered and
answered by typing the number or the label (the engine maps them); ``/location LAT LON``
stands for sharing a location (the engine reads it); a map pin is printed as name,
coordinates and address. Nothing here knows about dialogs: it only renders Outgoing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TextIO

from bot.engine import Engine
from bot.i18n import translator
from bot.messages import Incoming, Outgoing, listed_choices, plain_text

PROMPT = "> "


def render(item: Outgoing) -> str:
    """One Outgoing as console text (pure): body, numbered choices, pin, location hint."""
    t = translator(item.lang)
    lines = [plain_text(item.spans).rstrip("\n")] if item.spans else []
    start = listed_choices(item)
    for number, option in enumerate(item.choices[start:], start=start + 1):
        lines.append(f"  {number}. {option.label}")
    if item.pin is not None:
        pin = item.pin
        where = f"📍 {pin.name} — {pin.lat:.5f}, {pin.lon:.5f}"
        if pin.address:
            where += f" — {pin.address}"
        lines.append(where)
    if item.request_location:
        lines.append(t("console.location_hint"))
    return "\n".join(line for line in lines if line)


class ConsoleChat:
    """One console user talking to an engine (their state survives across runs)."""

    def __init__(self, engine: Engine, user_id: str = "console", lang: str | None = None,
                 display_name: str = "") -> None:
        self.engine = engine
        self.user_id = user_id
        self.lang = lang
        self.display_name = display_name

    def incoming(self, line: str) -> Incoming:
        return Incoming(
            platform="console",
            user_id=self.user_id,
            chat_id=f"console:{self.user_id}",
            text=line,
            display_name=self.display_name,
            language_hint=self.lang,
        )

    def send(self, line: str) -> list[str]:
        """The rendered replies to one line."""
        return [render(item) for item in self.engine.handle_sync(self.incoming(line))]

    def run(self, lines: Iterable[str], out: TextIO, *, interactive: bool = False) -> int:
        """Answer every line until the input ends; returns how many lines were handled."""
        count = 0
        for raw in lines:
            line = raw.rstrip("\r\n")
            count += 1
            for block in self.send(line):
                out.write(block + "\n")
            if interactive:
                out.write("\n")
            out.flush()
        return count


def interactive_lines(prompt: str = PROMPT) -> Iterable[str]:
    """Lines typed at a terminal (with line editing), until Ctrl-D or Ctrl-C."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    while True:
        try:
            yield input(prompt)
        except (EOFError, KeyboardInterrupt):
            print()
            return
