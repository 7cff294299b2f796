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
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from dockerfile_parse import DockerfileParser

from bot.cli import main as cli_main
from bot.config import _ENV_SECRETS, parse_config

ROOT = Path(__file__).resolve().parent.parent


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (name, value), continuation lines joined."""
    parsed = DockerfileParser(path=str(ROOT / "Dockerfile"))
    return [(item["instruction"], item["value"]) for item in parsed.structure
            if item["instruction"] != "COMMENT"]


def ignored_by_dockerignore(source: str) -> list[str]:
    """The .dockerignore patterns that would keep ``source`` (or a parent) out of the build."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    parts = Path(source).parts
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return [pattern for pattern in patterns for prefix in prefixes
            if fnmatch.fnmatch(prefix, pattern.removeprefix("**/"))
            or fnmatch.fnmatch(Path(prefix).name, pattern.removeprefix("**/"))]


def cli_help(*args: str) -> str:
    result = CliRunner().invoke(cli_main, [*args, "--help"])  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    return result.output


def test_the_dockerfile_copies_what_exists_and_runs_a_command_that_exists() -> None:
    instructions = dockerfile()
    copies = [value.split() for name, value in instructions
              if name == "COPY" and not value.startswith("--from")]
    sources = [part for *parts, _ in copies for part in parts]
    assert sources and all((ROOT / source).exists() for source in sources), sources
    assert not [s for s in sources if ignored_by_dockerignore(s)], "a COPY source is in .dockerignore"
    assert ignored_by_dockerignore(".venv") and ignored_by_dockerignore("tests/x/__pycache__")
    assert ignored_by_dockerignore(".env")  # compose's secrets never reach the build context
    package_dirs = {"bot", "adapters", "directory", "dialogs", "locales"}
    assert package_dirs <= set(sources)  # every package of pyproject.toml's find
    last = {name: value for name, value in instructions}  # the final stage's, as Docker reads them
    assert json.loads(last["ENTRYPOINT"]) == ["communebot"]
    assert 'communebot = "bot.cli:main"' in (ROOT / "pyproject.toml").read_text()
    command = json.loads(last["CMD"])
    assert command[0] == "run" and "-c" in command and "-c" in cli_help(command[0])
    assert "demo" in cli_help()
    assert last["USER"] not in ("root", "0")
    stages = [value for name, value in instructions if name == "FROM"]
    assert len(stages) == 2 and all(stage.startswith("python:3.11-slim") for stage in stages)
    # the HEALTHCHECK runs the script a COPY put in the image (tests/test_deploy_rehearsal.py
    # runs that script against a real bot)
    probe = json.loads(last["HEALTHCHECK"].split(" CMD ", 1)[1])
    copied = {parts[-1]: parts[0] for parts in copies if len(parts) == 2}
    assert probe[0] == "python" and copied[probe[1]] == "deploy/healthcheck.py"


def test_compose_sets_the_variables_the_configuration_reads() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    bot = compose["services"]["bot"]
    read = {"COMMUNEBOT_DB", *_ENV_SECRETS.values()}  # what bot/config.py reads
    assert set(bot["environment"]) <= read, set(bot["environment"]) - read
    assert bot["environment"]["COMMUNEBOT_DB"].startswith("postgresql+psycopg://")
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


def test_compose_yaml_follows_the_compose_specification(tmp_path: Path) -> None:
    """The Compose Specification's JSON schema (as check-jsonschema ships it) accepts
    compose.yaml, and refuses it with one wrong depends_on condition."""
    checker = Path(sys.executable).parent / "check-jsonschema"
    command = [str(checker), "--builtin-schema", "vendor.compose-spec"]
    done = subprocess.run([*command, str(ROOT / "compose.yaml")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    wrong = tmp_path / "compose.yaml"
    text = (ROOT / "compose.yaml").read_text()
    assert "condition: service_healthy" in text
    wrong.write_text(text.replace("condition: service_healthy", "condition: healthy"))
    refused = subprocess.run([*command, str(wrong)], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "'healthy' is not one of" in refused.stdout, refused.stdout


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


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """``systemd-analyze verify`` (systemd's own parser) finds no unknown key, bad value or
    missing command in the unit: ExecStart pointed at this checkout's installed script."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (it is on the build machine and in CI)")
    script = Path(sys.executable).parent / "communebot"
    text = (ROOT / "deploy" / "communebot.service").read_text()
    assert "/opt/communebot/.venv/bin/communebot " in text
    unit = tmp_path / "communebot.service"
    unit.write_text(text.replace("/opt/communebot/.venv/bin/communebot ", f"{script} "))
    done = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True,
                          timeout=60)
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line]
    assert done.returncode == 0 and not complaints, done.stdout + done.stderr


def test_test_image_script_says_when_it_cannot_test() -> None:
    done = subprocess.run(["bash", str(ROOT / "deploy" / "test-image.sh"), "--if-available"],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout + done.stderr
    said = done.stdout.splitlines()[-1]
    assert "no Docker engine reachable" in said or "checks passed" in said, done.stdout


@pytest.mark.slow
def test_the_wheel_installs_in_a_fresh_venv_and_runs_the_demo_away_from_the_checkout(
        tmp_path: Path) -> None:
    """What the image does (``pip wheel .`` then ``pip install`` of the wheel), in a fresh
    virtualenv, run from elsewhere: the installed ``communebot`` script answers a search
    in the demo, so the wheel carries the gazetteer, the migrations and the locales.
    Offline: the dependencies are this venv's, on a path line of a ``.pth`` file (which runs
    none of that directory's own ``.pth`` hooks, such as the checkout's editable install)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(ROOT)], check=True, timeout=300)
    [wheel] = (tmp_path / "dist").glob("communebot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert any(name.startswith("directory/data/communes") for name in names)
    assert any(name.startswith("directory/migrations/versions/0009") for name in names)
    assert any(name.endswith("fr/LC_MESSAGES/engine.po") for name in names)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    "--no-index", str(wheel)], check=True, timeout=300)
    [own_site] = venv.glob("lib/python3*/site-packages")
    (own_site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("COMMUNEBOT_DB", "PYTHONPATH", "VIRTUAL_ENV")}
    away = tmp_path / "elsewhere"
    away.mkdir()
    imported = "import bot, directory; print(bot.__file__, directory.__file__)"
    where = subprocess.run([str(python), "-c", imported],
                           cwd=away, env=env, capture_output=True, text=True, check=True)
    assert all(path.startswith(str(own_site)) for path in where.stdout.split()), where.stdout
    done = subprocess.run([str(venv / "bin" / "communebot"), "demo"], cwd=away, env=env,
                          input="/start 97415\nboulangerie au port\n", capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Boulangerie Cari Zourit" in done.stdout, done.stdout[-2000:]
