"""A dialog declared once: its :class:`DialogSpec`, and the tables derived from all specs.

Each module in ``dialogs/`` declares ``SPEC = DialogSpec(...)`` beside its ``DIALOG``. The
router's command and intent tables, the Telegram command menu and the ``/help`` command list
are all computed here from those specs (:class:`Specs`), so adding a dialog is adding one
file: nothing else lists dialog names, commands or intents.

Pure: no I/O, no import of the dialogs (the registry in ``dialogs/__init__.py`` collects
the specs and hands them over).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from bot.dialog_state import StepState

#: how long an open dialog waits for an answer before it expires (config can change it)
DEFAULT_IDLE_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Command:
    """One slash command: its name, its aliases, and whether the menu shows it."""

    name: str
    aliases: tuple[str, ...] = ()
    #: shown in the Telegram menu and ``/help`` (description: ``help.command.<name>``)
    menu: bool = True


@dataclass(frozen=True)
class DialogSpec:
    """Everything the engine needs to know about one dialog, declared once.

    ``commands``: slash commands in both languages (``/search``, ``/chercher``) that open it.
    ``intents``: NLU intents that open it from free text.
    ``command_intent``: the intent a command's argument text implies (``/search crèche``
    is read as a search even when the NLU would not say so).
    ``steps``: the step names its state may be at (documented and checked by tests).
    ``state_version``: bump it when the stored state's shape changes; older states are
    upgraded by the dialog or dropped with an apology, never crash.
    ``interruptible``: a clearly recognised new request leaves it (a question typed where
    it asked for a confirmation); False for dialogs whose answers are themselves free text
    that reads like requests (a project's description).
    ``aside``: answered without closing the open dialog (``/help``, ``/me``, small talk).
    ``idle_timeout``: None means the engine's default (30 min unless configured).
    """

    name: str
    commands: tuple[Command, ...] = ()
    intents: frozenset[str] = frozenset()
    command_intent: str | None = None
    steps: tuple[str, ...] = ()
    state_version: int = 1
    interruptible: bool = True
    #: steps whose answer is free text (a name, a description): there only a command or a
    #: cancel word leaves the dialog, since any sentence could be the answer
    free_text_steps: tuple[str, ...] = ()
    #: steps that ask for a category or a commune: a search-shaped message there
    #: ("garagiste au Port" asked what kind of place) is read as the answer
    slot_steps: tuple[str, ...] = ()
    #: steps where a typed number beyond the offered choices is itself the answer ("9" at
    #: the hour buttons 7, 8, 12, 18 h), not a wrong choice number
    number_steps: tuple[str, ...] = ()
    #: steps that show something to browse (a result list, a card) and ask nothing: a
    #: "merci" or "ok" there is answered without reminding of a question never asked
    browse_steps: tuple[str, ...] = ()
    aside: bool = False
    idle_timeout: timedelta | None = None
    help_key: str | None = None
    #: the typed shape of the state it keeps (validated when written and when read back)
    state: type[StepState] | None = None
    #: free-form notes for the README's dialog table
    summary: str = field(default="", compare=False)

    def command_names(self) -> tuple[str, ...]:
        return tuple(n for c in self.commands for n in (c.name, *c.aliases))


#: engine-level commands that belong to no dialog (the menu shows ``cancel``)
ENGINE_COMMANDS: tuple[Command, ...] = (
    Command("cancel", ("annuler", "stop")),
    Command("location", ("position",), menu=False),
)


@dataclass(frozen=True)
class Specs:
    """The derived tables: built once from every loaded spec."""

    by_name: Mapping[str, DialogSpec]
    command_dialogs: Mapping[str, str]
    intent_dialogs: Mapping[str, str]
    menu: tuple[str, ...]

    @classmethod
    def build(cls, specs: Iterable[DialogSpec]) -> Specs:
        by_name: dict[str, DialogSpec] = {}
        commands: dict[str, str] = {}
        intents: dict[str, str] = {}
        menu: list[str] = []
        reserved = {n for c in ENGINE_COMMANDS for n in (c.name, *c.aliases)}
        for spec in specs:
            if spec.name in by_name:
                raise ValueError(f"two dialogs are called {spec.name!r}")
            by_name[spec.name] = spec
            for command in spec.commands:
                for name in (command.name, *command.aliases):
                    if name in commands or name in reserved:
                        raise ValueError(f"command /{name} is declared twice")
                    commands[name] = spec.name
                if command.menu:
                    menu.append(command.name)
            for intent in spec.intents:
                if intent in intents:
                    raise ValueError(f"intent {intent!r} opens two dialogs")
                intents[intent] = spec.name
        menu += [c.name for c in ENGINE_COMMANDS if c.menu]
        return cls(by_name=by_name, command_dialogs=commands, intent_dialogs=intents,
                   menu=tuple(menu))

    def dialog_for_command(self, name: str) -> str | None:
        return self.command_dialogs.get(name)

    def dialog_for_intent(self, intent: str) -> str | None:
        return self.intent_dialogs.get(intent)

    def idle_timeout(self, dialog: str, default: timedelta = DEFAULT_IDLE_TIMEOUT) -> timedelta:
        spec = self.by_name.get(dialog)
        return spec.idle_timeout if spec is not None and spec.idle_timeout else default
