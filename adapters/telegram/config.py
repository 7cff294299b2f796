"""The ``telegram:`` section of the configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    #: BotFather's token; or the TELEGRAM_TOKEN environment variable
    token: SecretStr | None = None
    #: a self-hosted Bot API server, or a test emulator
    base_url: str = "https://api.telegram.org/bot"
