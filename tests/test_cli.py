"""Every subcommand listed in the lazy group exists and answers --help."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bot.cli import COMMANDS, main


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_subcommand_loads_and_helps(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_unknown_subcommand_is_refused() -> None:
    result = CliRunner().invoke(main, ["fly"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_run_refuses_a_config_without_adapters(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "c.yaml"
    config.write_text(f"database:\n  url: sqlite:///{tmp_path / 'x.db'}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "-c", str(config)])
    assert result.exit_code == 1
    assert "no adapter is enabled" in result.output


def test_run_names_the_bad_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "c.yaml"
    config.write_text("telegram:\n  enabled: true\n  tokn: x\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "-c", str(config)])
    assert result.exit_code == 1
    assert "telegram.tokn" in result.output
