"""What an investigation is about: where, between which endpoints, over which window.

Built from an alarm (through the site registry) or a manual request; every step of the investigation
reads it and none changes it.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dropsleuth.model import Evidence, Finding
from dropsleuth.sites import Site

_ENDPOINT_FIELDS = ("cidr", "ip", "eni_id", "instance_id", "subnet_id", "service")


class Endpoint(BaseModel):
    """One end of the traffic: exactly one of a CIDR, an IP, an ENI, an instance, a subnet, or an AWS
    service name. ENIs, instances and subnets are resolved to addresses (``dropsleuth.aws.endpoints``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cidr: str | None = None
    ip: str | None = None
    eni_id: str | None = None
    instance_id: str | None = None
    subnet_id: str | None = None
    service: str | None = Field(None, description='An AWS service reached by the traffic, e.g. "S3"')

    @model_validator(mode="after")
    def _exactly_one(self) -> Endpoint:
        given = [name for name in _ENDPOINT_FIELDS if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_ENDPOINT_FIELDS)}")
        if self.cidr:
            ipaddress.ip_network(self.cidr, strict=False)
        if self.ip:
            ipaddress.ip_address(self.ip)
        if self.eni_id and not self.eni_id.startswith("eni-"):
            raise ValueError(f"not an ENI id: {self.eni_id}")
        if self.instance_id and not self.instance_id.startswith("i-"):
            raise ValueError(f"not an instance id: {self.instance_id}")
        if self.subnet_id and not self.subnet_id.startswith("subnet-"):
            raise ValueError(f"not a subnet id: {self.subnet_id}")
        return self

    def describe(self) -> str:
        return (
            self.cidr
            or self.ip
            or self.eni_id
            or self.instance_id
            or self.subnet_id
            or f"service:{self.service}"
        )


class Window(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window times need a time zone (use UTC, e.g. 2026-11-20T09:00:00Z)")
        if self.end <= self.start:
            raise ValueError("window end must be after its start")
        return self


class InvestigationContext(BaseModel):
    """Everything a step needs to know about what is being investigated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vpc_id: str
    source: Endpoint
    destination: Endpoint
    window: Window
    port: int = Field(443, ge=1, le=65535)
    site: Site | None = None
    subnet_ids: tuple[str, ...] = ()
    eni_ids: tuple[str, ...] = ()
    vpn_connection_id: str | None = None
    source_mtu: int | None = Field(None, ge=576, le=9216)
    mss_clamp: int | None = Field(None, ge=536, le=9176, description="An MSS clamp in place on the path")
    alarm: dict[str, Any] = Field(default_factory=dict)


class StepOutcome(BaseModel):
    """What one investigation step found: findings, the evidence it gathered, and what it checked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    findings: tuple[Finding, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    checked: tuple[str, ...] = ()
    data: dict[str, Any] = Field(default_factory=dict)
