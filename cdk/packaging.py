"""The Lambda asset, built without Docker: the package, the SQL files and the few pure-Python dependencies.

Layout of the asset (the function's ``/var/task``)::

    dropsleuth/          the package from lambdas/, without caches
    dropsleuth/sql/*.sql the Athena SQL from queries/, where ``dropsleuth.queries.queries_dir()`` looks
                         first (the same files the CLI and the local engine read in the repository)
    pyathena/ fsspec/ …  the dependencies in ``cdk/lambda-requirements.txt``

boto3 comes from the Lambda runtime and Powertools (with pydantic) from its public layer. The dependencies
are installed once per requirements file into ``build/lambda-deps/<hash>/`` with pip's cross-platform
options (arm64 wheels for python3.13) and reused; the asset itself is assembled in a fresh temporary
directory per synth, so engineers synthesizing at the same time never share a half-written folder. CDK
fingerprints the directory's content, so the same inputs give the same asset hash wherever it is built.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "lambdas" / "dropsleuth"
QUERIES_DIR = ROOT / "queries"
ASSET_SQL_DIR = "dropsleuth/sql"
REQUIREMENTS = Path(__file__).resolve().parent / "lambda-requirements.txt"
DEPS_CACHE = ROOT / "build" / "lambda-deps"

# What never belongs in a deployment package.
IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache", "*.egg-info"
)

# Lambda's python3.13 arm64 runtime (Amazon Linux 2023, glibc 2.34) accepts manylinux2014 aarch64 wheels.
_PIP_PLATFORM = ("--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.13")


class PackagingError(RuntimeError):
    """The Lambda asset could not be assembled (the message says which step and why)."""


def requirement_lines(path: Path = REQUIREMENTS) -> list[str]:
    """The pinned requirements, without comments and blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def install_dependencies(requirements: Path = REQUIREMENTS, cache: Path = DEPS_CACHE) -> Path:
    """The folder holding the bundled dependencies, installing them on first use.

    The folder is named after a hash of the requirements, so editing the pins installs afresh. Installation
    goes to a temporary sibling renamed into place at the end: two synths racing both succeed.
    """
    lines = requirement_lines(requirements)
    digest = hashlib.sha256("\n".join([*_PIP_PLATFORM, *lines]).encode()).hexdigest()[:16]
    target = cache / digest
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=cache))
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        *_PIP_PLATFORM, "--only-binary=:all:", "--no-deps", "--no-compile",
        "--target", str(staging), *lines,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 -- fixed argv
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PackagingError(
            f"pip could not install the Lambda dependencies ({', '.join(lines)}): {detail[0]}"
        )
    shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: nothing in Lambda runs them
    try:
        staging.rename(target)
    except OSError:  # another synth finished first: its copy is identical
        shutil.rmtree(staging, ignore_errors=True)
    return target


def build_asset(destination: Path, *, dependencies: Path | None = None) -> Path:
    """Assemble the Lambda asset in ``destination`` (created; must not exist) and return it."""
    shutil.copytree(PACKAGE_DIR, destination / "dropsleuth", ignore=IGNORED)
    sql_dir = destination / ASSET_SQL_DIR
    sql_dir.mkdir()
    for sql in sorted(QUERIES_DIR.glob("*.sql")):
        shutil.copy2(sql, sql_dir / sql.name)
    deps = install_dependencies() if dependencies is None else dependencies
    for entry in sorted(deps.iterdir()):
        copy = shutil.copytree if entry.is_dir() else shutil.copy2
        copy(entry, destination / entry.name)
    return destination


def new_asset_dir() -> Path:
    """A fresh directory with the asset in it (the caller removes it after synth)."""
    parent = Path(tempfile.mkdtemp(prefix="dropsleuth-asset-"))
    return build_asset(parent / "asset")


def tree_size(path: Path) -> int:
    """Bytes of every file under ``path`` (the unzipped size Lambda's 250 MB limit counts)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def remove_asset_dir(asset: Path) -> None:
    """Remove a directory made by ``new_asset_dir``."""
    parent = asset.parent
    if parent.name.startswith("dropsleuth-asset-") and parent.parent == Path(tempfile.gettempdir()):
        shutil.rmtree(parent, ignore_errors=True)


__all__ = [
    "PackagingError",
    "build_asset",
    "install_dependencies",
    "new_asset_dir",
    "remove_asset_dir",
    "requirement_lines",
    "tree_size",
]
