"""The console adapter, `communebot chat` and `communebot demo`: CliRunner and real
processes (piped and on a pseudo-terminal)."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.console import ConsoleChat, render, safe_filename, save_document
from bot.cli import main
from bot.messages import Bold, Choice, Document, ListItems, MapPin, Outgoing, Text

COMMUNEBOT = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[2]


def test_render_numbers_choices_and_prints_pins() -> None:
    item = Outgoing(
        spans=(Bold("Garage Zot"), Text(" — Le Port"),
               ListItems(items=((Text("a"),), (Text("b"),)), numbered=True)),
        choices=(Choice("x.0", "Recommander"), Choice("x.1", "Suivre")),
        pin=MapPin("Garage Zot", -20.93456, 55.29, "3 rue du Port"),
        request_location=True,
        lang="fr",
    )
    assert render(item).splitlines() == [
        "Garage Zot — Le Port",
        "1. a",
        "2. b",
        "  1. Recommander",
        "  2. Suivre",
        "📍 Garage Zot — -20.93456, 55.29000 — 3 rue du Port",
        "(Pour partager une position, écrivez : /location LATITUDE LONGITUDE)",
    ]
    assert render(Outgoing.text("hi", lang="en")) == "hi"


def test_chat_continues_the_same_user_across_runs(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    runner = CliRunner()
    first = runner.invoke(main, ["chat", "--db", db, "--user", "alice", "--lang", "en"],
                          input="hello\nsaint paul\n")
    assert first.exit_code == 0, first.output
    assert "Hello!" in first.output and "  1. Saint-Paul (974)" in first.output
    second = runner.invoke(main, ["chat", "--db", db, "--user", "alice"], input="1\n/me\n")
    assert second.exit_code == 0, second.output
    assert "Noted: your commune is Saint-Paul (974)" in second.output
    assert "Your commune: Saint-Paul (974)." in second.output
    other = runner.invoke(main, ["chat", "--db", db, "--user", "bob"], input="/me\n")
    assert "Bonjour" not in other.output and "Vous n'avez pas encore de commune" in other.output


def test_chat_reads_the_database_from_the_environment(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'env.db'}"
    result = CliRunner().invoke(main, ["chat"], input="/help\n", env={"COMMUNEBOT_DB": db})
    assert result.exit_code == 0 and "/search" in result.output
    assert (tmp_path / "env.db").exists()


def test_chat_refuses_a_bad_database_url() -> None:
    result = CliRunner().invoke(main, ["chat", "--db", "nope://"], input="x\n")
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_chat_location_command_and_empty_lines(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'l.db'}"
    result = CliRunner().invoke(main, ["chat", "--db", db],
                                input="\n/location -20.933 55.292\noui\n\n")
    assert result.exit_code == 0, result.output
    assert "Le Port (974)" in result.output
    assert "Je n'ai reçu aucun texte" in result.output


def test_demo_with_click_runner() -> None:
    script = "bonjour\nle tampon\noui\n/help\n/me\n"
    result = CliRunner().invoke(main, ["demo", "--lang", "fr"], input=script)
    assert result.exit_code == 0, result.output
    assert "Votre commune est bien Le Tampon (974) ?" in result.output
    assert "C'est noté : votre commune est Le Tampon (974)" in result.output
    assert "/recommend" in result.output


def _run(args: list[str], stdin: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    env.pop("COMMUNEBOT_DB", None)
    return subprocess.run([*COMMUNEBOT, *args], input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=env, check=False)


def test_demo_as_a_real_process(tmp_path: Path) -> None:
    done = _run(["demo", "--lang", "en"], "hi\n97460\n/cancel\n", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Hello!" in done.stdout and "Saint-Paul (974)" in done.stdout
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("*.db"))  # the demo leaves nothing behind


def test_chat_as_a_real_process_keeps_state(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    first = _run(["chat", "--db", db, "--lang", "fr"], "salut\nsaint louis\n", tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Laquelle ?" in first.stdout
    second = _run(["chat", "--db", db], "Saint-Louis (974)\n", tmp_path)
    assert "votre commune est Saint-Louis (974)" in second.stdout, second.stdout + second.stderr


def test_demo_is_interactive_on_a_terminal(tmp_path: Path) -> None:
    """On a TTY the demo shows a banner and a prompt, and leaves on Ctrl-D."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "TERM": "dumb"}
    proc = subprocess.Popen([*COMMUNEBOT, "demo", "--lang", "fr"], stdin=slave, stdout=slave,
                            stderr=slave, cwd=tmp_path, env=env, close_fds=True)
    os.close(slave)
    seen = b""

    def read_until(marker: bytes, timeout: float = 60) -> None:
        nonlocal seen
        end = time.monotonic() + timeout
        while marker not in seen and time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        assert marker in seen, seen.decode(errors="replace")

    try:
        read_until(b"> ")
        assert "Démo de communebot".encode() in seen
        os.write(master, b"/help\n")
        read_until(b"/settings")
        end = time.monotonic() + 60
        while not seen.endswith(b"> ") and time.monotonic() < end:  # the next prompt
            read_until(b"> ")
            if not seen.endswith(b"> "):
                ready, _, _ = select.select([master], [], [], 0.5)
                if ready:
                    seen += os.read(master, 4096)
        os.write(master, b"\x04")  # Ctrl-D
        end = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < end:  # keep draining the terminal
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_chat_lang_switches_a_known_user(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lang.db'}"
    runner = CliRunner()
    first = runner.invoke(main, ["chat", "--db", db], input="/start 97415\n")
    assert "C'est noté" in first.output
    second = runner.invoke(main, ["chat", "--db", db, "--lang", "en"], input="/me\n")
    assert "Your commune: Saint-Paul (974)." in second.output
    third = runner.invoke(main, ["chat", "--db", db], input="/me\n")
    assert "Your commune" in third.output  # the choice sticks, like /settings


def test_results_numbered_in_the_text_are_not_listed_again() -> None:
    from bot.messages import Choice, ListItems, Text

    item = Outgoing(
        spans=(Text("Résultats :"), ListItems(((Text("Crèche A"),), (Text("Crèche B"),)), numbered=True)),
        choices=(Choice("a", "Crèche A"), Choice("b", "Crèche…"), Choice("m", "Plus")),
    )
    text = render(item)
    assert text.count("Crèche A") == 1
    assert "Crèche…" not in text  # a label shortened for buttons still matches its line
    assert "  3. Plus" in text


class _Replies:
    """Stands for the engine: every line gets the same replies."""

    def __init__(self, *items: Outgoing) -> None:
        self.items = list(items)

    def handle_sync(self, incoming: object) -> list[Outgoing]:
        return self.items


def test_a_document_is_written_in_the_working_directory_never_over_a_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fete.ics").write_bytes(b"an earlier export")
    data = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    item = Outgoing.text("Ajoutez-le à votre agenda :",
                         document=Document("fete.ics", "text/calendar", data))
    chat = ConsoleChat(_Replies(item), lang="fr")  # type: ignore[arg-type]
    out = io.StringIO()
    chat.run(["ics", "ics"], out)
    assert (tmp_path / "fete.ics").read_bytes() == b"an earlier export"
    assert (tmp_path / "fete-1.ics").read_bytes() == data
    assert (tmp_path / "fete-2.ics").read_bytes() == data
    assert out.getvalue().splitlines() == [
        "Ajoutez-le à votre agenda :",
        f"📎 Fichier enregistré : {tmp_path / 'fete-1.ics'}",
        "Ajoutez-le à votre agenda :",
        f"📎 Fichier enregistré : {tmp_path / 'fete-2.ics'}",
    ]
    english = Outgoing(document=Document("export", "application/zip", b"PK"), lang="en")
    [line] = ConsoleChat(_Replies(english)).send("x")  # type: ignore[arg-type]
    assert line == f"📎 File saved: {tmp_path / 'export'}"
    assert (tmp_path / "export").read_bytes() == b"PK"


def test_a_document_name_cannot_leave_the_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "here"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in ("../evil.ics", "/tmp/evil.ics", "..\\evil.ics", "..", ""):
        path = save_document(Document(name, "text/calendar", b"x"), folder)
        assert path.parent == folder, name
    assert sorted(p.name for p in folder.iterdir()) == [
        "document", "document-1", "evil-1.ics", "evil-2.ics", "evil.ics"]
    assert not (tmp_path / "evil.ics").exists()
    assert safe_filename("a\nb.ics") == "ab.ics"


def test_without_saving_a_document_shows_by_name(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """What the scenario transcripts show: a readable line, and nothing written."""
    monkeypatch.chdir(tmp_path)
    item = Outgoing(document=Document("fete.ics", "text/calendar", b"x"), lang="en")
    assert render(item) == "📎 [file: fete.ics]"
    assert render(Outgoing(document=Document("f.ics", "text/calendar", b"x"))) == (
        "📎 [fichier : f.ics]")
    assert ConsoleChat(_Replies(item), save_files=False).send("x") == [  # type: ignore[arg-type]
        "📎 [file: fete.ics]"]
    assert list(tmp_path.iterdir()) == []
