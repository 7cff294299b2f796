"""The ``matrix:`` section of the configuration."""

from __future__ import annotations

import re

import click
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

_USER_ID = re.compile(r"^@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(:\d+)?$")


class MatrixStartError(click.ClickException):
    """The adapter cannot start: no credentials, or the homeserver refused them. A click
    error, so ``communebot run`` prints it as one clear line and exits with status 1."""


class MatrixConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    homeserver: str = "https://matrix.example.org"
    user_id: str = ""
    #: or MATRIX_PASSWORD
    password: SecretStr | None = None
    #: or MATRIX_ACCESS_TOKEN
    access_token: SecretStr | None = None
    #: device id, sync token, encryption keys
    store_path: str = "./matrix-store"
    #: the device id to use with an access token, or the first password login
    device_id: str | None = None
    #: the name other users see for the bot's session
    device_name: str = "communebot"
    #: read and answer in end-to-end encrypted rooms (matrix-nio e2e, vodozemac)
    encryption: bool = True
    #: user ids whose invitations are accepted (besides the admins)
    allowed_inviters: list[str] = Field(default_factory=list)
    #: homeservers whose users' invitations are accepted; "*" accepts every server.
    #: When both lists are empty, invitations from the bot's own homeserver are accepted.
    allowed_servers: list[str] = Field(default_factory=list)
    #: the long-poll of /sync, in milliseconds
    sync_timeout_ms: int = Field(default=30_000, ge=0)
    #: the longest pause between two attempts when the homeserver cannot be reached; it
    #: bounds how long after a homeserver restart the bot is back (issue 14: within 30 s,
    #: however long the restart took)
    max_backoff_s: float = Field(default=20.0, gt=0)
    #: how often pending outbox items (announcements, digests) are looked for
    outbox_interval_s: float = Field(default=5.0, gt=0)
    #: the most outbox items sent per round (sending is paced under the server's limits)
    outbox_batch: int = Field(default=20, ge=1)
    #: the language of the adapter's own notices (room created, encryption trouble)
    language: str = Field(default="fr", pattern="^(fr|en)$")
    #: create direct rooms opened by the bot (to reach a user) with encryption on
    encrypt_direct_rooms: bool = False

    @field_validator("homeserver")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. https://matrix.example.org")
        return value.rstrip("/")

    @field_validator("user_id")
    @classmethod
    def _matrix_id(cls, value: str) -> str:
        if value and not _USER_ID.match(value):
            raise ValueError("must be a full Matrix user id, e.g. @communebot:example.org")
        return value

    @field_validator("allowed_inviters")
    @classmethod
    def _matrix_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _USER_ID.match(value):
                raise ValueError(f"{value!r} is not a full Matrix user id (@name:server)")
        return values

    @model_validator(mode="after")
    def _needs_user_when_enabled(self) -> MatrixConfig:
        if self.enabled and not self.user_id:
            raise ValueError("user_id is required when matrix is enabled")
        return self
