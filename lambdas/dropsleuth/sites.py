"""The site registry: which CIDRs, VPC, ENIs and VPN belong to a site, and what MTUs it should have.

An alarm names a site in its ``Site`` dimension; the registry turns that into the context of an
investigation. Deployed, the registry is a JSON SSM parameter written by the CDK app; locally, a JSON or
YAML file.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dropsleuth.aws import clients
from dropsleuth.aws.errors import InputError
from dropsleuth.aws.permissions import declare

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

# How long a warm Lambda reuses the registry it read: a registry change reaches every function within this.
REGISTRY_MAX_AGE_S = 300


class Site(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    cidrs: tuple[str, ...] = ()
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    eni_ids: tuple[str, ...] = ()
    vpn_connection_id: str | None = None
    # Interface name → the MTU it must have, e.g. {"eno1": 1500}; the host agent and path model use it.
    expected_mtus: dict[str, int] = Field(default_factory=dict)
    # The MTU the site's hosts send with toward AWS, when known (the path model's source MTU).
    wan_mtu: int | None = None
    # How the site reaches the VPC, when its gateway's records cannot tell (a VGW with a VPN and a DX VIF).
    link: Literal["vpn", "direct_connect"] | None = None
    # The site's Direct Connect VIF MTU: 1500, or jumbo (9001 private VIF, 8500 transit VIF); None: 1500.
    dx_mtu: Literal[1500, 8500, 9001] | None = None
    # An MSS clamp in place on the site's router (the path model counts it as covering larger packets).
    mss_clamp: int | None = Field(None, ge=536, le=9176)
    # Whether the customer gateway reaches AWS through a NAT (NAT-T in use), when the operator knows:
    # describe_vpn_connections does not say, and NAT-T costs the tunnel 8-16 bytes (docs/severity.md).
    nat_traversal: bool | None = None
    # How often the site's clients send TCP keepalives on idle connections (seconds), when the operator knows:
    # compared with the destination ENIs' connection-tracking idle timeout (rules/connection_tracking.py).
    client_keepalive_s: int | None = Field(None, ge=1)
    probe_targets: tuple[str, ...] = ()
    # The destination the site's uploads go to: a CIDR, an IP, or an AWS service name such as "S3".
    upload_destination: str | None = None
    # Alarm when the site's upload throughput stays below this (Mbps); None: the catalogue's default.
    min_upload_mbps: float | None = None

    @field_validator("cidrs")
    @classmethod
    def _valid_cidrs(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            ipaddress.ip_network(value, strict=False)
        return values


class SiteRegistry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sites: tuple[Site, ...] = ()

    def get(self, name: str) -> Site:
        for site in self.sites:
            if site.name == name:
                return site
        known = ", ".join(s.name for s in self.sites) or "none"
        raise InputError(f"unknown site {name!r} (known: {known})", field="site")

    def names(self) -> list[str]:
        return [s.name for s in self.sites]


def parse_registry(document: Any) -> SiteRegistry:
    """Validate a registry given as ``{"sites": [...]}`` or a bare list of sites."""
    if isinstance(document, list):
        document = {"sites": document}
    try:
        return SiteRegistry.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InputError(f"site registry: {where}: {first['msg']}", field=where) from error


def load_registry_file(path: str | Path) -> SiteRegistry:
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".json"):
        document = json.loads(text)
    else:
        import yaml  # noqa: PLC0415 -- a YAML registry is read once; the JSON one needs no parser

        document = yaml.safe_load(text)
    return parse_registry(document)


@functools.cache
def _ssm_provider() -> SSMProvider:
    """One Powertools SSM provider per cached client: its cache is what makes warm reads free.

    Bound to our client factory (so ``AWS_ENDPOINT_URL`` and moto apply; the module-level
    ``parameters.get_parameter`` takes no client) and forgotten with the clients (``clients.reset``).
    """
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415 -- only deployed code needs SSM

    return parameters.SSMProvider(boto3_client=clients.ssm())


clients.on_reset(_ssm_provider.cache_clear)


def load_registry_parameter(name: str) -> SiteRegistry:
    """Read the registry from SSM through Powertools parameters, cached for ``REGISTRY_MAX_AGE_S``."""
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415 -- only deployed code needs SSM

    from dropsleuth.aws.errors import translate  # noqa: PLC0415

    try:
        value = _ssm_provider().get(name, transform="json", max_age=REGISTRY_MAX_AGE_S)
    except parameters.exceptions.TransformParameterError as error:
        message = f"site registry parameter {name}: not JSON: {error}"
        raise InputError(message, field="sites_parameter") from error
    except parameters.exceptions.GetParameterError as error:
        # Powertools raises GetParameterError inside its except block: the botocore error is its context.
        original = error.__cause__ or error.__context__
        cause = original if isinstance(original, Exception) else error
        raise translate(cause, operation="GetParameter") from error
    return parse_registry(value)


PERMISSIONS = declare("sites", "ssm:GetParameter")
