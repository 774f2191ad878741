"""The Lambda asset: the package, the SQL, the bundled dependencies, nothing else; small; importable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from cdk.packaging import ASSET_SQL_DIR, requirement_lines, tree_size
from dropsleuth.functions import catalog
from tests.infra.conftest import Synthesized

ROOT = Path(__file__).resolve().parents[2]
# Lambda allows 250 MB unzipped with layers; ours should stay a small fraction of it.
MAX_ASSET_BYTES = 20 * 1024 * 1024
# Installed in the venv for the CLI, the local engine and tests, but neither bundled nor in the runtime or
# the Powertools layer: a handler importing one at module level would fail in Lambda.
NOT_IN_LAMBDA = {
    "duckdb",
    "pyarrow",
    "sqlglot",
    "typer",
    "rich",
    "click",
    "moto",
    "pytest",
    "hypothesis",
    "pandas",
}


@pytest.fixture(scope="module")
def asset_dir(synthesized: Synthesized) -> Path:
    """The staged asset in the cloud assembly, as CDK will zip and upload it."""
    function = next(iter(synthesized.stack.investigator.functions.values()))
    metadata = synthesized.resource(function)["Metadata"]
    return synthesized.outdir / metadata["aws:asset:path"]


def test_all_functions_share_one_asset(synthesized: Synthesized) -> None:
    keys = {
        json.dumps(f["Properties"]["Code"], sort_keys=True)
        for f in synthesized.resources("AWS::Lambda::Function").values()
    }
    assert len(keys) == 1


def test_asset_holds_the_package_the_sql_and_the_pinned_dependencies(asset_dir: Path) -> None:
    package_files = {
        p.relative_to(ROOT / "lambdas").as_posix()
        for p in (ROOT / "lambdas" / "dropsleuth").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    asset_files = {p.relative_to(asset_dir).as_posix() for p in asset_dir.rglob("*") if p.is_file()}
    assert package_files <= asset_files

    sql = {p.name for p in (ROOT / "queries").glob("*.sql")}
    assert sql
    assert {f"{ASSET_SQL_DIR}/{name}" for name in sql} <= asset_files
    for name in sql:
        assert (asset_dir / ASSET_SQL_DIR / name).read_bytes() == (ROOT / "queries" / name).read_bytes()

    installed = {p.name.split("-")[0].lower() for p in asset_dir.glob("*.dist-info")}
    pinned = {line.split("==")[0].lower() for line in requirement_lines()}
    assert installed == pinned


def test_asset_has_no_tests_caches_or_local_engine(asset_dir: Path) -> None:
    top = {p.name for p in asset_dir.iterdir()}
    assert not top & {"tests", "cdk", "bench", "events", "node_modules", ".venv"}
    for path in asset_dir.rglob("*"):
        assert "__pycache__" not in path.parts, path
        assert path.suffix not in {".pyc", ".pyo"}, path
    # duckdb and pyarrow serve the local engine only; they would be most of the asset's size.
    assert not top & {"duckdb", "pyarrow", "boto3", "botocore"}


def test_asset_stays_small(asset_dir: Path) -> None:
    assert tree_size(asset_dir) < MAX_ASSET_BYTES


@pytest.mark.parametrize("name", sorted(catalog()))
def test_packaged_handler_imports_from_the_asset(asset_dir: Path, name: str) -> None:
    """Import each handler as Lambda would: the asset first; boto3, Powertools and pydantic from this venv
    (standing in for the runtime and the layer); no editable install, no repository on the path."""
    spec = catalog()[name]
    module, _, attribute = spec.handler.rpartition(".")
    site_packages = sysconfig.get_paths()["purelib"]
    # A module the asset bundles is found there first; the others must not come from the venv.
    blocked = NOT_IN_LAMBDA - {p.name for p in asset_dir.iterdir()}
    probe = (
        "import importlib, json, sys\n"
        f"stdlib = [p for p in sys.path if 'site-packages' not in p]\n"
        f"sys.path[:] = [{str(asset_dir)!r}, *stdlib, {site_packages!r}]\n"
        f"BLOCKED = {sorted(blocked)!r}\n"
        "class NotInLambda:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError(f'{name} is neither in the asset, the runtime nor the layer')\n"
        "sys.meta_path.insert(0, NotInLambda())\n"
        f"m = importlib.import_module({module!r})\n"
        f"assert callable(getattr(m, {attribute!r}))\n"
        "import dropsleuth\n"
        "from dropsleuth.queries import queries_dir\n"
        "sql = sorted(p.name for p in queries_dir().glob('*.sql'))\n"
        "print(json.dumps({'package': dropsleuth.__file__, 'sql_dir': str(queries_dir()), 'sql': sql}))\n"
    )
    # -S: no site processing, so the editable install's .pth does not put lambdas/ on the path.
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",
        env={k: v for k, v in os.environ.items() if not k.startswith("DROPSLEUTH_")},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["package"].startswith(str(asset_dir))
    # The packaged code finds the SQL inside the asset, all of it.
    assert found["sql_dir"].startswith(str(asset_dir))
    assert found["sql"] == sorted(p.name for p in (ROOT / "queries").glob("*.sql"))
