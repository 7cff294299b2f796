"""Typed dialog states: each dialog declares the shape of the state it keeps between
messages (a pydantic model on its spec); the engine validates what a dialog returns before
storing it and what it reads back before handing it over.

Why at the boundary: a misspelt key, a step nobody declared or a value that is not JSON
fails loudly where it is written, instead of surfacing messages later as a lost
conversation; and an old stored state that no longer fits is dropped with a word to the
citizen instead of crashing the dialog. Dialogs keep reading their state as a mapping (the
model's JSON form, keys present only when the dialog set them), so presence keeps its
meaning ("comment" in state).

``StepState.upgrade`` is where a model turns an older stored shape into the current one
(the envelope's ``sv`` says which version wrote it).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

JSON = dict[str, Any]

__all__ = ["CommuneQuestion", "StateError", "StepState", "dump_state", "load_state"]


class StateError(ValueError):
    """A state that does not fit its dialog's model (a bug when written, stale when read)."""


class StepState(BaseModel):
    """The fields every dialog state has: the step it waits at."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    #: bump when the shape changes, and teach :meth:`upgrade` the older one
    version: ClassVar[int] = 1

    step: str | None = None

    @classmethod
    def upgrade(cls, data: JSON, stored_version: int) -> JSON:
        """An older stored state in the current shape (default: as it is)."""
        return data


class CommuneQuestion(StepState):
    """What ``dialogs.common.ask_commune`` keeps while the commune question is open."""

    commune_key: str | None = Field(None, alias="_commune_key")
    commune_values: dict[str, str] = Field(default_factory=dict, alias="_commune_values")
    commune_candidates: list[str] = Field(default_factory=list, alias="_commune_candidates")


def _dump(model: BaseModel) -> JSON:
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def dump_state(model: type[StepState], data: JSON) -> JSON:
    """``data`` checked against ``model``, as it will be stored; :class:`StateError` when it
    does not fit (the dialog wrote something its model does not declare)."""
    try:
        return _dump(model.model_validate(data))
    except ValidationError as exc:
        raise StateError(f"{model.__name__}: {exc}") from exc


def load_state(model: type[StepState], data: JSON, stored_version: int) -> JSON:
    """A stored state, upgraded and checked; :class:`StateError` when it cannot be read."""
    try:
        return _dump(model.model_validate(model.upgrade(dict(data), stored_version)))
    except ValidationError as exc:
        raise StateError(f"{model.__name__}: {exc}") from exc
