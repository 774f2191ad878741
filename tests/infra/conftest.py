"""The infra tier: one in-process synth of the real app per session, shared by every test here.

The app is synthesized exactly as ``npx cdk synth`` runs it (cdk.json's context, the handler catalog, the
queries directory, cdk-nag on): a finding cdk-nag does not see acknowledged makes the fixture fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")


ROOT = Path(__file__).resolve().parents[2]


def source_digest() -> str:
    """A digest of everything a synth reads, to tell whether the tree changed between two synths."""
    digest = hashlib.sha256()
    paths = [
        *(ROOT / "lambdas" / "dropsleuth").rglob("*"),
        *(ROOT / "queries").glob("*"),
        *(ROOT / "cdk").rglob("*"),
    ]
    for path in sorted(paths):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    digest.update((ROOT / "cdk.json").read_bytes())
    return digest.hexdigest()


@dataclass
class Synthesized:
    outdir: Path
    template: dict[str, Any]
    stack: Any
    """The ``DropSleuthStack`` object, for the names and paths its constructs know."""
    sources: str
    """``source_digest()`` when the synth started."""

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def logical_id(self, construct: Any) -> str:
        cfn = construct if hasattr(construct, "logical_id") else construct.node.default_child
        return str(self.stack.resolve(cfn.logical_id))

    def resource(self, construct: Any) -> dict[str, Any]:
        return self.template["Resources"][self.logical_id(construct)]


@pytest.fixture(scope="session")
def synthesized() -> Iterator[Synthesized]:
    from cdk.app import build_app

    outdir = Path(tempfile.mkdtemp(prefix="dropsleuth-cdk-"))
    sources = source_digest()
    try:
        app, stack = build_app(outdir=str(outdir))
        assembly = app.synth()
        template_path = Path(assembly.directory) / stack.template_file
        yield Synthesized(outdir, json.loads(template_path.read_text()), stack, sources)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


def flatten(value: Any) -> str:
    """A CloudFormation value as text: joins joined, ``Ref`` as ``<Ref>``, ``Fn::GetAtt`` as ``<Id.Attr>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flatten(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    return json.dumps(value, sort_keys=True)


def statements(policy_resource: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy_resource["Properties"]["PolicyDocument"]["Statement"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
