"""The wheel as users install it: built from this tree, installed into fresh virtual environments that hold
nothing but what the install brings (no dev tools, no editable checkout), at the versions of uv.lock.

uv installs offline from its cache, which ``make venv`` filled from the same lock: the test needs no network
and proves that every install is the locked one. Each environment runs the commands its users run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cdk.packaging import uv_binary
from dropsleuth.demo.scenario import SCENARIO_DIR as SCENARIOS
from dropsleuth.extras import EXTRA_OF_MODULE
from dropsleuth.flowlogs.synth import PortScan, TrafficTimeline, synthesize, write_parquet
from tests.queries import flowlog_oracle as oracle
from tests.support import ROOT, subprocess_env

pytestmark = pytest.mark.slow

# The site agent's install, pip included (a venv made by `python3 -m venv`, as the README's install does).
MAX_PLAIN_INSTALL_BYTES = 90 * 1024 * 1024

Run = Callable[..., subprocess.CompletedProcess[str]]


def _uv(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [uv_binary(), *args], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert result.returncode == 0, f"uv {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # The build backend (setuptools) comes from uv's cache: `make venv` built the editable install with it.
    # --offline keeps the test off the network.
    _uv("build", "--wheel", "--offline", "--out-dir", str(out))
    (built,) = out.glob("dropsleuth-*.whl")
    return built


def test_the_wheel_carries_what_is_read_at_run_time(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    sql = {f"dropsleuth/sql/{p.name}" for p in (ROOT / "queries").glob("*.sql")}
    scenarios = {f"dropsleuth/demo/scenarios/{p.name}" for p in SCENARIOS.glob("*.yaml")}
    assert sql
    assert scenarios
    assert sql | scenarios | {"dropsleuth/py.typed"} <= names
    assert not {n for n in names if n.startswith(("tests/", "cdk/", "bench/")) or "__pycache__" in n}


def _install(tmp: Path, wheel: Path, extras: tuple[str, ...]) -> Path:
    """A fresh venv (with pip, as `python3 -m venv` makes it) holding the wheel and the locked dependencies
    of ``extras``; returns its bin/ directory."""
    venv = tmp / ("venv-" + ("-".join(extras) or "plain"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    options = [opt for extra in extras for opt in ("--extra", extra)]
    # uv sync --frozen installs exactly uv.lock's files (by their locked URLs, here from uv's cache);
    # --inexact keeps the pip the venv was made with; the project itself comes from the wheel, not the tree.
    _uv("sync", "--frozen", "--offline", "--inexact", "--no-install-project", "--quiet", *options,
        env={"UV_PROJECT_ENVIRONMENT": str(venv)})  # fmt: skip
    _uv("pip", "install", "--offline", "--no-config", "--quiet", "--python", str(venv / "bin" / "python"),
        "--no-deps", str(wheel))  # fmt: skip
    return venv / "bin"


def _runner(bin_dir: Path, cwd: Path) -> Run:
    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = subprocess_env()
        env.pop("PYTHONPATH", None)
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run(
            [str(bin_dir / "dropsleuth"), *args], capture_output=True, text=True, env=env, cwd=cwd,
            timeout=timeout, check=False,
        )  # fmt: skip

    return run


@pytest.fixture(scope="module")
def plain(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run]:
    tmp = tmp_path_factory.mktemp("plain")
    bin_dir = _install(tmp, wheel, ())
    return bin_dir, _runner(bin_dir, tmp)  # cwd outside the repository: nothing found by accident


def test_the_plain_install_runs_the_cli_and_the_agent(plain: tuple[Path, Run]) -> None:
    _, run = plain
    assert run("--help").returncode == 0
    for command in ("probe", "audit"):
        result = run(command, "--help")
        assert result.returncode == 0, (command, result.stderr)
    interfaces = run("probe", "interfaces", "-o", "json")
    assert interfaces.returncode == 0, interfaces.stderr
    assert any(i["name"] == "lo" for i in json.loads(interfaces.stdout)["interfaces"])
    # The query names come from the SQL files shipped in the wheel.
    assert "rejects_timeline" in run("query", "--help").stdout


def test_the_plain_install_holds_no_extra_and_is_small(plain: tuple[Path, Run]) -> None:
    bin_dir, _ = plain
    site_packages = next((bin_dir.parent / "lib").glob("python3.*/site-packages"))
    top_level = {p.name.split("-")[0].lower() for p in site_packages.iterdir()}
    assert not top_level & set(EXTRA_OF_MODULE), top_level & set(EXTRA_OF_MODULE)
    assert "click" not in top_level
    size = sum(f.stat().st_size for f in site_packages.rglob("*") if f.is_file() and not f.is_symlink())
    assert size <= MAX_PLAIN_INSTALL_BYTES, f"{size / 2**20:.0f} MiB"


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (("query", "rejects_timeline", "--start", "2026-11-20T09:00:00Z", "--end", "2026-11-20T10:00:00Z",
          "--flow-logs", ".", "--engine", "local"), "local"),
        (("demo",), "demo"),
        (("investigate", "--vpc", "vpc-1", "--source", "10.0.0.0/24", "--destination", "10.1.0.0/24"),
         "lambda"),
    ],
)  # fmt: skip
def test_a_missing_extra_is_one_line_naming_it(
    plain: tuple[Path, Run], args: tuple[str, ...], extra: str
) -> None:
    _, run = plain
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert f"pip install 'dropsleuth[{extra}]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_local_extra_runs_a_query_over_parquet_flow_logs(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("local")
    start, end = datetime(2026, 11, 20, 9, 0, tzinfo=UTC), datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    timeline = TrafficTimeline(
        start=start, duration_minutes=30, seed=7, scans=(PortScan(start_minute=5, end_minute=15),)
    )
    records = synthesize(timeline)
    write_parquet(records, tmp / "flow-logs")
    run = _runner(_install(tmp, wheel, ("local",)), tmp)
    result = run(
        "query", "rejects_timeline", "--engine", "local", "--flow-logs", str(tmp / "flow-logs"),
        "--start", "2026-11-20T09:00:00Z", "--end", "2026-11-20T09:30:00Z", "-o", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    wanted = oracle.rejects_timeline(records, start, end)
    assert wanted
    assert [row["rejects"] for row in rows] == [row["rejects"] for row in wanted]


def test_the_demo_extra_runs_the_demo(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("demo")
    run = _runner(_install(tmp, wheel, ("demo",)), tmp)
    result = run("demo", "--out", str(tmp / "out"), "-o", "json", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["findings"][0]["code"] == "PMTUD_BLACKHOLE"
    assert (tmp / "out" / "report.html").is_file()
