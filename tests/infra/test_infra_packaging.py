"""The Lambda asset: the package, the SQL, the bundled dependencies, nothing else; small; importable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdk.packaging import HOST, build_asset, locked_requirements, requirement_names, tree_size
from dropsleuth.functions import catalog
from tests.infra.conftest import Synthesized

ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = "dropsleuth/sql"
# Lambda allows 250 MB unzipped; the asset bundles boto3 and Powertools (~45 MB) and must stay well below.
MAX_ASSET_BYTES = 80 * 1024 * 1024
# Installed in the venv for the CLI, the local engine and tests, never needed by a handler: bundling one
# would be dead weight (duckdb and pyarrow alone are ~240 MB).
NOT_IN_LAMBDA = {"duckdb", "pyarrow", "typer", "rich", "click", "moto", "pytest", "hypothesis", "pandas"}


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


def test_asset_holds_the_package_the_sql_and_the_locked_lambda_extra(asset_dir: Path) -> None:
    package_files = {
        p.relative_to(ROOT / "lambdas").as_posix()
        for p in (ROOT / "lambdas" / "dropsleuth").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    asset_files = {p.relative_to(asset_dir).as_posix() for p in asset_dir.rglob("*") if p.is_file()}
    assert package_files <= asset_files

    sql = {p.name for p in (ROOT / "queries").glob("*.sql")}
    assert sql
    # The files themselves (the repository's sql/ is a symlink), byte for byte the ones in queries/.
    assert not (asset_dir / SQL_DIR).is_symlink()
    assert {f"{SQL_DIR}/{name}" for name in sql} <= asset_files
    for name in sql:
        assert (asset_dir / SQL_DIR / name).read_bytes() == (ROOT / "queries" / name).read_bytes()

    # Exactly the lambda extra at uv.lock's versions, Powertools and boto3 included (no layer).
    installed = {
        p.name.removesuffix(".dist-info").rsplit("-", 1)[0].lower().replace("_", "-")
        for p in asset_dir.glob("*.dist-info")
    }
    locked = requirement_names(locked_requirements())
    platform_specific = {"colorama"}  # a Windows-only marker in the lock
    assert installed == locked - platform_specific
    assert {"aws-lambda-powertools", "aws-xray-sdk", "boto3", "botocore", "pydantic", "pyathena"} <= installed
    versions = dict(
        line.split(" ", 1)[0].split("==") for line in locked_requirements().splitlines() if "==" in line
    )
    for info in asset_dir.glob("*.dist-info"):
        name, version = info.name.removesuffix(".dist-info").rsplit("-", 1)
        assert versions[name.lower().replace("_", "-")] == version, info.name


def test_asset_is_built_for_lambda_arm64_python313(asset_dir: Path) -> None:
    (extension,) = asset_dir.glob("pydantic_core/_pydantic_core.*.so")
    assert extension.name.endswith("cpython-313-aarch64-linux-gnu.so")


def test_asset_has_no_tests_caches_or_local_engine(asset_dir: Path) -> None:
    top = {p.name for p in asset_dir.iterdir()}
    assert not top & {"tests", "cdk", "bench", "events", "node_modules", ".venv"}
    for path in asset_dir.rglob("*"):
        assert "__pycache__" not in path.parts, path
        assert path.suffix not in {".pyc", ".pyo"}, path
    assert not top & NOT_IN_LAMBDA


def test_asset_stays_small(asset_dir: Path) -> None:
    assert tree_size(asset_dir) < MAX_ASSET_BYTES


@pytest.fixture(scope="module")
def host_asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same locked set as the Lambda asset, built for this machine's interpreter."""
    return build_asset(tmp_path_factory.mktemp("host") / "asset", platform=HOST)


@pytest.mark.parametrize("name", sorted(catalog()))
def test_packaged_handler_imports_from_the_asset_alone(host_asset: Path, name: str) -> None:
    """Import each handler as Lambda would: from the asset and the standard library, nothing else (no
    site-packages, no editable install, no repository on the path)."""
    spec = catalog()[name]
    module, _, attribute = spec.handler.rpartition(".")
    probe = (
        "import importlib, json, sys\n"
        "assert not [p for p in sys.path if 'site-packages' in p], sys.path\n"
        f"m = importlib.import_module({module!r})\n"
        f"assert callable(getattr(m, {attribute!r}))\n"
        "import dropsleuth\n"
        "from dropsleuth.sqlfiles import queries_dir\n"
        "sql = sorted(p.name for p in queries_dir().glob('*.sql'))\n"
        "loaded = sorted({n.split('.')[0] for n in sys.modules})\n"
        "print(json.dumps({'package': dropsleuth.__file__, 'sql_dir': str(queries_dir()), 'sql': sql,"
        " 'loaded': loaded}))\n"
    )
    # -S: no site processing (no site-packages, no .pth); -E ignores PYTHON* variables; the asset is the path.
    result = subprocess.run(
        [sys.executable, "-S", "-E", "-c", f"import sys; sys.path.insert(0, {str(host_asset)!r})\n{probe}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd="/",
        env={k: v for k, v in os.environ.items() if not k.startswith("DROPSLEUTH_")},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["package"].startswith(str(host_asset))
    # The packaged code finds the SQL inside the asset, all of it.
    assert found["sql_dir"].startswith(str(host_asset))
    assert found["sql"] == sorted(p.name for p in (ROOT / "queries").glob("*.sql"))
    assert not set(found["loaded"]) & NOT_IN_LAMBDA
