"""The ``matrix:`` section of the configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr


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
