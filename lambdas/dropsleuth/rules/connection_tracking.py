"""Security-group connection tracking on the destination's ENIs: a shortened TCP idle timeout (pure).

Security groups are stateful through connection tracking: a response is admitted because its flow is
tracked, not because a rule allows it. An ENI's ``ConnectionTrackingConfiguration.TcpEstablishedTimeout``
(``DescribeNetworkInterfaces``) is how long an idle established TCP connection stays tracked: 60 s to
432,000 s, by default 432,000 s (350 s on Nitro v6 instance types) — EC2 API Reference,
"ConnectionTrackingConfiguration"; EC2 User Guide, "Amazon EC2 security group connection tracking" (sources
in docs/runbook/other-drops.md). A connection idle longer than that is no longer tracked, so a packet that
only the tracked flow admitted is dropped.

Configuration alone is a risk (warning): a timeout below the clients' keepalive that the site registry states
(``Site.client_keepalive_s``), or — with no keepalive stated — below 350 s, AWS's own idle timeout for NAT
gateways and Network Load Balancers. The symptom is ``conntrack_allowance_exceeded`` (the ENA counters,
``ENA_ALLOWANCE_EXCEEDED``) and resets on idle connections.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity
from dropsleuth.rules.host_drops import Assessment

DEFAULT_TCP_ESTABLISHED_TIMEOUT_S = 432_000
NITRO_V6_TCP_ESTABLISHED_TIMEOUT_S = 350
SHORT_WITHOUT_KEEPALIVE_S = 350
"""With no client keepalive known, a timeout below AWS's own NAT/NLB idle timeout (350 s) is short."""


@dataclass(frozen=True)
class TrackedInterface:
    """One of the destination's ENIs and its connection-tracking configuration as described (None: unset)."""

    eni_id: str
    instance_id: str | None
    configuration: Mapping[str, Any] | None

    @property
    def tcp_established_timeout(self) -> int | None:
        value = (self.configuration or {}).get("TcpEstablishedTimeout")
        return int(value) if isinstance(value, int | float) else None


def _fix(interface: TrackedInterface, timeout: int, keepalive_s: int | None) -> Remediation:
    keepalive = max(60, timeout - 60)
    return Remediation(
        summary=f"Track idle connections on {interface.eni_id} longer than the clients stay idle, or make "
        "the clients send keepalives more often than the timeout.",
        steps=(
            f"The ENI forgets an idle established TCP connection after {timeout} s"
            + (f"; the clients' keepalive is {keepalive_s} s" if keepalive_s else "")
            + ". Raise TcpEstablishedTimeout (60-432000 s) above the longest idle time the application has, "
            "or lower the clients' TCP keepalive below the timeout.",
            (
                "Rollback: modify-network-interface-attribute with the previous TcpEstablishedTimeout "
                f"({timeout})."
            ),
            (
                "Verify: `aws ec2 describe-network-interfaces --network-interface-ids "
                f"{interface.eni_id} --query 'NetworkInterfaces[].ConnectionTrackingConfiguration'`."
            ),
        ),
        commands=(
            (
                f"aws ec2 modify-network-interface-attribute --network-interface-id {interface.eni_id} "
                "--connection-tracking-specification "
                f"TcpEstablishedTimeout={DEFAULT_TCP_ESTABLISHED_TIMEOUT_S}"
            ),
            f"sysctl -w net.ipv4.tcp_keepalive_time={keepalive}",
        ),
    )


def assess_connection_tracking(
    interfaces: Sequence[TrackedInterface], *, keepalive_s: int | None
) -> Assessment:
    """Each destination ENI's TCP idle timeout: a warning risk when short, else a checked line."""
    result = Assessment()
    threshold = keepalive_s or SHORT_WITHOUT_KEEPALIVE_S
    reason = (
        f"the clients' keepalive ({keepalive_s} s, site registry)"
        if keepalive_s
        else f"AWS's NAT gateway and NLB idle timeout ({SHORT_WITHOUT_KEEPALIVE_S} s; no client keepalive in "
        "the site registry)"
    )
    unset: list[str] = []
    for interface in interfaces:
        name = f"security-group connection tracking of {interface.eni_id}"
        timeout = interface.tcp_established_timeout
        if timeout is None:
            unset.append(interface.eni_id)
            continue
        if timeout > threshold or (not keepalive_s and timeout >= threshold):
            result.checked.append(
                f"{name}: checked — TcpEstablishedTimeout {timeout:,} s, not below {reason}"
            )
            continue
        result.findings.append(
            Finding(
                code=FindingCode.SG_CONNTRACK_TIMEOUT_SHORT,
                # Configuration alone: a risk. The drops it causes show as resets on idle connections.
                severity=Severity.WARNING,
                confidence=0.4,
                title=f"{interface.eni_id}: security groups stop tracking idle TCP connections after "
                f"{timeout} s, not longer than {reason} (a risk)",
                detail="An established connection idle longer than TcpEstablishedTimeout is no longer "
                "tracked: a packet that only the tracked flow admitted (a response the rules do not allow "
                "on their own) is dropped, and the connection hangs until the application times out.",
                resource_ids=tuple(r for r in (interface.eni_id, interface.instance_id) if r),
                evidence=(
                    Evidence(
                        kind="network_interface",
                        summary=f"{interface.eni_id}: ConnectionTrackingConfiguration "
                        f"TcpEstablishedTimeout={timeout}",
                        resource_ids=(interface.eni_id,),
                        data={
                            "eni_id": interface.eni_id,
                            "instance_id": interface.instance_id,
                            "connection_tracking": dict(interface.configuration or {}),
                            "threshold_s": threshold,
                            "client_keepalive_s": keepalive_s,
                        },
                    ),
                ),
                remediation=_fix(interface, timeout, keepalive_s),
            )
        )
    if unset:
        # One line for all of them: a subnet end can hold many ENIs.
        result.checked.append(
            f"security-group connection tracking of {', '.join(unset)}: checked — DescribeNetworkInterfaces "
            "returns no ConnectionTrackingConfiguration: the instance type's default applies "
            f"({DEFAULT_TCP_ESTABLISHED_TIMEOUT_S:,} s; {NITRO_V6_TCP_ESTABLISHED_TIMEOUT_S} s on Nitro v6 "
            "types)"
        )
    return result


def tracked_interfaces(raw: object) -> list[TrackedInterface]:
    """The ``connection_tracking.interfaces`` of the ``other_drops`` data, as ``TrackedInterface``."""
    found = []
    for item in raw if isinstance(raw, list) else ():
        if isinstance(item, Mapping) and item.get("eni_id"):
            configuration = item.get("configuration")
            found.append(
                TrackedInterface(
                    eni_id=str(item["eni_id"]),
                    instance_id=str(item["instance_id"]) if item.get("instance_id") else None,
                    configuration=configuration if isinstance(configuration, Mapping) else None,
                )
            )
    return found
