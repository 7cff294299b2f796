"""The ``telegram:`` section of the configuration.

Every option has a production default, so ``enabled`` and the token are enough to run a
bot with long polling. Webhook mode needs ``mode: webhook`` and ``webhook_url``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    #: BotFather's token; or the TELEGRAM_TOKEN environment variable
    token: SecretStr | None = None
    #: a self-hosted Bot API server, or a test emulator
    base_url: str = "https://api.telegram.org/bot"

    #: ``polling`` (getUpdates, works behind NAT) or ``webhook`` (Telegram calls us)
    mode: Literal["polling", "webhook"] = "polling"
    #: seconds a getUpdates long poll waits for news before returning empty
    poll_timeout: int = Field(default=30, ge=0, le=50)
    #: the public HTTPS URL Telegram posts updates to (webhook mode), e.g.
    #: ``https://bot.example.org/telegram``; its path is the path we serve
    webhook_url: str | None = None
    #: where the webhook HTTP server listens (behind a TLS reverse proxy)
    listen: str = "127.0.0.1"
    port: int = Field(default=8443, ge=0, le=65535)
    #: checked against ``X-Telegram-Bot-Api-Secret-Token`` on every webhook request;
    #: a random one is generated at each start when unset (or env TELEGRAM_WEBHOOK_SECRET)
    secret_token: SecretStr | None = None
    #: parallel webhook connections Telegram may open (1-100)
    max_connections: int = Field(default=40, ge=1, le=100)
    #: forget the updates Telegram queued while the bot was down
    drop_pending_updates: bool = False
    #: this process's name when several webhook workers share one database and one URL
    #: (README, "Running several workers"): each keeps and replays its own inbox. Give
    #: each worker a distinct, stable name (a restarted worker must get its name back)
    worker_id: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]{0,64}$")

    #: seconds to wait for Telegram's answer to one API call, and to connect
    request_timeout: float = Field(default=10.0, gt=0)
    connect_timeout: float = Field(default=5.0, gt=0)
    #: HTTP connections to the Bot API for everything but getUpdates (which has its own).
    #: python-telegram-bot's default of 256 costs CPU on every request: httpcore checks
    #: each pooled connection for every request it places (issue 19's profile: a quarter
    #: of the process's time); a few keep-alive connections carry hundreds of messages/s
    connection_pool_size: int = Field(default=16, ge=1, le=256)
    #: retries of one API call after a 429, a 5xx or a network error
    max_retries: int = Field(default=5, ge=0)
    #: first back-off delay after a 5xx/network error (doubles each time, capped)
    backoff_seconds: float = Field(default=1.0, gt=0)
    backoff_max_seconds: float = Field(default=30.0, gt=0)

    #: pacing (Telegram: ~30 messages/s overall, 1/s per chat, 20/min per group)
    overall_per_second: float = Field(default=30.0, gt=0)
    chat_interval_seconds: float = Field(default=1.0, ge=0)
    group_per_minute: int = Field(default=20, ge=1)

    #: how often commune-room posts and follower notices (the outbox) are delivered
    outbox_interval_seconds: float = Field(default=5.0, gt=0)
    #: how long a group's administrator list is trusted before asking Telegram again
    admin_cache_seconds: float = Field(default=300.0, ge=0)
    #: publish the commands menu (setMyCommands, French and English) at start
    set_commands: bool = True

    @field_validator("secret_token")
    @classmethod
    def _secret_charset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not SECRET_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("secret_token: 1-256 characters among A-Z a-z 0-9 _ -")
        return value

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> TelegramConfig:
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError("mode: webhook needs webhook_url (the public HTTPS URL)")
        return self
