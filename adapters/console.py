"""The console adapter: one message per input line, replies as plain text.

Used by ``communebot chat`` and ``communebot demo``. Choices are printed numbered and
answered by typing the number or the label (the engine maps them); ``/location LAT LON``
stands for sharing a location (the engine reads it); a map pin is printed as name,
coordinates and address; a document is written in the current directory (never over an
existing file) and its path printed. Nothing here knows about dialogs: it only renders
Outgoing.

The outbox: what was queued for this console user (their digests, notices of what they
follow, a moderator's broadcast) is printed before the first line is read and again
before each next one, then marked sent, as the Telegram and Matrix adapters deliver
theirs (at least once: a message printed but not yet marked comes again next time).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bot import outbox
from bot.engine import Engine
from bot.i18n import translator
from bot.messages import Document, Incoming, Outgoing, Platform, listed_choices, plain_text

PLATFORM: Platform = "console"

PROMPT = "> "
#: the name a document gets when its own is empty or only a path
FALLBACK_NAME = "document"


def safe_filename(name: str) -> str:
    """The last path component only: a filename from the engine (or a directory entry)
    must never write outside the folder (``../x``, ``/etc/x``) nor be a hidden dotfile."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable()).strip().lstrip(".")
    return base or FALLBACK_NAME


def save_document(document: Document, folder: Path) -> Path:
    """Write the document in ``folder`` under its own name, or ``name-1.ext``,
    ``name-2.ext``… when taken: what was saved before (an earlier export) stays intact."""
    name = Path(safe_filename(document.filename))
    stem, suffix = name.stem, name.suffix
    for number in range(10_000):
        path = folder / (name.name if number == 0 else f"{stem}-{number}{suffix}")
        try:
            with path.open("xb") as fh:  # exclusive: never replaces a file, even in a race
                fh.write(document.data)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free name for {name.name} in {folder}")


def render(item: Outgoing, saved: Path | None = None) -> str:
    """One Outgoing as console text (pure): body, numbered choices, pin, document,
    location hint. ``saved``: where the document was written (else only its name shows,
    as in the scenario transcripts)."""
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
    if item.document is not None:
        if saved is not None:
            lines.append(t("console.document_saved", path=str(saved)))
        else:
            lines.append(t("console.document", filename=item.document.filename))
    if item.request_location:
        lines.append(t("console.location_hint"))
    return "\n".join(line for line in lines if line)


class ConsoleChat:
    """One console user talking to an engine (their state survives across runs)."""

    def __init__(self, engine: Engine, user_id: str = "console", lang: str | None = None,
                 display_name: str = "", save_files: bool = True) -> None:
        """``save_files=False`` shows documents by name only (test transcripts must not
        litter the working directory)."""
        self.engine = engine
        self.user_id = user_id
        self.lang = lang
        self.display_name = display_name
        self.save_files = save_files

    @property
    def chat_id(self) -> str:
        return f"{PLATFORM}:{self.user_id}"

    def incoming(self, line: str) -> Incoming:
        return Incoming(
            platform=PLATFORM,
            user_id=self.user_id,
            chat_id=self.chat_id,
            text=line,
            display_name=self.display_name,
            language_hint=self.lang,
        )

    def send(self, line: str) -> list[str]:
        """The rendered replies to one line (documents written in the current directory)."""
        return [self.show(item) for item in self.engine.handle_sync(self.incoming(line))]

    def show(self, item: Outgoing) -> str:
        """Render one reply, saving its document first so the text can say where."""
        saved = None
        if item.document is not None and self.save_files:
            saved = save_document(item.document, Path.cwd())
        return render(item, saved)

    def deliver(self, out: TextIO, *, interactive: bool = False, batch: int = 20) -> int:
        """Print this user's undelivered outbox messages (each under a "message for you"
        line), marking each sent once printed; returns how many. Nothing when the engine
        has no store (a stand-in engine in tests)."""
        sessions = getattr(self.engine, "sessions", None)
        if sessions is None:
            return 0
        chats = (outbox.user_chat_id(self.user_id), self.chat_id)
        delivered = 0
        while True:
            with sessions() as session, session.begin():
                items = outbox.claim(session, PLATFORM, batch, chat_ids=chats)
                for item in items:
                    heading = translator(item.outgoing.lang)("console.outbox")
                    out.write(heading + "\n" + self.show(item.outgoing) + "\n")
                    if interactive:
                        out.write("\n")
                    out.flush()
                    outbox.mark_sent(session, item.id)
            delivered += len(items)
            if len(items) < batch:
                return delivered

    def run(self, lines: Iterable[str], out: TextIO, *, interactive: bool = False) -> int:
        """Answer every line until the input ends, delivering this user's outbox before
        each line is read; returns how many lines were handled."""
        count = 0
        self.deliver(out, interactive=interactive)
        for raw in lines:
            line = raw.rstrip("\r\n")
            count += 1
            for block in self.send(line):
                out.write(block + "\n")
            if interactive:
                out.write("\n")
            out.flush()
            self.deliver(out, interactive=interactive)
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
