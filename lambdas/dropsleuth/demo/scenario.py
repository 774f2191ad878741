"""A scenario is data: the network of an account, the site, and (in later sections) what happened.

Scenarios live in ``scenarios/*.yaml``. Resources are named logically (``app-a``, ``ingest``) and the
builder (``account.py``) returns the real ids moto gave them. Nothing in the code that diagnoses an account
ever sees a scenario: it sees only the account.

Addresses for sites and customer gateways use documentation ranges (RFC 5737 198.51.100.0/24,
203.0.113.0/24) or private ranges inside the embedded account; nothing is ever sent to them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dropsleuth.aws.errors import InputError
from dropsleuth.flowlogs.synth import BlackHole, ConnectTimeouts, PortScan, ReturnRejects
from dropsleuth.metrics_catalog import HOST_GAUGE_METRICS
from dropsleuth.rules.host_firewall import parse_rule_reference
from dropsleuth.rules.qdisc import parse_qdisc_reference

SCENARIO_DIR = Path(__file__).parent / "scenarios"


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VpcSpec(_Data):
    name: str
    cidr: str
    ipv6: bool = False


class SubnetSpec(_Data):
    name: str
    cidr: str
    az: str = "a"


class NaclEntrySpec(_Data):
    rule: int = Field(ge=1, le=32766)
    direction: Literal["inbound", "outbound"]
    protocol: Literal["all", "icmp", "tcp", "udp", "icmpv6"] | int = "all"
    action: Literal["allow", "deny"]
    cidr: str = "0.0.0.0/0"
    icmp_type: int | None = None
    icmp_code: int | None = None
    ports: tuple[int, int] | None = None


class NaclSpec(_Data):
    name: str
    subnets: tuple[str, ...]
    entries: tuple[NaclEntrySpec, ...]


class SgRuleSpec(_Data):
    protocol: Literal["all", "icmp", "tcp", "udp", "icmpv6"] = "all"
    ports: tuple[int, int] | None = None
    """TCP/UDP port range; for ICMP (type, code) with -1 = all."""
    cidr: str | None = None
    source_group: str | None = None


class SecurityGroupSpec(_Data):
    name: str
    description: str = "dropsleuth embedded account"
    ingress: tuple[SgRuleSpec, ...] = ()
    egress: tuple[SgRuleSpec, ...] = (SgRuleSpec(protocol="all", cidr="0.0.0.0/0"),)


class InstanceSpec(_Data):
    name: str
    subnet: str
    private_ip: str
    security_groups: tuple[str, ...]
    instance_type: str = "m5.large"


class VpnSpec(_Data):
    name: str
    customer_gateway_ip: str
    bgp_asn: int = 65000
    static_routes: tuple[str, ...] = ()


class RouteSpec(_Data):
    destination: str
    target: Literal["igw", "vgw", "tgw", "nat", "local", "s3-endpoint"] | str


class RouteTableSpec(_Data):
    name: str
    subnets: tuple[str, ...]
    routes: tuple[RouteSpec, ...] = ()


class NatGatewaySpec(_Data):
    """A public NAT gateway in ``subnet`` (route target ``nat:<name>``, or ``nat`` for the first one)."""

    name: str
    subnet: str
    private_ip: str
    """Its address in the subnet (CreateNatGateway ``PrivateIpAddress``): what its interface's flow-log
    records show."""


class LoadBalancerSpec(_Data):
    """A Network Load Balancer in ``subnets`` (its metrics are published by name, ``MetricsSpec.aws``)."""

    name: str
    subnets: tuple[str, ...]
    scheme: Literal["internal", "internet-facing"] = "internal"


class TransitGatewayPeerSpec(_Data):
    """Another VPC attached to the transit gateway, reached through a static route to its attachment in
    the gateway's default route table (what the attachment's propagation would put there)."""

    name: str
    cidr: str
    route: Literal["active", "blackhole"] = "active"
    """``blackhole``: the static route to it drops what it matches (a route left after its attachment was
    deleted, or set to blackhole on purpose)."""


class NetworkSpec(_Data):
    vpc: VpcSpec
    subnets: tuple[SubnetSpec, ...]
    internet_gateway: bool = False
    transit_gateway: bool = False
    """A transit gateway with a VPC attachment on the first subnet (route target ``tgw``)."""
    transit_gateway_peers: tuple[TransitGatewayPeerSpec, ...] = ()
    vpn: VpnSpec | None = None
    gateway_endpoints: tuple[str, ...] = ()
    route_tables: tuple[RouteTableSpec, ...] = ()
    network_acls: tuple[NaclSpec, ...] = ()
    security_groups: tuple[SecurityGroupSpec, ...] = ()
    instances: tuple[InstanceSpec, ...] = ()
    nat_gateways: tuple[NatGatewaySpec, ...] = ()
    load_balancers: tuple[LoadBalancerSpec, ...] = ()


class SiteSpec(_Data):
    """The site as the registry will know it; ``vpc`` and ``vpn`` are logical names from the network."""

    name: str
    cidrs: tuple[str, ...]
    expected_mtus: dict[str, int] = Field(default_factory=dict)
    wan_mtu: int | None = None
    mss_clamp: int | None = None
    """The customer gateway's MSS clamp, as the operator recorded it in the registry."""
    link: Literal["vpn", "direct_connect"] | None = None
    dx_mtu: Literal[1500, 8500, 9001] | None = None
    probe_targets: tuple[str, ...] = ()
    upload_destination: str | None = None
    min_upload_mbps: float | None = None
    # Logical names of the instances the site talks to (their ENIs join the site's scope).
    instances: tuple[str, ...] = ()


class TrafficSpec(_Data):
    """The site's traffic as the flow logs saw it (``dropsleuth.flowlogs.synth``), minute 0 = start."""

    duration_minutes: int = Field(90, ge=10, le=24 * 60)
    baseline_mbps: float = Field(42.0, ge=0)
    seed: int = 7
    site_hosts: int = Field(2, ge=1, le=50)
    """How many of the site's hosts upload (addresses .10, .11 … of the site's first CIDR)."""
    black_holes: tuple[BlackHole, ...] = ()
    scans: tuple[PortScan, ...] = ()
    return_rejects: tuple[ReturnRejects, ...] = ()
    connect_timeouts: tuple[ConnectTimeouts, ...] = ()
    through_nat: str | None = None
    """The NAT gateway (logical name) the site's flows leave the VPC through: its interface logs them too.
    Set for a site whose hosts are instances of the VPC (``site.instances``, their addresses the site's)."""
    packet_bytes: int = Field(1400, ge=576, le=9216)
    """Bytes per full data packet that reach the VPC (what the site's MTU or clamp lets through)."""


class MetricWindowSpec(_Data):
    """A value published every minute from ``from_minute`` to ``to_minute`` (exclusive; None: the end)."""

    from_minute: int = Field(0, ge=0)
    to_minute: int | None = None
    per_minute: float = Field(ge=0)


class HostCountersSpec(_Data):
    """The drop counters one host's agent published (``metrics_catalog.HOST_DROP_METRICS``), per minute.

    Every metric of the catalog is published every minute, as an agent on a Nitro (ENA) instance does:
    0 unless a window below says otherwise. The conntrack metrics only where nf_conntrack is loaded.
    """

    host: str = Field(min_length=1)
    counts: dict[str, tuple[MetricWindowSpec, ...]] = Field(default_factory=dict)
    """Metric name → what it counted per minute, by window."""
    conntrack_used_percent: float | tuple[MetricWindowSpec, ...] | None = None
    """How full the conntrack table was: one level for the whole window, or by window (a table that fills
    at the onset). None: nf_conntrack is not loaded on the host (no conntrack metrics at all)."""
    levels: dict[str, tuple[MetricWindowSpec, ...]] = Field(default_factory=dict)
    """Gauge name (``metrics_catalog.HOST_GAUGE_METRICS``: the settings, the fullest listener) → its value
    in each minute, by window (``per_minute`` is the level). Published only in minutes a window covers, as
    an agent publishes what it read."""
    firewall_counters: bool = False
    """The agent may read the host firewall's counters (the CAP_NET_ADMIN drop-in): only then are
    ``HostFirewallDrops`` published. The shipped unit does not grant it."""
    firewall_rules: dict[str, tuple[MetricWindowSpec, ...]] = Field(default_factory=dict)
    """Drop rule (named as the agent names it, ``rules.host_firewall.DropRule.reference``) → packets it
    dropped per minute. Published as the agent does: ``HostFirewallRuleDrops`` only in the minutes a rule
    counted, the busiest ``FIREWALL_RULES_PER_CYCLE``; ``HostFirewallDrops`` is their sum unless ``counts``
    gives it."""
    qdiscs: dict[str, tuple[MetricWindowSpec, ...]] = Field(default_factory=dict)
    """Root qdisc (``rules.qdisc.QdiscReference.reference``) → packets it dropped per minute, published the
    same way (``QdiscDropsByQdisc``; ``QdiscDrops`` their sum unless ``counts`` gives it)."""

    @field_validator("firewall_rules")
    @classmethod
    def _rule_references(
        cls, rules: dict[str, tuple[MetricWindowSpec, ...]]
    ) -> dict[str, tuple[MetricWindowSpec, ...]]:
        wrong = sorted(r for r in rules if parse_rule_reference(r) is None)
        if wrong:
            raise ValueError(f"not a rule as the agent names one: {', '.join(wrong)}")
        return rules

    @field_validator("qdiscs")
    @classmethod
    def _qdisc_references(
        cls, qdiscs: dict[str, tuple[MetricWindowSpec, ...]]
    ) -> dict[str, tuple[MetricWindowSpec, ...]]:
        wrong = sorted(q for q in qdiscs if parse_qdisc_reference(q) is None)
        if wrong:
            raise ValueError(f"not a qdisc as the agent names one: {', '.join(wrong)}")
        return qdiscs

    @field_validator("conntrack_used_percent")
    @classmethod
    def _a_percentage(
        cls, used: float | tuple[MetricWindowSpec, ...] | None
    ) -> float | tuple[MetricWindowSpec, ...] | None:
        values = [used] if isinstance(used, int | float) else [w.per_minute for w in used or ()]
        if any(not 0 <= value <= 100 for value in values):
            raise ValueError("a percentage is between 0 and 100")
        return used

    @field_validator("levels")
    @classmethod
    def _known_levels(
        cls, levels: dict[str, tuple[MetricWindowSpec, ...]]
    ) -> dict[str, tuple[MetricWindowSpec, ...]]:
        known = {spec.name for spec in HOST_GAUGE_METRICS.values()}
        unknown = sorted(set(levels) - known)
        if unknown:
            raise ValueError(f"not a gauge the agent publishes: {', '.join(unknown)}")
        return levels

    @model_validator(mode="after")
    def _firewall_levels_need_the_firewall(self) -> HostCountersSpec:
        firewall = {HOST_GAUGE_METRICS["firewall.uncounted_rules"].name}
        if not self.firewall_counters and (firewall & set(self.levels) or self.firewall_rules):
            raise ValueError(
                "an agent that cannot read the firewall (firewall_counters: false) publishes no firewall "
                "level"
            )
        return self


class AwsMetricSpec(_Data):
    """A metric AWS publishes every minute for a resource of the network (0 unless a window says otherwise):
    ``AWS/NATGateway`` by ``NatGatewayId``, ``AWS/NetworkELB`` by ``LoadBalancer`` (VPC User Guide,
    "Monitor NAT gateways with Amazon CloudWatch"; ELB guide, "CloudWatch metrics for your Network Load
    Balancer")."""

    namespace: Literal["AWS/NATGateway", "AWS/NetworkELB", "AWS/TransitGateway"]
    resource: str
    """The NAT gateway's or load balancer's logical name; for the transit gateway, the attachment's: ``vpc``
    (the scenario VPC's own) or a peer's name."""
    metric: Literal[
        "ErrorPortAllocation",
        "IdleTimeoutCount",
        "PacketsDropCount",
        "TCP_ELB_Reset_Count",
        "TCP_Target_Reset_Count",
        "TCP_Client_Reset_Count",
        "PacketDropCountBlackhole",
        "PacketDropCountNoRoute",
    ]
    windows: tuple[MetricWindowSpec, ...] = ()


class MetricsSpec(_Data):
    """What the site's host agent and AWS/VPN published to CloudWatch."""

    host_agent: bool = True
    """Publish ``UploadThroughputMbps`` (following the traffic) and ``FragNeededCount``."""
    frag_needed: tuple[MetricWindowSpec, ...] = ()
    tunnel_down_minutes: tuple[int, ...] = ()
    """Minutes where AWS/VPN ``TunnelState`` dropped to 0 (one flap each)."""
    upload_mbps: tuple[MetricWindowSpec, ...] = ()
    """What the agent's upload probe measured in these windows, where it is not the traffic's rate (a
    cause that slows new connections, not the flows already open)."""
    host_counters: tuple[HostCountersSpec, ...] = ()
    aws: tuple[AwsMetricSpec, ...] = ()


class ChangeSpec(_Data):
    """A change to the AWS network as CloudTrail records it (an EC2 API call, ``event_name``);
    ``resources`` are logical names or literal ids. What changes on a site host is not here: it is the
    site agent's to observe (``AgentSpec``)."""

    minute: int = Field(ge=0)
    event_name: str
    summary: str
    """For the scenario's reader: CloudTrail carries no summary, the report describes the call itself."""
    actor: str = "arn:aws:iam::123456789012:user/netops"
    resources: tuple[str, ...] = ()
    request_parameters: dict[str, Any] = Field(default_factory=dict)
    """The call's parameters as CloudTrail records them; a string naming a logical resource becomes its id."""


class AgentInterfaceSpec(_Data):
    """One interface of the site host as ``ip -j addr`` would show it at minute 0."""

    name: str
    mtu: int = Field(ge=68, le=65535)
    up: bool = True
    addresses: tuple[str, ...] = ()


class InterfaceChangeSpec(_Data):
    """What someone did to the host at ``minute`` (``ip link set … mtu``, a netplan apply)."""

    minute: int = Field(ge=0)
    interface: str
    mtu: int | None = Field(None, ge=68, le=65535)
    up: bool | None = None


class PathChangeSpec(_Data):
    """What changed on the path toward the agent's targets at ``minute`` (a new firewall, a WAN link)."""

    minute: int = Field(ge=0)
    path_mtu: int = Field(ge=68, le=65535)
    frag_needed_returns: bool = False


class AgentSpec(_Data):
    """The site host the agent runs on, and what happened to it. The replay runs the agent's own cycle
    (``probe/agent.py``) once a minute over this host, so the metrics and change records the account holds
    are the ones the agent's code produces."""

    host: str
    interfaces: tuple[AgentInterfaceSpec, ...]
    default_route: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    """Addresses the agent DF-probes (the registry's ``probe_targets``)."""
    path_mtu: int = Field(1500, ge=68, le=65535)
    """The largest DF probe the path toward the targets carries."""
    frag_needed_returns: bool = False
    """Whether the path's ICMP frag-needed reaches the host (False: larger probes vanish silently)."""
    interface_changes: tuple[InterfaceChangeSpec, ...] = ()
    path_changes: tuple[PathChangeSpec, ...] = ()
    """Later states of the path (``path_mtu`` and ``frag_needed_returns`` from their minute on)."""


class AlarmSpec(_Data):
    """The alarm that fires (``set_alarm_state``), as the CDK app defines it for the site."""

    metric: str = "UploadThroughputMbps"
    minute: int | None = Field(None, ge=0)
    """When it goes to ALARM; None: the alarm does not fire and the investigation is a manual request."""


class RequestSpec(_Data):
    """A manual request instead of the site's default (its CIDR toward its upload destination):
    ``eni:<instance name>`` or a literal CIDR / IP / service for each end."""

    source: str | None = None
    destination: str | None = None


class Scenario(BaseModel):
    """One embedded incident (or healthy account). Later sections describe the traffic and events."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str
    title: str
    description: str = ""
    region: str = "eu-west-1"
    network: NetworkSpec
    site: SiteSpec
    traffic: TrafficSpec = Field(default_factory=TrafficSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    changes: tuple[ChangeSpec, ...] = ()
    agent: AgentSpec | None = None
    alarm: AlarmSpec = Field(default_factory=AlarmSpec)
    request: RequestSpec | None = None


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name: str) -> Scenario:
    """Load ``scenarios/<name>.yaml``; an unknown name is bad input naming the known ones."""
    path = SCENARIO_DIR / f"{name}.yaml"
    if not path.is_file():
        raise InputError(
            f"unknown scenario {name!r} (known: {', '.join(scenario_names())})", field="scenario"
        )
    return parse_scenario(yaml.safe_load(path.read_text(encoding="utf-8")))


def parse_scenario(document: Any) -> Scenario:
    return Scenario.model_validate(document)
