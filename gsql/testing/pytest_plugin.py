"""A pytest plugin that runs tests once per gsql engine.

pytest loads it through the `pytest11` entry point of the gsql package. A test, or a fixture
it uses, that requests the `gsql_engine` fixture runs once for each engine of the
`--gsql-engines` option (default `pandas`), with the engine name as the fixture's value:

    def test_count(gsql_engine):
        context = gsql.Context(engine=gsql_engine)
        ...

    pytest --gsql-engines pandas,dask

An engine that cannot run on this machine skips its tests with the reason, such as the pip
command that installs it. With `GSQL_REQUIRE_GPU=1` in the environment, a GPU engine (`cudf`,
`dask-cuda`) that cannot run makes its tests error instead, so that a GPU machine whose GPU
engine broke does not pass by skipping everything. The fixture is module-scoped, so a
module-scoped fixture may depend on it, and pytest groups each module's tests by engine.

The plugin imports only the standard library until a test requests an engine.
"""

from __future__ import annotations

import os

import pytest

__all__ = ["ENGINES_OPTION", "REQUIRE_GPU_VARIABLE", "gsql_engine"]

ENGINES_OPTION = "--gsql-engines"
REQUIRE_GPU_VARIABLE = "GSQL_REQUIRE_GPU"
_DEFAULT_ENGINES = "pandas"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gsql")
    group.addoption(
        ENGINES_OPTION,
        dest="gsql_engines",
        default=_DEFAULT_ENGINES,
        metavar="A,B,...",
        help="Comma-separated gsql engines that tests requesting the `gsql_engine` fixture "
        f"run on, such as pandas,dask. Default: {_DEFAULT_ENGINES}.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_ENGINES_KEY] = _parse_engines(config.getoption("gsql_engines"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "gsql_engine" not in metafunc.fixturenames or _parametrized_directly(metafunc):
        return
    engines = metafunc.config.stash[_ENGINES_KEY]
    metafunc.parametrize("gsql_engine", engines, indirect=True, ids=engines, scope="module")


@pytest.fixture(scope="module")
def gsql_engine(request: pytest.FixtureRequest) -> str:
    """Return the gsql engine under test, skipping its tests when it cannot run here."""
    engine: str = getattr(request, "param", None) or request.config.stash[_ENGINES_KEY][0]

    from gsql.testing.engines import (
        EXTERNAL_ENGINES,
        GPU_ENGINES,
        known_engines,
        unavailable_reason,
    )

    known = [name for name in known_engines() if name not in EXTERNAL_ENGINES]
    if engine not in known:
        pytest.fail(
            f"unknown engine `{engine}` in {ENGINES_OPTION}; choose from: {', '.join(known)}",
            pytrace=False,
        )
    reason = unavailable_reason(engine)
    if reason is None:
        return engine
    message = f"engine `{engine}` is not available: {reason}"
    if engine in GPU_ENGINES and os.environ.get(REQUIRE_GPU_VARIABLE) == "1":
        pytest.fail(f"{message} ({REQUIRE_GPU_VARIABLE}=1 requires it)", pytrace=False)
    pytest.skip(message)


def _parse_engines(text: str) -> list[str]:
    """Split the option's value. Names are checked when a test first requests an engine,
    because the list of engines lives in `gsql.context`, which imports pandas."""
    engines = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not engines:
        raise pytest.UsageError(f"{ENGINES_OPTION} is empty; give engines such as pandas,dask")
    repeated = sorted({name for name in engines if engines.count(name) > 1})
    if repeated:
        raise pytest.UsageError(
            f"engine `{repeated[0]}` is listed twice in {ENGINES_OPTION}; list each engine once"
        )
    return engines


def _parametrized_directly(metafunc: pytest.Metafunc) -> bool:
    """Return whether the test parametrises `gsql_engine` itself, which the plugin respects."""
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if "gsql_engine" in names:
            return True
    return False


_ENGINES_KEY = pytest.StashKey[list[str]]()
