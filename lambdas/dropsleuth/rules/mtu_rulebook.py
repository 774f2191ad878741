"""The AWS hop-MTU rule book: how large a packet each kind of hop carries, and whether it says so.

Every entry cites the AWS document it comes from (docs/reference/aws-facts.md, "MTU along AWS paths"). A hop
"sends frag-needed" when it answers an oversized packet with DF set by an ICMP type 3 code 4 (ICMPv6 Packet
Too Big); only then can Path MTU Discovery adapt the sender. Pure data and functions: no I/O.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# IPv4 + TCP headers without options: MSS = MTU - 40 (RFC 879, RFC 9293 §3.7.1).
TCP_IP_HEADER_BYTES = 40

DOC_EC2_MTU = (
    "EC2 User Guide, 'Network maximum transmission unit (MTU) for your EC2 instance' "
    "(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/network_mtu.html)"
)
DOC_VPN_CGW = (
    "Site-to-Site VPN User Guide, 'Best practices for your customer gateway device' "
    "(https://docs.aws.amazon.com/vpn/latest/s2svpn/cgw-best-practice.html)"
)
DOC_TGW_QUOTAS = (
    "Transit Gateway guide, 'Quotas', MTU section "
    "(https://docs.aws.amazon.com/vpc/latest/tgw/transit-gateway-quotas.html)"
)
DOC_PRIVATELINK_QUOTAS = (
    "AWS PrivateLink guide, 'AWS PrivateLink quotas' (traffic through a VPC endpoint) "
    "(https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-limits-endpoints.html)"
)
DOC_DX_VIF = (
    "Direct Connect User Guide, 'MTUs for private virtual interfaces or transit virtual interfaces' "
    "(https://docs.aws.amazon.com/directconnect/latest/UserGuide/WorkingWithVirtualInterfaces.html)"
)
DOC_NACL_PMTUD = (
    "VPC User Guide, network ACLs, 'Path MTU Discovery' "
    "(https://docs.aws.amazon.com/vpc/latest/userguide/nacl-rules.html#path_mtu_discovery)"
)
DOC_NACL = (
    "VPC User Guide, 'Control subnet traffic with network access control lists' (a NACL allows or denies "
    "traffic at the subnet level; it is stateless) "
    "(https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html)"
)
DOC_GATEWAY_ENDPOINTS = (
    "AWS PrivateLink guide, 'Gateway endpoints' (no transitive access from VPN, Direct Connect or peering) "
    "(https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html)"
)


class HopKind(enum.StrEnum):
    """What a hop on an AWS path is; the rule book has one entry per kind."""

    SITE = "site"  # the on-premises end (its MTU comes from the site registry or the host agent)
    ENI = "eni"  # an EC2 network interface
    LOCAL = "local"  # the VPC's own fabric between subnets
    INTERNET_GATEWAY = "internet_gateway"
    NAT_GATEWAY = "nat_gateway"
    VPN = "vpn"  # Site-to-Site VPN, on a virtual private gateway or a transit gateway
    TRANSIT_GATEWAY = "transit_gateway"
    PEERING = "peering"
    INTERFACE_ENDPOINT = "interface_endpoint"
    GATEWAY_ENDPOINT = "gateway_endpoint"
    GWLB_ENDPOINT = "gwlb_endpoint"
    DIRECT_CONNECT = "direct_connect"
    APPLIANCE = "appliance"  # a route to an instance or ENI (firewall, proxy)
    INTERNET = "internet"  # beyond the internet gateway
    SERVICE = "service"  # an AWS service reached through a gateway or interface endpoint


@dataclass(frozen=True)
class HopRule:
    """One rule-book entry: the largest packet a hop carries and whether it reports drops by ICMP."""

    kind: HopKind
    mtu: int | None
    """None: the hop imposes no documented limit of its own."""
    sends_frag_needed: bool | None
    """None: not applicable (an endpoint) or not documented."""
    citation: str
    note: str = ""
    mtu_max: int | None = None
    """The largest MTU the hop may have when only a range is known (a VPN whose cipher and NAT-T are not
    known); ``mtu`` is then the smallest. None: ``mtu`` is exact."""

    @property
    def mtu_range(self) -> tuple[int, int] | None:
        """(smallest, largest) MTU the hop may have; None when the hop has no limit of its own."""
        if self.mtu is None:
            return None
        return self.mtu, max(self.mtu, self.mtu_max or self.mtu)

    @property
    def mss(self) -> int | None:
        """The TCP MSS that fits this hop (IPv4)."""
        return None if self.mtu is None else self.mtu - TCP_IP_HEADER_BYTES


# --- EC2 network interfaces -------------------------------------------------------------------------------

# EC2 MTU page: "All current generation instance types support jumbo frames", and of the previous
# generation C3, G2, I2, M3 and R3 do too. These families are the previous-generation ones that do not.
_NO_JUMBO_FAMILIES = frozenset({"c1", "cc1", "cc2", "cg1", "cr1", "g1", "hi1", "hs1", "m1", "m2", "t1"})
JUMBO_MTU = 9001
STANDARD_MTU = 1500


def eni_rule(instance_type: str | None) -> HopRule:
    """An ENI's largest MTU from its instance type: 9001 with jumbo frames, else 1500; unknown: 9001.

    Unknown types count as jumbo-capable because every current-generation type is, and a false "9001" only
    makes the analysis look for a mismatch that the hops then confirm or refute.
    """
    family = (instance_type or "").split(".", 1)[0].lower()
    if family in _NO_JUMBO_FAMILIES:
        return HopRule(HopKind.ENI, STANDARD_MTU, None, DOC_EC2_MTU, f"{instance_type}: no jumbo frames")
    note = f"{instance_type}: jumbo frames" if instance_type else "instance type unknown: assumed jumbo"
    return HopRule(HopKind.ENI, JUMBO_MTU, None, DOC_EC2_MTU, note)


# --- Gateways ---------------------------------------------------------------------------------------------

INTERNET_GATEWAY = HopRule(
    HopKind.INTERNET_GATEWAY,
    1500,
    True,
    DOC_EC2_MTU,
    "traffic through an internet gateway is limited to 1500 bytes; oversized DF packets are answered "
    "with ICMP frag-needed",
)
# The EC2 MTU page does not name NAT gateways; their traffic to the internet leaves through the internet
# gateway, which the analysis lists as the next hop. No limit of its own is asserted.
NAT_GATEWAY = HopRule(
    HopKind.NAT_GATEWAY, None, True, DOC_EC2_MTU, "no documented limit of its own; the IGW behind it is 1500"
)
LOCAL = HopRule(HopKind.LOCAL, JUMBO_MTU, True, DOC_EC2_MTU, "within a VPC jumbo frames are supported")
TRANSIT_GATEWAY = HopRule(
    HopKind.TRANSIT_GATEWAY,
    8500,
    False,
    DOC_TGW_QUOTAS,
    "8500 bytes between VPC, Direct Connect, Connect and peering attachments; frag-needed only for "
    "traffic entering on VPC and Connect attachments (older text: never)",
)
TRANSIT_GATEWAY_FROM_VPC = HopRule(
    HopKind.TRANSIT_GATEWAY,
    8500,
    True,
    DOC_TGW_QUOTAS,
    "8500 bytes; traffic entering on a VPC attachment gets ICMP frag-needed",
)
INTERFACE_ENDPOINT = HopRule(
    HopKind.INTERFACE_ENDPOINT,
    8500,
    False,
    DOC_PRIVATELINK_QUOTAS,
    "VPC endpoints carry 8500 bytes, drop larger packets and do not generate ICMP type 3 code 4 "
    "(no PMTUD); they clamp MSS",
)
GWLB_ENDPOINT = HopRule(
    HopKind.GWLB_ENDPOINT,
    8500,
    False,
    DOC_PRIVATELINK_QUOTAS,
    "Gateway Load Balancer endpoints carry 8500 bytes and never send frag-needed",
)
# Gateway endpoints route to S3/DynamoDB inside the VPC's fabric; AWS documents no MTU for them.
GATEWAY_ENDPOINT = HopRule(
    HopKind.GATEWAY_ENDPOINT, None, None, DOC_GATEWAY_ENDPOINTS, "no MTU documented for gateway endpoints"
)


def peering_rule(*, inter_region: bool) -> HopRule:
    """VPC peering: 9001 inside a Region, 8500 between Regions (older text said 1500)."""
    if inter_region:
        return HopRule(
            HopKind.PEERING, 8500, True, DOC_EC2_MTU, "inter-Region peering: 8500 (older text: 1500)"
        )
    return HopRule(HopKind.PEERING, JUMBO_MTU, True, DOC_EC2_MTU, "peering inside a Region: 9001")


DX_PRIVATE_VIF_JUMBO_MTU = 9001
DX_TRANSIT_VIF_JUMBO_MTU = 8500


def direct_connect_rule(vif_mtu: int | None, *, transit: bool = False) -> HopRule:
    """A Direct Connect virtual interface: 1500 or 9001 (private VIF), 1500 or 8500 (transit VIF).

    The VIF's MTU is a per-interface setting (DOC_DX_VIF: "1500 or 9001 (jumbo frames)" for a private VIF,
    "1500 or 8500" for a transit VIF, chosen at creation or changed later, jumbo only on a jumbo-capable
    connection). Without the Direct Connect API the analysis cannot read it, so an unknown VIF counts as
    1500: a wrong 1500 at worst reports an MTU_MISMATCH that PMTUD covers (the VIF answers with
    frag-needed), where a wrong 9001 could hide a real one. ``vif_mtu`` (the site registry's ``dx_mtu``)
    above 1500 means jumbo frames, capped at what the VIF type carries.
    """
    kind = "transit" if transit else "private"
    jumbo = DX_TRANSIT_VIF_JUMBO_MTU if transit else DX_PRIVATE_VIF_JUMBO_MTU
    if vif_mtu is None:
        return HopRule(
            HopKind.DIRECT_CONNECT,
            STANDARD_MTU,
            True,
            DOC_DX_VIF,
            f"{kind} VIF, MTU not known: {STANDARD_MTU} assumed (1500 or {jumbo}); sends frag-needed",
        )
    mtu = min(vif_mtu, jumbo) if vif_mtu > STANDARD_MTU else STANDARD_MTU
    capped = f" ({vif_mtu} given; a {kind} VIF carries at most {jumbo})" if vif_mtu > jumbo else ""
    return HopRule(
        HopKind.DIRECT_CONNECT, mtu, True, DOC_DX_VIF, f"{kind} VIF at {mtu}{capped}; sends frag-needed"
    )


# --- Site-to-Site VPN -------------------------------------------------------------------------------------

# The customer gateway best-practices page tabulates the tunnel MTU (and IPv4 MSS = MTU - 40) by phase-2
# encryption, integrity algorithm and NAT traversal: from 1446 / 1406 (AES-GCM, no NAT-T) down to
# 1406 / 1366 (AES-CBC with SHA2-384 or SHA2-512, with NAT-T). NAT-T's UDP encapsulation costs 8 bytes, which
# the ESP padding to the cipher's block size rounds to 16 in the table.
VPN_BEST_MTU = 1446  # AES-GCM, no NAT-T
VPN_WORST_MTU = 1406  # AES-CBC + SHA2-384/512 + NAT-T
VPN_AWS_CONFIG_MSS = 1379  # `tcp adjust-mss 1379` in AWS-generated device configurations
# (AEAD cipher, or the CBC integrity algorithm) → (MTU without NAT-T, MTU with NAT-T), from DOC_VPN_CGW.
_VPN_MTU_TABLE: dict[str, tuple[int, int]] = {
    "GCM": (1446, 1438),
    "SHA1": (1438, 1422),
    "SHA2-256": (1438, 1422),
    "SHA2-384": (1422, 1406),
    "SHA2-512": (1422, 1406),
}


@dataclass(frozen=True)
class VpnTunnelProfile:
    """What the MTU of one tunnel depends on, read from ``Options.TunnelOptions[]`` when AWS reports it."""

    outside_ip: str | None
    encryption: tuple[str, ...]
    integrity: tuple[str, ...]
    nat_traversal: bool | None  # None: unknown (NAT-T is negotiated, not configured)


def tunnel_profiles(vpn_connection: Mapping[str, Any]) -> list[VpnTunnelProfile]:
    """The tunnels of a ``describe_vpn_connections`` record, with the phase-2 algorithms they allow."""
    options = vpn_connection.get("Options") or {}
    profiles = []
    for tunnel in options.get("TunnelOptions") or ():
        encryption = tuple(str(a.get("Value", "")) for a in tunnel.get("Phase2EncryptionAlgorithms") or ())
        integrity = tuple(str(a.get("Value", "")) for a in tunnel.get("Phase2IntegrityAlgorithms") or ())
        profiles.append(VpnTunnelProfile(tunnel.get("OutsideIpAddress"), encryption, integrity, None))
    return profiles


def _negotiable_rows(profile: VpnTunnelProfile) -> list[str]:
    """The table rows a tunnel may negotiate. An empty algorithm list means AWS's default: all of them."""
    ciphers = profile.encryption or ("AES128", "AES256", "AES128-GCM-16", "AES256-GCM-16")
    rows = []
    for cipher in ciphers:
        if "GCM" in cipher.upper():
            rows.append("GCM")  # AEAD: no separate integrity algorithm
            continue
        integrity = [i.upper() for i in profile.integrity] or ["SHA1", "SHA2-256", "SHA2-384", "SHA2-512"]
        # An integrity name the table does not list counts as its worst row.
        rows += [i if i in _VPN_MTU_TABLE and i != "GCM" else "SHA2-512" for i in integrity]
    return rows


def tunnel_mtu_range(profile: VpnTunnelProfile) -> tuple[int, int]:
    """The smallest and largest MTU the tunnel may have over what it may negotiate (NAT-T both ways when
    unknown): a packet at or below the first always fits, one above the second never does."""
    rows = _negotiable_rows(profile)
    nat_cases = [True, False] if profile.nat_traversal is None else [profile.nat_traversal]
    values = [_VPN_MTU_TABLE[r][1 if nat else 0] for r in rows for nat in nat_cases]
    return min(values), max(values)


def tunnel_mtu(profile: VpnTunnelProfile) -> tuple[int, str]:
    """The MTU that fits every algorithm the tunnel may negotiate, and with NAT-T unless known absent.

    NAT-T is negotiated when a NAT sits between the customer gateway and AWS, and ``describe_vpn_connections``
    does not report it: unknown NAT-T counts as present, so the MSS to clamp to fits either way.
    """
    rows = _negotiable_rows(profile)
    with_nat_t = profile.nat_traversal is not False
    mtu, row = min((_VPN_MTU_TABLE[r][1 if with_nat_t else 0], r) for r in rows)
    cipher = "AES-GCM" if row == "GCM" else f"AES-CBC with {row}"
    if profile.nat_traversal is None:
        nat = "NAT-T not known, so counted"
    else:
        nat = "with NAT-T" if with_nat_t else "without NAT-T"
    every = "" if len(set(rows)) == 1 else " (the smallest of the negotiable algorithms)"
    return mtu, f"{cipher}, {nat}{every}"


def vpn_rule(
    vpn_connection: Mapping[str, Any] | None = None, *, nat_traversal: bool | None = None
) -> HopRule:
    """The VPN hop's MTU range from the connection's tunnel options: 1446 (AES-GCM, no NAT-T) down to 1406.

    Site-to-Site VPN "does not support Path MTU Discovery": it never sends frag-needed. Each tunnel's MTU is
    the smallest over the algorithms it may negotiate and counts NAT-T unless it is known absent
    (``tunnel_mtu``); the hop takes the smallest tunnel's, so the MSS to clamp to fits every cipher and NAT-T
    case the connection allows. Unknown options (no ``TunnelOptions``): 1406, the table's smallest.

    ``mtu_max`` is the largest MTU any tunnel may have (its best negotiable cipher, without NAT-T unless known
    present): between the two, whether a packet fits depends on what the tunnels negotiated, which
    ``describe_vpn_connections`` does not report.
    """
    profiles = tunnel_profiles(vpn_connection or {})
    if nat_traversal is not None:
        # Known from the site (its registry entry): every tunnel runs through the same NAT, or none does.
        profiles = [dataclasses.replace(p, nat_traversal=nat_traversal) for p in profiles] or [
            VpnTunnelProfile(None, (), (), nat_traversal)
        ]
    if not profiles:
        return HopRule(
            HopKind.VPN,
            VPN_WORST_MTU,
            False,
            DOC_VPN_CGW,
            f"tunnel options unknown: {VPN_WORST_MTU}–{VPN_BEST_MTU} by cipher and NAT-T; the smallest is "
            f"used; no Path MTU Discovery (AWS device configs use MSS {VPN_AWS_CONFIG_MSS})",
            mtu_max=VPN_BEST_MTU,
        )
    mtu, why = min(tunnel_mtu(p) for p in profiles)
    best = max(tunnel_mtu_range(p)[1] for p in profiles)
    span = f" (up to {best} by the negotiated cipher and NAT-T)" if best > mtu else ""
    return HopRule(
        HopKind.VPN,
        mtu,
        False,
        DOC_VPN_CGW,
        f"{why}{span}; Site-to-Site VPN does not support Path MTU Discovery",
        mtu_max=best,
    )


def site_rule(mtu: int | None) -> HopRule:
    return HopRule(HopKind.SITE, mtu, None, "site registry (wan_mtu) or the host agent's measurement")


def appliance_rule(instance_type: str | None) -> HopRule:
    base = eni_rule(instance_type)
    return HopRule(HopKind.APPLIANCE, base.mtu, True, DOC_EC2_MTU, base.note)


def smallest_mtu(rules: Sequence[HopRule]) -> int | None:
    known = [r.mtu for r in rules if r.mtu is not None]
    return min(known) if known else None
