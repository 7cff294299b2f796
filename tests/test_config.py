"""Configuration: unknown keys and wrong types are refused with the key's path; secrets
come from the environment when the file leaves them out."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.yaml"


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert config.database.url.startswith("sqlite:///")
    assert config.admins


def test_unknown_key_is_refused_with_its_path() -> None:
    with pytest.raises(ConfigError, match=r"telegram\.tokn"):
        parse_config({"telegram": {"tokn": "x"}}, env={})


def test_wrong_type_is_refused_with_its_path() -> None:
    with pytest.raises(ConfigError, match=r"matrix\.enabled"):
        parse_config({"matrix": {"enabled": "perhaps"}}, env={})


def test_unknown_top_level_section_is_refused() -> None:
    with pytest.raises(ConfigError, match="databse"):
        parse_config({"databse": {"url": "sqlite://"}}, env={})


def test_secrets_come_from_the_environment() -> None:
    config = parse_config(
        {"telegram": {"enabled": True}},
        env={"TELEGRAM_TOKEN": "1:AA", "MATRIX_ACCESS_TOKEN": "syt_x", "COMMUNEBOT_DB": "sqlite://"},
    )
    assert config.telegram.token is not None
    assert config.telegram.token.get_secret_value() == "1:AA"
    assert config.matrix.access_token is not None
    assert config.database.url == "sqlite://"


def test_the_environment_wins_over_the_file_for_secrets() -> None:
    """A secret set where the service runs is the one used, even when a file copied from
    somewhere carries another (issue 14: the example's placeholder used to win)."""
    config = parse_config({"telegram": {"token": "from-file"}}, env={"TELEGRAM_TOKEN": "env"})
    assert config.telegram.token is not None
    assert config.telegram.token.get_secret_value() == "env"
    kept = parse_config({"telegram": {"token": "from-file"}}, env={})
    assert kept.telegram.token is not None and kept.telegram.token.get_secret_value() == "from-file"


def test_the_example_ships_no_placeholder_secret() -> None:
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert "token" not in example["telegram"] and "password" not in example["matrix"]
    assert "123:ABC" not in EXAMPLE.read_text(encoding="utf-8")


def test_log_lines_never_carry_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from bot.config import secrets_of
    from bot.redact import RedactSecrets, redact

    config = parse_config({"matrix": {"password": "hunter2-long"}},
                          env={"TELEGRAM_TOKEN": "123456789:AAH-secret-token-value-xyz"})
    secrets = secrets_of(config)
    assert "hunter2-long" in secrets
    url = "https://api.telegram.org/bot123456789:AAH-secret-token-value-xyz/getUpdates"
    assert "AAH-secret" not in redact(url) and "«secret»" in redact(url)
    assert redact("login with hunter2-long failed", secrets) == "login with «secret» failed"
    logger = logging.getLogger("test.redact")
    logger.addFilter(RedactSecrets(secrets))
    with caplog.at_level(logging.DEBUG, logger="test.redact"):
        logger.debug("POST %s", url)
        logger.error("Matrix refused syt_abcdefghijklmnop and %s", "hunter2-long")
    assert "AAH-secret" not in caplog.text and "syt_abc" not in caplog.text and "hunter2" not in caplog.text


def test_secrets_are_not_printed() -> None:
    config = parse_config({"telegram": {"token": "123:SECRET"}}, env={})
    assert "SECRET" not in repr(config)


def test_missing_file_and_bad_yaml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("telegram: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text(yaml.safe_dump("just a string"), encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(scalar)


def test_geocoder_section_defaults_example_and_refusals() -> None:
    default = parse_config({}, env={}).geocoder
    assert (default.enabled, default.domain, default.scheme, default.timeout_s) == (
        True, "api-adresse.data.gouv.fr", "https", 3.0
    )
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert set(example["geocoder"]) == {"enabled", "domain", "scheme", "timeout_s"}
    assert load_config(EXAMPLE).geocoder == default
    with pytest.raises(ConfigError, match=r"geocoder\.timeout\b"):
        parse_config({"geocoder": {"timeout": 3}}, env={})
    with pytest.raises(ConfigError, match=r"geocoder\.timeout_s"):
        parse_config({"geocoder": {"timeout_s": 0}}, env={})
    with pytest.raises(ConfigError, match=r"geocoder\.scheme"):
        parse_config({"geocoder": {"scheme": "ftp"}}, env={})


def test_the_idle_timeout_is_configurable_and_checked() -> None:
    from bot.config import ConfigError, parse_config

    assert parse_config({}).conversation.idle_timeout_minutes == 30
    assert parse_config({"conversation": {"idle_timeout_minutes": 5}}).conversation.idle_timeout_minutes == 5
    for bad in (0, -1, "soon"):
        with pytest.raises(ConfigError, match=r"conversation\.idle_timeout_minutes"):
            parse_config({"conversation": {"idle_timeout_minutes": bad}})
