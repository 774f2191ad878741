"""The ICMP/PMTUD audit: do the NACLs and security groups on the path let "fragmentation needed" through?

Path MTU Discovery works only if ICMP type 3 code 4 (IPv4) / ICMPv6 type 2 (IPv6) reaches the sender. AWS's
VPC User Guide ("Path MTU Discovery", under network ACLs) says to allow it **inbound and outbound** wherever
MTUs differ along a path; a NACL that denies it turns any MTU mismatch into a black hole. On its own that is
configuration, a risk (warning, docs/severity.md): the investigation raises it to high when its window shows
traffic being dropped (``rules.severity.CAUSE_ONCE_DROPPING``). Security groups are stateful and, per the EC2
User Guide ("Network maximum transmission unit (MTU) for your EC2 instance"), admit ICMP responses to outbound
traffic, so a missing SG rule is reported as a warning, not a root cause.

``audit_inventory`` is pure (the rules over an inventory); ``audit_icmp`` collects the inventory first.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dropsleuth.aws.errors import InputError
from dropsleuth.aws.inventory import NetworkInventory, collect_inventory
from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Report, Severity, Step, StepStatus
from dropsleuth.rules.icmp import (
    DEFAULT_DENY_RULE,
    Direction,
    IPNetwork,
    NaclRangeDecision,
    frag_needed,
    free_rule_numbers,
    nacl_admits_range,
    security_groups_admit_range,
)
from dropsleuth.rules.severity import CONFIGURATION_RISK

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

SCANNER_NOTE = (
    "Allowing exactly ICMP type 3 code 4 (and ICMPv6 type 2 for IPv6) is what AWS recommends for Path MTU "
    "Discovery. Protocol-blind scanners (ScoutSuite ec2-security-group-opens-icmp-to-all, CloudSploit "
    "openIcmp) flag any ICMP from 0.0.0.0/0; this narrow rule admits no echo requests or other ICMP."
)
NACL_STATELESS_NOTE = (
    "NACLs are stateless, so the message that tells a sender to use smaller packets is lost: wherever a "
    "hop's MTU is smaller than what the endpoints send (a VPN, an internet gateway, a site link), large "
    'packets vanish while small ones pass. AWS\'s VPC User Guide ("Path MTU Discovery") says to allow it '
    "inbound and outbound."
)
SG_STATEFUL_NOTE = (
    "Security groups are stateful: AWS's EC2 User Guide (\"Network maximum transmission unit (MTU) for "
    'your EC2 instance") says ICMP responses to outbound traffic are admitted without an inbound rule, so '
    "this is not a root cause by itself. Older versions of that page told users to add an inbound "
    '"Destination Unreachable: fragmentation needed" rule, and it still matters when the ICMP is not '
    "matched to a tracked flow (asymmetric routing, traffic that entered through another interface)."
)
ANY_V4 = ipaddress.ip_network("0.0.0.0/0")
ANY_V6 = ipaddress.ip_network("::/0")


@dataclass(frozen=True)
class AuditResult:
    vpc_id: str
    findings: tuple[Finding, ...]
    checked: tuple[str, ...]
    peers: tuple[str, ...]

    def to_report(self, *, duration_s: float = 0.0) -> Report:
        return Report(
            kind="audit",
            subject={"vpc_id": self.vpc_id, "peer_cidrs": list(self.peers)},
            findings=tuple(self.findings),
            steps=(Step(name="icmp_audit", status=StepStatus.OK, duration_s=round(duration_s, 3)),),
            checked=self.checked,
        )


def parse_peer_cidrs(values: Sequence[str]) -> list[IPNetwork]:
    """Validate the peers given by the user (``--peer-cidr``) into networks; bad input names the field."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as error:
            raise InputError(f"not a CIDR: {value!r}", field="peer_cidrs") from error
    return networks


def _ipv6_blocks(subnet: Mapping[str, Any]) -> list[str]:
    """The subnet's IPv6 CIDRs in use (a disassociated block no longer carries traffic)."""
    return [
        a["Ipv6CidrBlock"]
        for a in subnet.get("Ipv6CidrBlockAssociationSet", ())
        if a.get("Ipv6CidrBlockState", {}).get("State") in ("associated", "associating", None)
    ]


def _ipv6_enabled(subnet: Mapping[str, Any]) -> bool:
    return bool(_ipv6_blocks(subnet))


def _local_address(subnet: Mapping[str, Any], version: int) -> str:
    cidr = _ipv6_blocks(subnet)[0] if version == 6 else subnet["CidrBlock"]
    # The fifth address: AWS reserves the first four of every subnet (VPC User Guide, "Subnet CIDR blocks").
    return str(ipaddress.ip_network(cidr).network_address + 4)


def _peers_for(version: int, peers: Sequence[IPNetwork]) -> list[IPNetwork]:
    chosen = [p for p in peers if p.version == version]
    if peers:
        return chosen
    return [ANY_V4 if version == 4 else ANY_V6]


def audit_inventory(inventory: NetworkInventory, peer_cidrs: Sequence[str] = ()) -> AuditResult:
    """Audit the NACLs (a black hole wherever MTUs differ) and security groups (context) of the inventory."""
    peers = parse_peer_cidrs(peer_cidrs)
    findings: list[Finding] = []
    checked: list[str] = []
    blocked: dict[tuple[str, Direction, int, int | None], list[tuple[str, IPNetwork, NaclRangeDecision]]] = {}
    acls_by_id: dict[str, dict[str, Any]] = {}

    for subnet in inventory.subnets:
        acl = inventory.nacl_for_subnet(subnet["SubnetId"])
        acls_by_id[acl["NetworkAclId"]] = acl
        versions = [4, 6] if _ipv6_enabled(subnet) else [4]
        for version in versions:
            local = _local_address(subnet, version)
            for peer in _peers_for(version, peers):
                for direction in (Direction.INBOUND, Direction.OUTBOUND):
                    outside = str(peer.network_address)
                    template = (
                        frag_needed(outside, local)
                        if direction is Direction.INBOUND
                        else frag_needed(local, outside)
                    )
                    decision = nacl_admits_range(acl.get("Entries", ()), template, direction, peer)
                    label = f"{_icmp_label(version)} {direction.value} {_preposition(direction)} {peer}"
                    if decision.fully_admitted:
                        rules = ", ".join(str(d.rule_number) for d in decision.allowing)
                        checked.append(
                            f"NACL {acl['NetworkAclId']} ({subnet['SubnetId']}): {label}: "
                            f"admitted by rule {rules}"
                        )
                    else:
                        deciding = decision.deciding
                        number = deciding.rule_number if deciding else None
                        checked.append(
                            f"NACL {acl['NetworkAclId']} ({subnet['SubnetId']}): {label}: "
                            f"DENIED by rule {deciding.rule_label if deciding else '*'}"
                        )
                        key = (acl["NetworkAclId"], direction, version, number)
                        blocked.setdefault(key, []).append((subnet["SubnetId"], peer, decision))

    # Rule numbers promised to earlier fixes of the same NACL and direction: two fixes must not share one.
    promised: dict[tuple[str, Direction], set[int]] = {}
    for (acl_id, direction, version, number), hits in sorted(blocked.items(), key=lambda kv: str(kv[0])):
        taken = promised.setdefault((acl_id, direction), set())
        findings.append(_nacl_finding(acls_by_id[acl_id], direction, version, number, hits, taken=taken))

    findings.extend(_security_group_findings(inventory, peers, checked))
    return AuditResult(inventory.vpc_id, tuple(findings), tuple(checked), tuple(str(p) for p in peers))


def _icmp_label(version: int) -> str:
    return "ICMPv6 Packet Too Big (type 2)" if version == 6 else "ICMP frag-needed (type 3 code 4)"


def _preposition(direction: Direction) -> str:
    return "from" if direction is Direction.INBOUND else "to"


def _nacl_finding(
    acl: Mapping[str, Any],
    direction: Direction,
    version: int,
    rule_number: int | None,
    hits: list[tuple[str, IPNetwork, NaclRangeDecision]],
    *,
    taken: set[int],
) -> Finding:
    acl_id = acl["NetworkAclId"]
    subnets = sorted({subnet for subnet, _, _ in hits})
    peers = sorted({str(peer) for _, peer, _ in hits})
    explicit = rule_number is not None and rule_number != DEFAULT_DENY_RULE
    rule_text = f"rule {rule_number}" if explicit else "the default deny rule (*)"
    entry = next((d.deciding.entry for _, _, d in hits if d.deciding and d.deciding.entry), None)
    evidence = [
        Evidence(
            kind="nacl_entry",
            summary=f"{acl_id} {direction.value} {rule_text}: "
            + (_describe_entry(entry) if entry else "no entry matches, so the final * rule denies"),
            resource_ids=(acl_id, *subnets),
            data={
                "network_acl_id": acl_id,
                "direction": direction.value,
                "rule_number": rule_number if explicit else "*",
                "entry": dict(entry) if entry else None,
                "subnets": subnets,
                "peers": peers,
                "ip_version": version,
            },
        )
    ]
    remediation = _nacl_remediation(
        acl, direction, version, rule_number if explicit else None, peers, taken=taken
    )
    what = _icmp_label(version)
    return Finding(
        code=FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED,
        severity=CONFIGURATION_RISK,
        confidence=0.85 if explicit else 0.75,
        title=f"NACL {acl_id} denies {what} {direction.value} ({rule_text}): a PMTUD black hole wherever "
        "an MTU on the path is smaller",
        detail=(
            f"Network ACL {acl_id} ({', '.join(subnets)}) drops {what} {direction.value} "
            f"{_preposition(direction)} {', '.join(peers)} at {rule_text}. "
            f"{NACL_STATELESS_NOTE} {SCANNER_NOTE}"
        ),
        resource_ids=(acl_id, *subnets),
        evidence=tuple(evidence),
        remediation=remediation,
    )


def _describe_entry(entry: Mapping[str, Any]) -> str:
    icmp = entry.get("IcmpTypeCode")
    icmp_text = f" type {icmp.get('Type')} code {icmp.get('Code')}" if icmp else ""
    cidr = entry.get("CidrBlock") or entry.get("Ipv6CidrBlock")
    return f"{entry.get('RuleAction')} protocol {entry.get('Protocol')}{icmp_text} {cidr}"


def _nacl_remediation(
    acl: Mapping[str, Any],
    direction: Direction,
    version: int,
    deny_rule: int | None,
    peers: list[str],
    *,
    taken: set[int],
) -> Remediation:
    """The allow entries that fix the gap, one per peer, each at a rule number nothing else uses."""
    acl_id = acl["NetworkAclId"]
    numbers = free_rule_numbers(acl.get("Entries", ()), direction, len(peers), before=deny_rule, taken=taken)
    taken.update(numbers)
    flag = "--ingress" if direction is Direction.INBOUND else "--egress"
    protocol, type_code = ("58", "Type=2,Code=0") if version == 6 else ("1", "Type=3,Code=4")
    cidr_flag = "--ipv6-cidr-block" if version == 6 else "--cidr-block"
    commands = tuple(
        f"aws ec2 create-network-acl-entry --network-acl-id {acl_id} {flag} --rule-number {number} "
        f"--protocol {protocol} --icmp-type-code {type_code} {cidr_flag} {peer} --rule-action allow"
        for number, peer in zip(numbers, peers, strict=False)
    )
    where = f"before rule {deny_rule}" if deny_rule is not None else "before the default deny"
    steps = [
        (
            f"Add an allow entry for {_icmp_label(version)} {direction.value}, {where}, in {acl_id} "
            f"(VPC console → Network ACLs → {direction.value} rules → Edit)."
        )
    ]
    unplaced = peers[len(numbers) :]
    if unplaced:
        below = f"below rule {deny_rule}" if deny_rule is not None else "in this direction"
        steps.append(
            f"No free rule number is left {below} in the {direction.value} rules of {acl_id} for "
            f"{', '.join(unplaced)}: renumber first (copy rule {deny_rule or 'entries'} to a higher free "
            "number, then remove the old entry) to make room for the allow before it. dropsleuth gives no "
            "command for this: reusing a number would fail or replace your entry."
        )
    steps.append("Check the opposite direction too: AWS documents allowing it inbound and outbound.")
    return Remediation(
        summary=f"Allow {_icmp_label(version)} {direction.value} in {acl_id} {where}.",
        steps=tuple(steps),
        commands=commands,
    )


def _security_group_findings(
    inventory: NetworkInventory, peers: Sequence[IPNetwork], checked: list[str]
) -> list[Finding]:
    by_groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for eni in inventory.network_interfaces:
        groups = inventory.groups_of(eni)
        key = tuple(sorted(g["GroupId"] for g in groups))
        versions = [4, 6] if eni.get("Ipv6Addresses") else [4]
        for version in versions:
            local = (
                eni.get("PrivateIpAddress", "10.0.0.1")
                if version == 4
                else eni["Ipv6Addresses"][0]["Ipv6Address"]
            )
            for peer in _peers_for(version, peers):
                template = frag_needed(str(peer.network_address), local)
                admitted = security_groups_admit_range(
                    groups, template, Direction.INBOUND, peer, prefix_lists=inventory.prefix_lists
                )
                label = (
                    f"SGs {', '.join(key) or '(none)'} ({eni['NetworkInterfaceId']}): {_icmp_label(version)} "
                    f"inbound from {peer}"
                )
                checked.append(f"{label}: {'admitted' if admitted else 'no rule admits it'}")
                if not admitted:
                    slot = by_groups.setdefault(key, {"enis": set(), "gaps": set(), "groups": groups})
                    slot["enis"].add(eni["NetworkInterfaceId"])
                    slot["gaps"].add((version, str(peer)))
    findings = []
    for key, slot in sorted(by_groups.items()):
        enis = sorted(slot["enis"])
        gaps = sorted(slot["gaps"])
        target = key[0] if key else "<security-group-id>"
        commands = [_sg_command(target, version, peer) for version, peer in gaps]
        findings.append(
            Finding(
                code=FindingCode.SG_MISSING_ICMP_FRAG_NEEDED,
                severity=Severity.WARNING,
                confidence=0.4,
                title=f"No inbound rule for ICMP frag-needed in {', '.join(key) or 'the ENI’s groups'}",
                detail=f"{SG_STATEFUL_NOTE} Affected ENIs: {', '.join(enis)}. {SCANNER_NOTE}",
                resource_ids=(*key, *enis),
                evidence=(
                    Evidence(
                        kind="security_group",
                        summary=f"{', '.join(key) or 'no groups'}: no inbound rule admits "
                        + "; ".join(f"{_icmp_label(v)} from {p}" for v, p in gaps),
                        resource_ids=(*key, *enis),
                        data={"group_ids": list(key), "enis": enis, "gaps": [list(g) for g in gaps]},
                    ),
                ),
                remediation=Remediation(
                    summary=f"Add the narrow inbound rule to {target}.",
                    steps=tuple(_sg_console_step(version) for version in sorted({v for v, _ in gaps})),
                    commands=tuple(commands),
                ),
            )
        )
    return findings


def _sg_console_step(version: int) -> str:
    rule = (
        "Custom ICMP - IPv6, Packet Too Big"
        if version == 6
        else "Custom ICMP - IPv4, Destination Unreachable, fragmentation required and DF flag set"
    )
    return f"EC2 console → Security Groups → Inbound rules → Add rule: {rule}."


def _sg_command(group_id: str, version: int, peer: str) -> str:
    if version == 6:
        permission = (
            f"IpProtocol=icmpv6,FromPort=2,ToPort=0,Ipv6Ranges=[{{CidrIpv6={peer},Description=PMTUD}}]"
        )
    else:
        permission = f"IpProtocol=icmp,FromPort=3,ToPort=4,IpRanges=[{{CidrIp={peer},Description=PMTUD}}]"
    return f"aws ec2 authorize-security-group-ingress --group-id {group_id} --ip-permissions '{permission}'"


def audit_icmp(
    vpc_id: str,
    *,
    subnet_ids: Sequence[str] = (),
    eni_ids: Sequence[str] = (),
    peer_cidrs: Sequence[str] = (),
    ec2: EC2Client | None = None,
) -> AuditResult:
    """Collect the VPC's NACLs and SGs (narrowed to subnets/ENIs if given) and audit them."""
    parse_peer_cidrs(peer_cidrs)  # fail on bad input before any AWS call
    inventory = collect_inventory(vpc_id, subnet_ids=subnet_ids, eni_ids=eni_ids, ec2=ec2)
    return audit_inventory(inventory, peer_cidrs)


def audit_report(
    vpc_id: str,
    *,
    subnet_ids: Sequence[str] = (),
    eni_ids: Sequence[str] = (),
    peer_cidrs: Sequence[str] = (),
    ec2: EC2Client | None = None,
) -> Report:
    """The audit as a ``Report`` (the contract the Lambda returns and the CLI prints)."""
    started = time.perf_counter()
    result = audit_icmp(vpc_id, subnet_ids=subnet_ids, eni_ids=eni_ids, peer_cidrs=peer_cidrs, ec2=ec2)
    report = result.to_report(duration_s=time.perf_counter() - started)
    return report.model_copy(
        update={"subject": {**report.subject, "subnet_ids": list(subnet_ids), "eni_ids": list(eni_ids)}}
    )
