"""The Lambda asset, built without Docker from the locked versions: the package and everything it imports.

Layout of the asset (the function's ``/var/task``)::

    dropsleuth/          the package from lambdas/, without caches; dropsleuth/sql/*.sql is the SQL of
                         queries/ (in the repository a symlink, here the files themselves)
    boto3/ aws_lambda_powertools/ pydantic/ pyathena/ …
                         the ``lambda`` extra of pyproject.toml with its dependencies, at the versions of
                         uv.lock (``uv export --frozen``), installed for the target platform

Everything a handler imports is bundled, boto3 and Powertools included: the functions run exactly the
versions the tests ran, with no layer and no dependence on the runtime's own boto3. The dependencies are
installed once per (locked requirements, platform) into ``build/lambda-deps/<hash>/`` and reused; the asset
itself is assembled in a fresh temporary directory per synth, so engineers synthesizing at the same time
never share a half-written folder. CDK fingerprints the directory's content, so the same lock gives the same
asset hash wherever it is built.

``HOST`` builds the same set for this machine's interpreter, so a test can import every handler from it in a
clean interpreter: nothing a handler needs can come silently from the development environment.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "lambdas" / "dropsleuth"
DEPS_CACHE = ROOT / "build" / "lambda-deps"
LAMBDA_EXTRA = "lambda"

# The plain install's command-line packages: the core dependencies of pyproject.toml serve the CLI and the
# agent, and no handler imports these (the import test of the host-platform asset proves it).
CLI_ONLY_PACKAGES = ("typer", "rich", "pygments", "markdown-it-py", "mdurl", "shellingham", "annotated-doc")

# What never belongs in a deployment package.
IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "*.pyo", ".mypy_cache", ".pytest_cache", "*.egg-info"
)


@dataclass(frozen=True)
class Platform:
    """Where the asset's compiled wheels must run: uv's ``--python-platform`` and a Python version."""

    python_version: str
    python_platform: str | None = None  # None: this machine's

    def uv_options(self) -> list[str]:
        options = ["--python-version", self.python_version]
        if self.python_platform:
            options += ["--python-platform", self.python_platform]
        return options


# Lambda's python3.13 runtime on arm64 runs Amazon Linux 2023 (glibc 2.34): manylinux_2_34 wheels or older.
LAMBDA = Platform(python_version="3.13", python_platform="aarch64-manylinux_2_34")
HOST = Platform(python_version=f"{sys.version_info.major}.{sys.version_info.minor}")


class PackagingError(RuntimeError):
    """The Lambda asset could not be assembled (the message says which step and why)."""


def uv_binary() -> str:
    """The uv that made the venv: ``$UV``, the Makefile's pinned copy in .tools/, or uv on the PATH."""
    for candidate in (os.environ.get("UV"), str(ROOT / ".tools" / "bin" / "uv"), shutil.which("uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise PackagingError("uv not found: run `make venv` (it installs the pinned uv into .tools/)")


def _run(command: list[str], what: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)  # noqa: S603
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PackagingError(f"{what} failed: {detail[0]}")
    return result.stdout


def locked_requirements() -> str:
    """The ``lambda`` extra and its dependencies, pinned and hashed from uv.lock (never re-resolved)."""
    skip = [option for name in CLI_ONLY_PACKAGES for option in ("--no-emit-package", name)]
    command = [
        uv_binary(), "export", "--frozen", "--no-dev", "--extra", LAMBDA_EXTRA, "--no-emit-project",
        "--no-header", "--no-annotate", "--format", "requirements-txt", *skip,
    ]  # fmt: skip
    return _run(command, "uv export of the lambda extra")


def requirement_names(requirements: str) -> set[str]:
    """Normalised distribution names in a requirements text (``name==version ; markers \\ --hash …``)."""
    names = set()
    for raw in requirements.splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "--")):
            names.add(line.split("==", 1)[0].strip().lower().replace("_", "-"))
    return names


def install_dependencies(
    platform: Platform = LAMBDA, *, requirements: str | None = None, cache: Path = DEPS_CACHE
) -> Path:
    """The folder holding the locked dependencies for ``platform``, installing them on first use.

    The folder is named after a hash of the requirements and the platform, so a new lock installs afresh.
    Installation goes to a temporary sibling renamed into place at the end: two synths racing both succeed.
    """
    text = locked_requirements() if requirements is None else requirements
    digest = hashlib.sha256("\n".join([*platform.uv_options(), text]).encode()).hexdigest()[:16]
    target = cache / digest
    if target.is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=cache))
    try:
        requirements_file = staging.with_suffix(".txt")
        requirements_file.write_text(text, encoding="utf-8")
        # --no-config: the project's [tool.uv] settings are for resolving; this installs the export as is.
        command = [
            uv_binary(), "pip", "install", "--quiet", "--no-config", "--target", str(staging), "--no-deps",
            "--require-hashes", "--only-binary", ":all:", "--no-compile", *platform.uv_options(),
            "-r", str(requirements_file),
        ]  # fmt: skip
        _run(command, f"installing the Lambda dependencies for {platform}")
        requirements_file.unlink()
    except PackagingError:
        shutil.rmtree(staging, ignore_errors=True)
        staging.with_suffix(".txt").unlink(missing_ok=True)
        raise
    shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: nothing in Lambda runs them
    try:
        staging.rename(target)
    except OSError:  # another synth finished first: its copy is identical
        shutil.rmtree(staging, ignore_errors=True)
    return target


def build_asset(destination: Path, *, platform: Platform = LAMBDA, dependencies: Path | None = None) -> Path:
    """Assemble the Lambda asset in ``destination`` (created; must not exist) and return it."""
    # copytree follows the sql/ symlink (symlinks=False), so the asset holds the SQL files themselves.
    shutil.copytree(PACKAGE_DIR, destination / "dropsleuth", ignore=IGNORED)
    deps = install_dependencies(platform) if dependencies is None else dependencies
    for entry in sorted(deps.iterdir()):
        copy = shutil.copytree if entry.is_dir() else shutil.copy2
        copy(entry, destination / entry.name)
    return destination


def new_asset_dir(platform: Platform = LAMBDA) -> Path:
    """A fresh directory with the asset in it (the caller removes it with ``remove_asset_dir``)."""
    parent = Path(tempfile.mkdtemp(prefix="dropsleuth-asset-"))
    return build_asset(parent / "asset", platform=platform)


def tree_size(path: Path) -> int:
    """Bytes of every file under ``path`` (the unzipped size Lambda's 250 MB limit counts)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def remove_asset_dir(asset: Path) -> None:
    """Remove a directory made by ``new_asset_dir``."""
    parent = asset.parent
    if parent.name.startswith("dropsleuth-asset-") and parent.parent == Path(tempfile.gettempdir()):
        shutil.rmtree(parent, ignore_errors=True)


__all__ = [
    "HOST",
    "LAMBDA",
    "PackagingError",
    "Platform",
    "build_asset",
    "install_dependencies",
    "locked_requirements",
    "new_asset_dir",
    "remove_asset_dir",
    "requirement_names",
    "tree_size",
]
