"""Issue 15, deployment: the Dockerfile, compose.yaml and the systemd unit stay true to
the code (paths they copy exist, commands and flags they call exist, environment
variables they set are the ones the configuration reads, the container's configuration
is valid), and the built package carries what the image relies on: a wheel unpacked away
from the checkout runs ``communebot demo`` offline and answers a search.

Building the image needs a Docker engine, which this machine kind does not run:
``deploy/test-image.sh`` does it where one is reachable (called here with
``--if-available``, which says plainly when it tested nothing)."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main as cli_main
from bot.config import _ENV_SECRETS, parse_config

ROOT = Path(__file__).resolve().parent.parent


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def cli_help(*args: str) -> str:
    result = CliRunner().invoke(cli_main, [*args, "--help"])  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    return result.output


def test_the_dockerfile_copies_what_exists_and_runs_a_command_that_exists() -> None:
    text = dockerfile()
    sources = [part for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M)
               for part in line.split()[:-1]]
    assert sources and all((ROOT / source).exists() for source in sources), sources
    package_dirs = {"bot", "adapters", "directory", "dialogs", "locales"}
    assert package_dirs <= set(sources)  # every package of pyproject.toml's find
    entry = json.loads(re.search(r"^ENTRYPOINT (.+)$", text, re.M).group(1))  # type: ignore[union-attr]
    command = json.loads(re.search(r"^CMD (.+)$", text, re.M).group(1))  # type: ignore[union-attr]
    assert entry == ["communebot"]
    assert 'communebot = "bot.cli:main"' in (ROOT / "pyproject.toml").read_text()
    assert command[0] == "run" and "-c" in command and "-c" in cli_help(command[0])
    assert "demo" in cli_help()
    assert re.search(r"^USER (?!root)", text, re.M)  # not root


def test_compose_sets_the_variables_the_configuration_reads() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    bot = compose["services"]["bot"]
    read = {"COMMUNEBOT_DB", *_ENV_SECRETS.values(), "COMMUNEBOT_HEALTH_PORT"}
    assert set(bot["environment"]) <= read, set(bot["environment"]) - read
    assert bot["environment"]["COMMUNEBOT_DB"].startswith("postgresql+psycopg://")
    assert "COMMUNEBOT_HEALTH_PORT" in dockerfile()
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    mounted = [v.split(":") for v in bot["volumes"] if v.startswith("./")]
    assert mounted and all((ROOT / source).exists() for source, *_ in mounted)
    assert ["./deploy/config.docker.yaml", "/config/config.yaml", "ro"] in mounted
    config = parse_config(yaml.safe_load((ROOT / "deploy" / "config.docker.yaml").read_text()), env={})
    published = bot["ports"][0].split(":")
    assert published[0] == "127.0.0.1"  # the metrics stay on the host's loopback
    assert int(published[-1]) == config.monitoring.port and config.monitoring.enabled
    assert compose["services"]["synapse"]["profiles"] == ["matrix"]
    for service in compose["services"].values():  # no secret written in the file
        for value in (service.get("environment") or {}).values():
            assert "${" in value or not re.search(r"(?i)token|password", str(value)), value


def test_the_systemd_unit_runs_a_command_that_exists() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((ROOT / "deploy" / "communebot.service").read_text())
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/communebot") and argv[1] == "run"
    run_help = cli_help("run")
    for flag in (a for a in argv[2:] if a.startswith("-")):
        assert flag in run_help, flag
    assert service["KillSignal"] == "SIGTERM" and service["Restart"] == "on-failure"
    assert service["NoNewPrivileges"] == "true" and service["ProtectSystem"] == "strict"
    assert "EnvironmentFile" in service  # secrets out of the unit


def test_test_image_script_says_when_it_cannot_test() -> None:
    done = subprocess.run(["bash", str(ROOT / "deploy" / "test-image.sh"), "--if-available"],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("no Docker engine reachable" in done.stdout) or ("all checks passed" in done.stdout)


@pytest.mark.slow
def test_the_wheel_carries_its_data_and_runs_the_demo_away_from_the_checkout(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(ROOT)], check=True, timeout=300)
    [wheel] = (tmp_path / "dist").glob("communebot-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
        names = archive.namelist()
    assert any(name.startswith("directory/data/") for name in names)
    assert any(name.startswith("directory/migrations/versions/0009") for name in names)
    assert any(name.endswith("fr/LC_MESSAGES/engine.po") for name in names)
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("COMMUNEBOT_DB", None)
    where = subprocess.run([sys.executable, "-c", "import bot; print(bot.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(site))  # the unpacked wheel, not the checkout
    done = subprocess.run([sys.executable, "-c", "from bot.cli import main; main()", "demo"],
                          cwd=tmp_path, env=env, input="/start 97415\nboulangerie au port\n",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Boulangerie Cari Zourit" in done.stdout, done.stdout[-2000:]
