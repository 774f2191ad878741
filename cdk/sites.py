"""The site registry: read from CDK context, validated with the package's own model, stored in SSM.

Context ``sites`` is either the registry as JSON (``-c sites='[{"name": "branch", ...}]'``) or the path of
a JSON/YAML registry file, relative to the project root (cdk.json's default points at
``cdk/sites.example.json``). The Lambdas read it from the parameter through Powertools (cached 5 min).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import aws_ssm as ssm
from constructs import Construct

from dropsleuth.sites import SiteRegistry, load_registry_file, parse_registry

# SSM String parameters: 4 KB on the standard tier, 8 KB on the advanced tier (Systems Manager quotas).
STANDARD_TIER_LIMIT = 4096
ADVANCED_TIER_LIMIT = 8192


def registry_from_context(value: Any, root: Path) -> SiteRegistry:
    """Validate the ``sites`` context value: a JSON document, an already parsed one, or a file path."""
    if value is None or value == "":
        return SiteRegistry()
    if isinstance(value, list | dict):
        return parse_registry(value)
    text = str(value).strip()
    if text.startswith(("[", "{")):
        return parse_registry(json.loads(text))
    path = Path(text)
    return load_registry_file(path if path.is_absolute() else root / path)


def registry_document(registry: SiteRegistry) -> str:
    """The parameter's value: compact JSON that ``dropsleuth.sites.parse_registry`` reads back."""
    return json.dumps(registry.model_dump(mode="json", exclude_defaults=True), separators=(",", ":"))


class SitesParameter(Construct):
    """An SSM String parameter holding the registry as JSON."""

    def __init__(self, scope: Construct, construct_id: str, *, registry: SiteRegistry, name: str) -> None:
        super().__init__(scope, construct_id)
        self.registry = registry
        document = registry_document(registry)
        size = len(document.encode())
        if size > ADVANCED_TIER_LIMIT:
            raise ValueError(
                f"site registry: {size} bytes of JSON exceed SSM's {ADVANCED_TIER_LIMIT}-byte limit"
            )
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=name,
            string_value=document,
            description="dropsleuth site registry (JSON): site → CIDRs, VPC, ENIs, VPN, expected MTUs",
            tier=ssm.ParameterTier.ADVANCED if size > STANDARD_TIER_LIMIT else ssm.ParameterTier.STANDARD,
        )
