"""Reachability Analyzer for a TCP path, or the path model's static verdict where the API is unavailable.

Reachability Analyzer is configuration analysis only, TCP/UDP only, IPv4 only, in one Region; no explanation
code mentions MTU, and each analysis costs about $0.10 (VPC Reachability Analyzer guide, "How Reachability
Analyzer works", "Explanation codes", pricing). There is no boto3 waiter: the AWS implementation polls
``DescribeNetworkInsightsAnalyses`` with backoff up to a timeout, and deletes every path and analysis it
created, on success and on failure. A cost guard caps the analyses per investigation
(``Settings.max_reachability_analyses``) and reuses a recent analysis of the same path.

Where the API is not implemented (moto: NotImplementedError in-process, HTTP 500 in server mode) or not
permitted, ``analyse_reachability`` answers from ``StaticReachabilityAnalyzer``: the route walk of
``rules/path.py`` plus the NACL decisions of ``rules/icmp.py`` for the TCP request and its reply at every
subnet boundary, and the security-group decisions at the ends, labelled ``static``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from dropsleuth.aws import clients
from dropsleuth.aws.errors import (
    AccessDeniedError,
    AwsError,
    AwsTimeoutError,
    DropsleuthError,
    ServerError,
    UnsupportedError,
    translate,
)
from dropsleuth.aws.insights_sweeper import DELETE_TOOLKIT_INSIGHTS
from dropsleuth.aws.permissions import (
    TOOLKIT_TAG_KEY,
    TOOLKIT_TAG_VALUE,
    declare,
    ec2_arns,
    scoped,
    tag_on_create,
)
from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity
from dropsleuth.observability import logger
from dropsleuth.rules.icmp import (
    PROTO_TCP,
    Direction,
    NaclDecision,
    Packet,
    nacl_admits,
    nacl_entries,
    security_groups_admit,
)
from dropsleuth.rules.mtu_rulebook import HopKind
from dropsleuth.rules.path import (
    End,
    Hop,
    PathAnalysis,
    Topology,
    TopologyIndex,
    addressable,
    analyse_path,
    subnet_crossings,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

    from dropsleuth.context import InvestigationContext, StepOutcome

# The path and the analysis are tagged when created (TagSpecifications), so the role may delete only what
# carries the toolkit's tag, and may tag only inside these two create calls, never an existing resource.
# Resource types and ARNs: Service Authorization Reference, "Amazon EC2" (network-insights-path,
# network-insights-analysis).
#
# AWS checks more than the calls made here: Reachability Analyzer reads the network with the caller's own
# permissions while an analysis runs, and asks AWS Tiros (a service only AWS services call) for the answer.
# Without these an analysis ends "failed: insufficient permissions" after it was started and billed. The
# list is the AWS managed policy AmazonVPCReachabilityAnalyzerFullAccessPolicy (v4), minus the cross-account
# Tiros actions (ExtendQuery, GetQueryExtensionAccounts: the toolkit analyses one account) and the
# tag/untag of paths it does not call. Sources: Reachability Analyzer Guide, "Required API permissions for
# Reachability Analyzer"
# (https://docs.aws.amazon.com/vpc/latest/reachability/security_iam_required-API-permissions.html), and the
# AWS Managed Policy Reference, "AmazonVPCReachabilityAnalyzerFullAccessPolicy". The guide's "AWS managed
# policies" page says Direct Connect and Global Accelerator resources are not analysed and those actions
# may be omitted; the permissions page lists both services, so their read-only actions are kept: a missing
# one costs a failed, billed analysis, an extra describe costs nothing.
ANALYSIS_CHECKS_TIROS = ("tiros:CreateQuery", "tiros:GetQueryAnswer", "tiros:GetQueryExplanation")
ANALYSIS_READS_EC2 = (
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeCustomerGateways",
    "ec2:DescribeInstances",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeManagedPrefixLists",
    "ec2:DescribeNatGateways",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribePrefixLists",
    "ec2:DescribeRegions",
    "ec2:DescribeRouteTables",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeTransitGatewayAttachments",
    "ec2:DescribeTransitGatewayConnects",
    "ec2:DescribeTransitGatewayPeeringAttachments",
    "ec2:DescribeTransitGatewayPolicyTables",
    "ec2:DescribeTransitGatewayRouteTables",
    "ec2:DescribeTransitGatewayVpcAttachments",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpcEndpointServiceConfigurations",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeVpcs",
    "ec2:DescribeVpnConnections",
    "ec2:DescribeVpnGateways",
    "ec2:GetManagedPrefixListEntries",
    "ec2:GetTransitGatewayPolicyTableAssociations",
    "ec2:GetTransitGatewayPolicyTableEntries",
    "ec2:GetTransitGatewayRouteTablePropagations",
    "ec2:SearchTransitGatewayRoutes",
)
ANALYSIS_READS_OTHER_SERVICES = (
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "network-firewall:DescribeFirewall",
    "network-firewall:DescribeFirewallMetadata",
    "network-firewall:DescribeFirewallPolicy",
    "network-firewall:DescribeResourcePolicy",
    "network-firewall:DescribeRuleGroup",
    "network-firewall:ListFirewallPolicies",
    "network-firewall:ListFirewalls",
    "network-firewall:ListRuleGroups",
    "directconnect:DescribeConnections",
    "directconnect:DescribeDirectConnectGatewayAssociations",
    "directconnect:DescribeDirectConnectGatewayAttachments",
    "directconnect:DescribeDirectConnectGateways",
    "directconnect:DescribeVirtualGateways",
    "directconnect:DescribeVirtualInterfaces",
    "globalaccelerator:ListAccelerators",
    "globalaccelerator:ListCustomRoutingAccelerators",
    "globalaccelerator:ListCustomRoutingEndpointGroups",
    "globalaccelerator:ListCustomRoutingListeners",
    "globalaccelerator:ListCustomRoutingPortMappings",
    "globalaccelerator:ListEndpointGroups",
    "globalaccelerator:ListListeners",
)
CHECKED_INSIDE_ANALYSIS = (*ANALYSIS_CHECKS_TIROS, *ANALYSIS_READS_EC2, *ANALYSIS_READS_OTHER_SERVICES)
"""Actions AWS checks while an analysis runs, not calls this module makes (no call recorder can see them)."""

PERMISSIONS = declare(
    "reachability",
    *CHECKED_INSIDE_ANALYSIS,
    "ec2:CreateNetworkInsightsPath",
    "ec2:StartNetworkInsightsAnalysis",
    "ec2:DescribeNetworkInsightsAnalyses",
    "ec2:DescribeNetworkInsightsPaths",
    *DELETE_TOOLKIT_INSIGHTS,
    scoped(
        "ec2:CreateTags",
        resources=ec2_arns("network-insights-path", "network-insights-analysis"),
        conditions=(tag_on_create("CreateNetworkInsightsPath", "StartNetworkInsightsAnalysis"),),
        reason="tags a path or an analysis only while creating it (ec2:CreateAction)",
    ),
)

Mode = Literal["aws", "static"]
_TAG = {"Key": TOOLKIT_TAG_KEY, "Value": TOOLKIT_TAG_VALUE}


class AnalysisBudgetExceededError(DropsleuthError):
    """The investigation already ran its allowed number of Reachability Analyzer analyses."""


@dataclass(frozen=True)
class ReachabilityResult:
    """A reachability verdict for one TCP path, from AWS (``aws``) or the path model (``static``)."""

    mode: Mode
    reachable: bool
    explanations: tuple[dict[str, Any], ...] = ()
    findings: tuple[Finding, ...] = ()
    analysis_id: str | None = None
    reused: bool = False
    note: str = ""
    cleanup_errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "reachable": self.reachable,
            "explanations": list(self.explanations),
            "findings": [f.model_dump(mode="json") for f in self.findings],
            "analysis_id": self.analysis_id,
            "reused": self.reused,
            "note": self.note,
            "cleanup_errors": list(self.cleanup_errors),
        }


class ReachabilityAnalyzer(Protocol):
    """Decides whether TCP to ``port`` gets from one resource to another."""

    def analyse(
        self,
        source_resource: str,
        destination_resource: str,
        port: int,
        *,
        source_ip: str | None = None,
        destination_ip: str | None = None,
    ) -> ReachabilityResult: ...


# ---------------------------------------------------------------------------------------------------------
# Explanations → findings
# ---------------------------------------------------------------------------------------------------------


def _component_ids(value: Any) -> Iterator[str]:
    """Every resource id named anywhere in an explanation (``Acl.Id``, ``SecurityGroups[].Id`` …)."""
    if isinstance(value, Mapping):
        if isinstance(value.get("Id"), str):
            yield value["Id"]
        for item in value.values():
            yield from _component_ids(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _component_ids(item)


def explanation_finding(explanation: Mapping[str, Any]) -> Finding:
    """One Reachability Analyzer explanation as a finding: ACL/SG codes are rejections, the rest routing."""
    code = str(explanation.get("ExplanationCode", "UNKNOWN"))
    ids = tuple(dict.fromkeys(_component_ids(explanation)))
    rejected = "ACL" in code or "SG" in code or "SECURITY_GROUP" in code
    return Finding(
        code=FindingCode.FLOW_REJECTED if rejected else FindingCode.NO_ROUTE,
        severity=Severity.HIGH if rejected else Severity.CRITICAL,
        confidence=0.9,
        title=f"Reachability Analyzer: {code}" + (f" at {ids[0]}" if ids else ""),
        detail="Reachability Analyzer found the TCP path blocked (configuration analysis; explanation codes: "
        "https://docs.aws.amazon.com/vpc/latest/reachability/explanation-codes.html).",
        resource_ids=ids,
        evidence=(
            Evidence(kind="reachability_explanation", summary=code, resource_ids=ids, data=dict(explanation)),
        ),
        remediation=Remediation(
            summary="Fix the blocking component named by the explanation.",
            commands=("aws ec2 describe-network-insights-analyses --filters Name=path-found,Values=false",),
        ),
    )


# ---------------------------------------------------------------------------------------------------------
# The AWS implementation
# ---------------------------------------------------------------------------------------------------------


@dataclass
class AwsReachabilityAnalyzer:
    """Reachability Analyzer through the EC2 API, with cleanup, polling backoff and a cost guard."""

    ec2: EC2Client | None = None
    max_analyses: int = 2
    timeout_s: float = 60.0
    first_delay_s: float = 1.0
    max_delay_s: float = 8.0
    reuse_within: timedelta = timedelta(minutes=15)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    started: int = 0
    _cache: dict[tuple[str, str, int], ReachabilityResult] = field(default_factory=dict)

    def _client(self) -> EC2Client:
        if self.ec2 is None:
            self.ec2 = clients.ec2()
        return self.ec2

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client(), operation)(**kwargs)
        except (ClientError, BotoCoreError, ResponseParserError, NotImplementedError) as error:
            raise translate(error, operation=operation) from error

    def analyse(
        self,
        source_resource: str,
        destination_resource: str,
        port: int,
        *,
        source_ip: str | None = None,
        destination_ip: str | None = None,
    ) -> ReachabilityResult:
        """Create the path, run one analysis, map its explanations; delete what was created, always."""
        key = (source_resource, destination_resource, port)
        if key in self._cache:
            return _as_reused(self._cache[key])
        recent = self._recent_analysis(source_resource, destination_resource, port)
        if recent is not None:
            result = _result_from(recent, reused=True)
            self._cache[key] = result
            return result
        if self.started >= self.max_analyses:
            raise AnalysisBudgetExceededError(
                f"already ran {self.started} Reachability Analyzer analyses (max_reachability_analyses)"
            )
        created_path: str | None = None
        created_analysis: str | None = None
        try:
            path_args: dict[str, Any] = {
                "Source": source_resource,
                "Destination": destination_resource,
                "Protocol": "tcp",
                "DestinationPort": port,
                "TagSpecifications": [{"ResourceType": "network-insights-path", "Tags": [_TAG]}],
            }
            if source_ip:
                path_args["SourceIp"] = source_ip
            if destination_ip:
                path_args["DestinationIp"] = destination_ip
            path = self._call("create_network_insights_path", **path_args)["NetworkInsightsPath"]
            created_path = path["NetworkInsightsPathId"]
            started = self._call(
                "start_network_insights_analysis",
                NetworkInsightsPathId=created_path,
                TagSpecifications=[{"ResourceType": "network-insights-analysis", "Tags": [_TAG]}],
            )["NetworkInsightsAnalysis"]
            self.started += 1
            created_analysis = started["NetworkInsightsAnalysisId"]
            analysis = self._wait(created_analysis)
            if analysis.get("Status") == "failed":
                raise AwsError(
                    f"Reachability Analyzer analysis {created_analysis} failed: "
                    f"{analysis.get('StatusMessage', 'no reason given')}",
                    code="AnalysisFailed",
                    operation="StartNetworkInsightsAnalysis",
                )
            result = _result_from(analysis, reused=False)
        finally:
            errors = self._cleanup(created_analysis, created_path)
        if errors:
            result = _with_cleanup_errors(result, errors)
        self._cache[key] = result
        return result

    def _wait(self, analysis_id: str) -> dict[str, Any]:
        deadline = self.clock() + self.timeout_s
        delay = self.first_delay_s
        while True:
            found = self._call(
                "describe_network_insights_analyses", NetworkInsightsAnalysisIds=[analysis_id]
            )["NetworkInsightsAnalyses"]
            analysis = found[0] if found else {}
            if analysis.get("Status") in ("succeeded", "failed"):
                return dict(analysis)
            if self.clock() + delay > deadline:
                raise AwsTimeoutError(
                    f"Reachability Analyzer analysis {analysis_id} still running after "
                    f"{self.timeout_s:.0f} s",
                    operation="DescribeNetworkInsightsAnalyses",
                )
            self.sleep(delay)
            delay = min(delay * 2, self.max_delay_s)

    def _cleanup(self, analysis_id: str | None, path_id: str | None) -> tuple[str, ...]:
        """Delete the analysis, then the path; a failed delete is reported, never raised over the result."""
        errors = []
        if analysis_id:
            try:
                self._call("delete_network_insights_analysis", NetworkInsightsAnalysisId=analysis_id)
            except AwsError as failure:
                errors.append(f"{analysis_id}: {failure}")
        if path_id:
            try:
                self._call("delete_network_insights_path", NetworkInsightsPathId=path_id)
            except AwsError as failure:
                errors.append(f"{path_id}: {failure}")
        for message in errors:
            logger.warning("reachability cleanup failed", extra={"error": message})
        return tuple(errors)

    def _recent_analysis(self, source: str, destination: str, port: int) -> dict[str, Any] | None:
        """A succeeded analysis of the same path started within ``reuse_within`` (anyone's), or None."""
        paths = self._call(
            "describe_network_insights_paths",
            Filters=[
                {"Name": "source", "Values": [source]},
                {"Name": "destination", "Values": [destination]},
                {"Name": "protocol", "Values": ["tcp"]},
                {"Name": "destination-port", "Values": [str(port)]},
            ],
        )["NetworkInsightsPaths"]
        since = datetime.now(UTC) - self.reuse_within
        for path in paths:
            analyses = self._call(
                "describe_network_insights_analyses",
                NetworkInsightsPathId=path["NetworkInsightsPathId"],
                AnalysisStartTime=since,
            )["NetworkInsightsAnalyses"]
            done = [a for a in analyses if a.get("Status") == "succeeded"]
            if done:
                newest = max(done, key=lambda a: a.get("StartDate") or since)
                return dict(newest)
        return None


def _result_from(analysis: Mapping[str, Any], *, reused: bool) -> ReachabilityResult:
    explanations = tuple(dict(e) for e in analysis.get("Explanations") or ())
    found = bool(analysis.get("NetworkPathFound"))
    findings = () if found else tuple(explanation_finding(e) for e in explanations)
    return ReachabilityResult(
        mode="aws",
        reachable=found,
        explanations=explanations,
        findings=findings,
        analysis_id=analysis.get("NetworkInsightsAnalysisId"),
        reused=reused,
        note="Reachability Analyzer checks configuration only; it says nothing about MTU",
    )


def _as_reused(result: ReachabilityResult) -> ReachabilityResult:
    return ReachabilityResult(**{**result.__dict__, "reused": True})


def _with_cleanup_errors(result: ReachabilityResult, errors: tuple[str, ...]) -> ReachabilityResult:
    return ReachabilityResult(**{**result.__dict__, "cleanup_errors": errors})


# ---------------------------------------------------------------------------------------------------------
# The static implementation
# ---------------------------------------------------------------------------------------------------------


def _end(resource: str, ip: str | None) -> End:
    if resource.startswith("eni-"):
        return End(eni_id=resource)
    if ip:
        return End(ip=ip)
    try:
        ipaddress.ip_network(resource, strict=False)
    except ValueError:
        return End(service=resource)
    return End(cidr=resource) if "/" in resource else End(ip=resource)


@dataclass
class StaticReachabilityAnalyzer:
    """The path model's TCP verdict, where Reachability Analyzer is not available.

    A route there (and, for a site, back); the NACL of every subnet boundary the request crosses and, NACLs
    being stateless, every boundary the reply crosses on its way back (from the port to the client's
    ephemeral port, 1024–65535), intermediate NAT gateway and appliance subnets in and out, no NACL between
    two addresses of one subnet; the security groups of the ENIs at the ends, for the request only (they
    are stateful). See ``static_verdict``.
    """

    topology: Topology
    vpn_connection_id: str | None = None

    def analyse(
        self,
        source_resource: str,
        destination_resource: str,
        port: int,
        *,
        source_ip: str | None = None,
        destination_ip: str | None = None,
    ) -> ReachabilityResult:
        path = analyse_path(
            self.topology,
            _end(source_resource, source_ip),
            _end(destination_resource, destination_ip),
            port=port,
            vpn_connection_id=self.vpn_connection_id,
        )
        return static_verdict(self.topology, path)


def _hop_ip(hop: Hop) -> str | None:
    """The address of a hop: its own, or its id when the hop is an address (a site, an internet host)."""
    for candidate in (hop.address, hop.resource_id):
        try:
            return str(ipaddress.ip_address(candidate or ""))
        except ValueError:
            continue
    return None


def _tcp_packet(path: PathAnalysis, port: int) -> Packet | None:
    if not path.hops:
        return None
    sender, receiver = _hop_ip(path.hops[0]), _hop_ip(path.hops[-1])
    if sender is None or receiver is None:
        return None
    return Packet(PROTO_TCP, ipaddress.ip_address(sender), ipaddress.ip_address(receiver), port=port)


# The ports a client's replies come back to: the VPC User Guide's network ACL page ("Ephemeral ports")
# recommends allowing 1024-65535, which covers every operating system's range.
EPHEMERAL_PORTS = (1024, 65535)


def nacl_admits_ports(
    entries: Sequence[Mapping[str, Any]], template: Packet, direction: Direction, ports: tuple[int, int]
) -> tuple[NaclDecision, int]:
    """Whether a NACL admits the packet to every destination port in ``ports``: the first denial, or an allow.

    A NACL's decision changes only where an entry's port range starts or ends, so evaluating ``nacl_admits``
    at those points (and at the range's ends) decides the whole range exactly.
    """
    low, high = ports
    points = {low, high}
    for entry in nacl_entries(entries, direction):
        bounds = entry.get("PortRange")
        if bounds:
            first, last = int(bounds.get("From", 0)), int(bounds.get("To", 65535))
            points.update(p for p in (first, last + 1) if low <= p <= high)
    decision: NaclDecision | None = None
    for port in sorted(points):
        decision = nacl_admits(entries, dataclasses.replace(template, port=port), direction)
        if not decision.allowed:
            return decision, port
    assert decision is not None
    return decision, high


def _nacl_explanations(path: PathAnalysis, packet: Packet, index: TopologyIndex) -> list[dict[str, Any]]:
    """The NACL denials of the request and of its reply at every subnet boundary on the path."""
    hops = path.hops
    subnets = [h.subnet_id for h in hops]
    starts_inside, ends_inside = hops[0].subnet_id is not None, hops[-1].subnet_id is not None
    reply = Packet(PROTO_TCP, packet.destination, packet.source)
    legs = [
        ("request", packet, crossing)
        for crossing in subnet_crossings(subnets, starts_inside=starts_inside, ends_inside=ends_inside)
    ] + [
        ("reply", reply, crossing)
        for crossing in subnet_crossings(
            list(reversed(subnets)), starts_inside=ends_inside, ends_inside=starts_inside
        )
    ]
    explanations = []
    for leg, template, (subnet_id, direction) in legs:
        acl = index.nacl_by_subnet.get(subnet_id)
        if acl is None:
            continue
        entries = acl.get("Entries") or ()
        if leg == "request":
            decision, port = nacl_admits(entries, template, direction), packet.port
        else:
            decision, port = nacl_admits_ports(entries, template, direction, EPHEMERAL_PORTS)
        if decision.allowed:
            continue
        explanations.append(
            {
                "ExplanationCode": "SUBNET_ACL_RESTRICTION",
                "Acl": {"Id": acl["NetworkAclId"]},
                "Subnet": {"Id": subnet_id},
                "Direction": direction.value,
                "RuleNumber": decision.rule_label,
                "Leg": leg,
                "Port": port,
            }
        )
    return explanations


def static_verdict(topology: Topology, path: PathAnalysis) -> ReachabilityResult:
    """TCP reachability from the path model: routes, the NACLs both ways, the SGs at the ENIs at the ends."""
    if not path.reachable:
        return ReachabilityResult(
            mode="static",
            reachable=False,
            explanations=({"ExplanationCode": "NO_ROUTE", "Detail": path.no_route_reason},),
            findings=tuple(path.findings()),
            note="static analysis of the route tables (Reachability Analyzer unavailable)",
        )
    packet = _tcp_packet(path, path.port)
    index = topology.index
    explanations: list[dict[str, Any]] = []
    if packet is not None:
        explanations += _nacl_explanations(path, packet, index)
        for hop, direction in ((path.hops[0], Direction.OUTBOUND), (path.hops[-1], Direction.INBOUND)):
            if hop.kind is not HopKind.ENI:
                continue
            eni = index.enis.get(hop.resource_id, {})
            group_ids = {g["GroupId"] for g in eni.get("Groups") or ()}
            groups = [g for g in topology.security_groups if g.get("GroupId") in group_ids]
            if groups and not security_groups_admit(groups, packet, direction).allowed:
                explanations.append(
                    {
                        "ExplanationCode": "ENI_SG_RULES_MISMATCH",
                        "Component": {"Id": hop.resource_id},
                        "SecurityGroups": [{"Id": g} for g in sorted(group_ids)],
                        "Direction": direction.value,
                    }
                )
    findings = [explanation_finding(e) for e in explanations]
    return ReachabilityResult(
        mode="static",
        reachable=not explanations,
        explanations=tuple(explanations),
        findings=tuple(findings),
        note="static analysis of routes, NACLs (request and reply) and security groups (Reachability "
        "Analyzer unavailable)",
    )


# ---------------------------------------------------------------------------------------------------------
# Choosing
# ---------------------------------------------------------------------------------------------------------


def analyse_reachability(
    path: PathAnalysis,
    topology: Topology,
    *,
    mode: str = "auto",
    analyzer: ReachabilityAnalyzer | None = None,
) -> ReachabilityResult:
    """The TCP verdict for a path: Reachability Analyzer (``aws``/``auto``), falling back to ``static``.

    ``auto`` falls back when the API is unsupported (moto, an emulator), refused, or the cost guard is
    spent, and when AWS answers with an internal error (``ServerError``: that analysis failed, which the
    note says); ``aws`` raises instead. Throttling, a failed or timed-out analysis raise in both modes.
    The RA path runs between the path's first and last resources (an ENI, or the VPN's gateway
    for a site) with the end addresses as filters.
    """
    if mode == "static":
        return static_verdict(topology, path)
    ends = ra_endpoints(path, topology)
    if ends is None:
        result = static_verdict(topology, path)
        return _noted(result, "the ends are not resources Reachability Analyzer accepts; static analysis")
    source, destination, source_ip, destination_ip = ends
    engine = analyzer or AwsReachabilityAnalyzer()
    try:
        return engine.analyse(
            source, destination, path.port, source_ip=source_ip, destination_ip=destination_ip
        )
    except (UnsupportedError, AccessDeniedError, AnalysisBudgetExceededError, ServerError) as error:
        if mode == "aws":
            raise
        if isinstance(error, ServerError):
            reason = (
                f"Reachability Analyzer analysis failed (AWS internal error, {error.code or 'HTTP 5xx'}): "
            )
        else:
            reason = "Reachability Analyzer not used: "
        return _noted(static_verdict(topology, path), f"{reason}{error}; the static analysis answers")


def _noted(result: ReachabilityResult, note: str) -> ReachabilityResult:
    return ReachabilityResult(**{**result.__dict__, "note": note})


def ra_endpoints(path: PathAnalysis, topology: Topology) -> tuple[str, str, str | None, str | None] | None:
    """Source and destination resources for Reachability Analyzer, with IP filters where they help."""
    if not path.hops:
        return None
    first, last = path.hops[0], path.hops[-1]
    source_ip: str | None = None
    destination_ip: str | None = None
    if first.kind is HopKind.ENI:
        source = first.resource_id
    elif first.kind is HopKind.SITE and len(path.hops) > 1 and path.hops[1].kind is HopKind.VPN:
        vpn = topology.index.vpns.get(path.hops[1].resource_id, {})
        gateway = vpn.get("VpnGatewayId") or vpn.get("TransitGatewayId")
        if not gateway:
            return None
        source, source_ip = str(gateway), first.resource_id
    elif first.kind is HopKind.SITE and len(path.hops) > 1 and path.hops[1].kind is HopKind.DIRECT_CONNECT:
        # The VIF lands on a VGW (the hop's id) or, through a Direct Connect gateway, on the next hop's TGW.
        gateway = next(
            (h.resource_id for h in path.hops[1:3] if h.resource_id.startswith(("vgw-", "tgw-"))), None
        )
        if gateway is None:
            return None
        source, source_ip = gateway, first.resource_id
    else:
        return None
    if last.kind is HopKind.ENI:
        destination = last.resource_id
    elif last.kind is HopKind.INTERNET and len(path.hops) > 1:
        gateway_hop = path.hops[-2]
        if gateway_hop.kind is not HopKind.INTERNET_GATEWAY:
            return None
        destination, destination_ip = gateway_hop.resource_id, last.resource_id
    else:
        return None
    return source, destination, source_ip, destination_ip


def reachability_for(
    ctx: InvestigationContext,
    *,
    mode: str = "auto",
    max_analyses: int = 2,
    timeout_s: float = 60.0,
    ec2: EC2Client | None = None,
) -> tuple[PathAnalysis, ReachabilityResult]:
    """The path analysis and the TCP reachability verdict for an investigation, from one topology read."""
    # topology imports the path model, which this module's callers may not need
    from dropsleuth.aws.topology import collect_topology, path_arguments  # noqa: PLC0415

    topology = collect_topology(ctx.vpc_id, ec2=ec2)
    path = analyse_path(
        topology,
        addressable(ctx.source, topology),
        addressable(ctx.destination, topology),
        **path_arguments(ctx),
    )
    analyzer = AwsReachabilityAnalyzer(ec2=ec2, max_analyses=max_analyses, timeout_s=timeout_s)
    return path, analyse_reachability(path, topology, mode=mode, analyzer=analyzer)


def reachability_outcome(
    ctx: InvestigationContext,
    *,
    mode: str = "auto",
    max_analyses: int = 2,
    timeout_s: float = 60.0,
    ec2: EC2Client | None = None,
) -> StepOutcome:
    """``reachability_for`` as an investigation step's outcome: the verdict's findings, mode and reason."""
    from dropsleuth.context import StepOutcome  # noqa: PLC0415 -- context imports the site registry

    path, verdict = reachability_for(ctx, mode=mode, max_analyses=max_analyses, timeout_s=timeout_s, ec2=ec2)
    label = "Reachability Analyzer" if verdict.mode == "aws" else "static analysis of routes, NACLs, SGs"
    state = "reachable" if verdict.reachable else "NOT reachable"
    return StepOutcome(
        findings=verdict.findings,
        checked=(f"TCP {path.port} path {path.source} → {path.destination} ({label}): {state}",),
        data={**verdict.to_dict(), "no_route_reason": path.no_route_reason},
    )
