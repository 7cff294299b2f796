"""Configuration: one YAML file, checked at start.

Unknown keys and wrong types are refused with the key's path (``telegram.tokn: extra
inputs are not permitted``); every secret can also come from the environment, so the
file can be committed without them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from adapters.matrix.config import MatrixConfig
from adapters.telegram.config import TelegramConfig
from directory.moderation import valid_account_key


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key."""


class DatabaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = "sqlite:///communebot.db"


class GeocoderConfig(BaseModel):
    """Typed addresses to points through the Base Adresse Nationale
    (``directory.geocoding``); on failure or timeout the commune's centre is kept."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    domain: str = "api-adresse.data.gouv.fr"
    scheme: Literal["https", "http"] = "https"
    #: seconds a typed address may wait for the BAN before the commune's centre is used
    timeout_s: float = Field(default=3.0, gt=0, le=30)


class ConversationConfig(BaseModel):
    """How long the bot waits on an open question before closing it (said at the next
    message); a dialog's spec may set its own."""

    model_config = ConfigDict(extra="forbid")

    idle_timeout_minutes: float = Field(default=30.0, gt=0, le=7 * 24 * 60)


class ModerationConfig(BaseModel):
    """Abuse limits per account: a flood of messages gets one polite answer, then silence
    until it cools down; new entries and reports are capped per day."""

    model_config = ConfigDict(extra="forbid")

    flood_burst: int = Field(default=20, ge=1, le=1000)
    flood_per_minute: float = Field(default=30.0, gt=0, le=6000)
    daily_entries: int = Field(default=20, ge=1, le=10_000)
    daily_reports: int = Field(default=10, ge=1, le=10_000)


class PrivacyConfig(BaseModel):
    """How long traces that name a person are kept (conversations left open, handled
    event ids, delivered messages, messages per day, the audit log)."""

    model_config = ConfigDict(extra="forbid")

    retention_days: int = Field(default=30, ge=1, le=3650)


class MonitoringConfig(BaseModel):
    """``/healthz`` and Prometheus ``/metrics`` (``bot.health``), for the operator: bound to
    the loopback interface unless told otherwise."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    matrix: MatrixConfig = Field(default_factory=MatrixConfig)
    geocoder: GeocoderConfig = Field(default_factory=GeocoderConfig)
    conversation: ConversationConfig = Field(default_factory=ConversationConfig)
    moderation: ModerationConfig = Field(default_factory=ModerationConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    #: ``platform:user id`` of the people who run the bot: ids, never display names
    admins: list[str] = Field(default_factory=list)

    @field_validator("admins")
    @classmethod
    def _admins_are_account_ids(cls, admins: list[str]) -> list[str]:
        wrong = [a for a in admins if not valid_account_key(a)]
        if wrong:
            raise ValueError(
                f"{', '.join(repr(w) for w in wrong[:3])}: an admin is a platform and an account id, "
                "e.g. \"telegram:123\", \"matrix:@ana:example.org\" or \"console:boss\" "
                "(a display name or username can be copied by anyone)")
        return [a.strip() for a in admins]


_ENV_SECRETS: dict[tuple[str, str], str] = {
    ("telegram", "token"): "TELEGRAM_TOKEN",
    ("telegram", "secret_token"): "TELEGRAM_WEBHOOK_SECRET",
    ("matrix", "password"): "MATRIX_PASSWORD",
    ("matrix", "access_token"): "MATRIX_ACCESS_TOKEN",
}


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{path}: {item['msg']}")
    return "; ".join(lines)


def parse_config(data: dict[str, Any] | None, env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ) if env is None else env
    try:
        config = Config.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    for (section, key), variable in _ENV_SECRETS.items():
        # the environment wins over the file: a secret is set where the service runs, and
        # a file copied from the example must not shadow it
        if env.get(variable):
            setattr(getattr(config, section), key, SecretStr(env[variable]))
    if env.get("COMMUNEBOT_DB"):
        config.database.url = env["COMMUNEBOT_DB"]
    return config


def load_config(path: str | Path) -> Config:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return parse_config(raw)


def secrets_of(config: Config) -> list[str]:
    """Every secret of the configuration, for the log filter (``bot.redact``)."""
    found = []
    for section, key in _ENV_SECRETS:
        value = getattr(getattr(config, section), key, None)
        if isinstance(value, SecretStr) and value.get_secret_value():
            found.append(value.get_secret_value())
    return found
