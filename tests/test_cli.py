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


def test_a_command_that_finds_nothing_exits_1_as_grep_does(tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    none = runner.invoke(main, ["commune", "zzzzqqqx"])
    assert none.exit_code == 1 and "zzzzqqqx" in none.output
    assert runner.invoke(main, ["commune", "saint paul"]).exit_code == 0
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    empty = runner.invoke(main, ["search", "crèche", "--near", "97415", "--db", db])
    assert empty.exit_code == 1
    assert runner.invoke(main, ["search", "crèche", "--near", "97415", "--db", db, "--json"]).exit_code == 1


def test_an_unsupported_database_is_a_clear_error_not_a_traceback() -> None:
    result = CliRunner().invoke(main, ["search", "crèche", "--db", "mysql://u:p@localhost/x"])
    assert result.exit_code != 0 and "unsupported database 'mysql'" in result.output
    assert "Traceback" not in result.output


def test_chat_reads_the_configuration_like_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`communebot chat -c config.yaml --user boss`: the database and the admins of the
    file; the console account is console:ID."""
    config = tmp_path / "config.yaml"
    config.write_text(f'database:\n  url: "sqlite:///{tmp_path / "c.db"}"\nadmins: ["console:boss"]\n',
                      encoding="utf-8")
    runner = CliRunner()
    boss = runner.invoke(main, ["chat", "-c", str(config), "--user", "boss"], input="/start 97415\n/admin\n")
    assert boss.exit_code == 0, boss.output
    assert "grant <" in boss.output  # a superadmin's help
    other = runner.invoke(main, ["chat", "-c", str(config), "--user", "joe"],
                          input="/start 97415\n/admin stats\n")
    assert "pas le droit" in other.output
    bad = tmp_path / "bad.yaml"
    bad.write_text('admins: ["boss"]\n', encoding="utf-8")
    refused = runner.invoke(main, ["chat", "-c", str(bad)], input="")
    assert refused.exit_code != 0 and "account id" in refused.output
