"""The container's HEALTHCHECK: asks the bot's own ``/healthz`` with the configuration the
bot runs with, so the probe and the bot cannot disagree on the port.

The configuration is the ``-c``/``--config`` argument of the bot's command line (PID 1 in
the container, as the Dockerfile's exec-form ENTRYPOINT makes it; else the first
``communebot run`` process, behind ``docker run --init``), read by the bot's own
``load_config`` (environment overrides included). With monitoring disabled, or a command
that is not ``run`` (``demo``, ``chat``), there is nothing to ask and the container counts
as healthy while it runs: a probe of a port nobody opened would only mark it unhealthy.

Exit 0: healthy or nothing to probe; 1: ``/healthz`` said no (its body is printed, with
the reason) or did not answer.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

#: the bot's own options that name its configuration file (``communebot run --help``)
CONFIG_FLAGS = ("-c", "--config")
#: addresses that mean "every interface": the probe, inside the container, uses loopback
ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


def config_path_from_argv(argv: Sequence[str]) -> str | None:
    """The configuration file of a ``communebot run`` command line, or None for any other
    command (``demo``, ``chat``, ``--help``)."""
    if "run" not in argv:
        return None
    for index, arg in enumerate(argv):
        if arg in CONFIG_FLAGS and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--config="):
            return arg.removeprefix("--config=")
        if arg.startswith("-c") and len(arg) > 2:  # click's -cFILE
            return arg[2:]
    return None


def healthz_url(enabled: bool, listen: str, port: int) -> str | None:
    """Where ``/healthz`` answers for a monitoring section, or None when it is disabled."""
    if not enabled:
        return None
    host = ANY_ADDRESS.get(listen, listen)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def bot_config_path(cmdlines: Iterable[Sequence[str]]) -> str | None:
    """The configuration of the first ``communebot run -c FILE`` among command lines."""
    for argv in cmdlines:
        if any(Path(arg).name == "communebot" for arg in argv[:2]):
            path = config_path_from_argv(argv)
            if path is not None:
                return path
    return None


def read_cmdline(pid: int | str) -> list[str]:
    """A process's argv from /proc (NUL-separated); empty if it is gone or hidden."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def running_cmdlines(pid: int | None) -> Iterator[list[str]]:
    """The given process's command line; else PID 1's (the exec-form ENTRYPOINT), then
    every process's (``docker run --init`` puts an init before the bot)."""
    if pid is not None:
        yield read_cmdline(pid)
        return
    yield read_cmdline(1)
    for entry in sorted(Path("/proc").iterdir(), key=lambda p: (len(p.name), p.name)):
        if entry.name.isdigit() and entry.name != "1":
            yield read_cmdline(entry.name)


def probe(url: str, timeout: float) -> tuple[bool, str]:
    """GET ``/healthz``: (healthy, what it said)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status == 200, f"{answer.status} {answer.read().decode(errors='replace')}"
    except urllib.error.HTTPError as exc:
        return False, f"{exc.code} {exc.read().decode(errors='replace')}"
    except OSError as exc:
        return False, f"no answer from {url}: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pid", type=int, help="the bot's process (default: PID 1, else any)")
    parser.add_argument("--config", help="the configuration file, instead of the bot's -c")
    parser.add_argument("--timeout", type=float, default=4.0)
    args = parser.parse_args(argv)
    path = args.config or bot_config_path(running_cmdlines(args.pid))
    if path is None:
        print("healthcheck: the bot runs no `run -c FILE`: nothing to probe")
        return 0
    from bot.config import ConfigError, load_config  # the installed bot's own reading

    try:
        monitoring = load_config(path).monitoring
    except ConfigError as exc:
        print(f"healthcheck: {exc}")
        return 1
    url = healthz_url(monitoring.enabled, monitoring.listen, monitoring.port)
    if url is None:
        print("healthcheck: monitoring.enabled is false: nothing to probe")
        return 0
    healthy, said = probe(url, args.timeout)
    print(f"healthcheck: {said}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
