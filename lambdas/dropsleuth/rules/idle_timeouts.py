"""Idle-timeout mismatch: the clients' TCP keepalive against the idle timeouts on the path (pure).

A middlebox that closes idle flows resets (or silently forgets) a connection idle longer than its timeout;
keepalives more frequent than the timeout keep the flow alive. The timeouts compared:

- a Network Load Balancer TCP listener's ``tcp.idle_timeout.seconds`` (350 s by default, 60–6000 s;
  ``DescribeListenerAttributes``; ELB guide, "Update the TCP idle timeout for your Network Load Balancer
  listener"); TLS listeners keep 350 s;
- a NAT gateway's 350 s, fixed (VPC User Guide, "NAT gateway basics").

The clients' keepalive is what the site registry states (``Site.client_keepalive_s``); without it nothing is
compared ("unknown"). Configuration alone is a risk (warning); the symptoms are ``IdleTimeoutCount``
(``NAT_IDLE_TIMEOUT``) and ``TCP_ELB_Reset_Count`` (``LB_RESETS``). Sources in docs/runbook/other-drops.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity
from dropsleuth.rules.aws_drops import NAT_IDLE_TIMEOUT_S, NLB_TCP_IDLE_TIMEOUT_DEFAULT_S
from dropsleuth.rules.host_drops import Assessment

NLB_IDLE_TIMEOUT_ATTRIBUTE = "tcp.idle_timeout.seconds"
NLB_IDLE_TIMEOUT_MAX_S = 6000


@dataclass(frozen=True)
class ListenerTimeout:
    """One Network Load Balancer listener and its TCP idle timeout (None: not readable for this protocol)."""

    load_balancer: str
    listener_arn: str
    protocol: str
    port: int
    idle_timeout_s: int | None

    def as_data(self) -> dict[str, Any]:
        return {
            "load_balancer": self.load_balancer,
            "listener_arn": self.listener_arn,
            "protocol": self.protocol,
            "port": self.port,
            "idle_timeout_s": self.idle_timeout_s,
        }

    @classmethod
    def from_data(cls, raw: Mapping[str, Any]) -> ListenerTimeout:
        timeout = raw.get("idle_timeout_s")
        port = raw.get("port")
        return cls(
            load_balancer=str(raw.get("load_balancer")),
            listener_arn=str(raw.get("listener_arn")),
            protocol=str(raw.get("protocol")),
            port=port if isinstance(port, int) else 0,
            idle_timeout_s=timeout if isinstance(timeout, int) else None,
        )


def listener_idle_timeout(protocol: str, attributes: Sequence[Mapping[str, Any]]) -> int | None:
    """A listener's TCP idle timeout from ``DescribeListenerAttributes`` (TLS: 350 s, not modifiable)."""
    if protocol == "TLS":
        return NLB_TCP_IDLE_TIMEOUT_DEFAULT_S
    for attribute in attributes:
        if attribute.get("Key") == NLB_IDLE_TIMEOUT_ATTRIBUTE:
            try:
                return int(str(attribute.get("Value")))
            except ValueError:
                return None
    return None


def _keepalive_fix(timeout: int) -> str:
    """A client keepalive comfortably below ``timeout`` (Linux: the idle time before the first probe)."""
    return f"sysctl -w net.ipv4.tcp_keepalive_time={max(60, timeout - 50)}"


def _risk(
    what: str, resource: str, *, timeout: int, keepalive: int, evidence: dict[str, Any], fix: Remediation
) -> Finding:
    return Finding(
        code=FindingCode.IDLE_TIMEOUT_MISMATCH,
        severity=Severity.WARNING,
        confidence=0.4,
        title=f"{what} {resource} closes TCP flows idle for {timeout} s; the site's clients send keepalives "
        f"every {keepalive} s (a risk)",
        detail="A connection that idles between keepalives longer than the timeout is closed on the path: "
        "the next packet on it is reset or lost, and the application sees a broken connection.",
        resource_ids=(resource,),
        evidence=(
            Evidence(
                kind="idle_timeout",
                summary=f"{resource}: idle timeout {timeout} s ≤ client keepalive {keepalive} s",
                resource_ids=(resource,),
                data={**evidence, "idle_timeout_s": timeout, "client_keepalive_s": keepalive},
            ),
        ),
        remediation=fix,
    )


def assess_idle_timeouts(
    *,
    keepalive_s: int | None,
    listeners: Sequence[ListenerTimeout],
    nat_gateways: Sequence[str],
    load_balancers: Sequence[str] = (),
) -> Assessment:
    """Each NLB TCP listener in the VPC and NAT gateway on the path against the clients' keepalive.

    ``load_balancers``: the NLBs in the VPC (their listeners are read only when a keepalive is known).
    """
    result = Assessment()
    if not listeners and not nat_gateways and not load_balancers:
        return result
    if keepalive_s is None:
        result.checked.append(
            "idle-timeout mismatch (NAT gateways, NLB listeners): unknown — the site registry states no "
            "client_keepalive_s to compare with"
        )
        return result
    for nat in nat_gateways:
        if keepalive_s >= NAT_IDLE_TIMEOUT_S:
            result.findings.append(
                _risk(
                    "NAT gateway",
                    nat,
                    timeout=NAT_IDLE_TIMEOUT_S,
                    keepalive=keepalive_s,
                    evidence={"nat_gateway_id": nat},
                    fix=Remediation(
                        summary="Send keepalives more often than the NAT gateway's fixed "
                        f"{NAT_IDLE_TIMEOUT_S} s.",
                        steps=("The NAT gateway's idle timeout cannot be changed: shorten the keepalive.",),
                        commands=(_keepalive_fix(NAT_IDLE_TIMEOUT_S),),
                    ),
                )
            )
        else:
            result.checked.append(
                f"NAT gateway {nat} idle timeout: checked — {NAT_IDLE_TIMEOUT_S} s, longer than the clients' "
                f"keepalive ({keepalive_s} s)"
            )
    for listener in listeners:
        name = f"{listener.load_balancer} {listener.protocol}:{listener.port}"
        timeout = listener.idle_timeout_s
        if timeout is None:
            result.checked.append(
                f"load balancer {name} idle timeout: unknown — no {NLB_IDLE_TIMEOUT_ATTRIBUTE}"
            )
        elif keepalive_s >= timeout:
            wanted = min(NLB_IDLE_TIMEOUT_MAX_S, keepalive_s + 60)
            commands = [_keepalive_fix(timeout)]
            if listener.protocol != "TLS":
                commands.insert(
                    0,
                    f"aws elbv2 modify-listener-attributes --listener-arn {listener.listener_arn} "
                    f"--attributes Key={NLB_IDLE_TIMEOUT_ATTRIBUTE},Value={wanted}",
                )
            result.findings.append(
                _risk(
                    "Load balancer listener",
                    listener.load_balancer,
                    timeout=timeout,
                    keepalive=keepalive_s,
                    evidence=listener.as_data(),
                    fix=Remediation(
                        summary="Raise the listener's TCP idle timeout above the clients' keepalive, or send "
                        "keepalives more often.",
                        steps=(
                            f"{NLB_IDLE_TIMEOUT_ATTRIBUTE}: 60-6000 s (TLS listeners: 350 s, fixed).",
                            f"Rollback: the same command with Value={timeout}.",
                        ),
                        commands=tuple(commands),
                    ),
                )
            )
        else:
            result.checked.append(
                f"load balancer {name} idle timeout: checked — {timeout} s, longer than the clients' "
                f"keepalive ({keepalive_s} s)"
            )
    return result
