"""The path model over a synthetic VPC of 1,000 route tables and 10,000 routes.

Baseline: reading the same routes once (every route's CIDR parsed, nothing else) — the least any path
analysis over this VPC must do. Measured: the first analysis (which builds the route index) and then 100
more analyses from different subnets on the built index.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from bench.harness import Figure, best_of
from dropsleuth.rules.path import End, Topology, Verdict, analyse_path

TABLES = 1000
ROUTES_PER_TABLE = 10
VPC = "vpc-bench"


def synthetic_topology() -> Topology:
    subnets, tables, enis, acls = [], [], [], []
    for number in range(TABLES):
        subnet_id = f"subnet-{number:05d}"
        cidr = ipaddress.ip_network(f"10.{number // 250}.{number % 250}.0/24")
        subnets.append({"SubnetId": subnet_id, "VpcId": VPC, "CidrBlock": str(cidr)})
        routes: list[dict[str, Any]] = [{"DestinationCidrBlock": "10.0.0.0/8", "GatewayId": "local"}]
        routes += [
            {"DestinationCidrBlock": f"172.{16 + extra}.{number % 250}.0/24", "GatewayId": "vgw-bench"}
            for extra in range(ROUTES_PER_TABLE - 2)
        ]
        routes.append({"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-bench"})
        tables.append(
            {
                "RouteTableId": f"rtb-{number:05d}",
                "VpcId": VPC,
                "Routes": routes,
                "Associations": [{"SubnetId": subnet_id}],
            }
        )
        enis.append(
            {
                "NetworkInterfaceId": f"eni-{number:05d}",
                "SubnetId": subnet_id,
                "PrivateIpAddress": str(cidr.network_address + 10),
                "Attachment": {"InstanceId": f"i-{number:05d}"},
            }
        )
        acls.append(
            {
                "NetworkAclId": f"acl-{number:05d}",
                "Associations": [{"SubnetId": subnet_id}],
                "Entries": [
                    {
                        "RuleNumber": 100,
                        "Protocol": "-1",
                        "RuleAction": "allow",
                        "Egress": e,
                        "CidrBlock": "0.0.0.0/0",
                    }
                    for e in (False, True)
                ],
            }
        )
    return Topology(
        vpc_id=VPC,
        vpcs=({"VpcId": VPC, "CidrBlock": "10.0.0.0/8"},),
        subnets=tuple(subnets),
        route_tables=tuple(tables),
        network_acls=tuple(acls),
        network_interfaces=tuple(enis),
        instances=tuple({"InstanceId": f"i-{n:05d}", "InstanceType": "m5.large"} for n in range(TABLES)),
    )


def read_routes_once(topology: Topology) -> int:
    count = 0
    for table in topology.route_tables:
        for route in table["Routes"]:
            ipaddress.ip_network(route["DestinationCidrBlock"])
            count += 1
    return count


def run() -> list[Figure]:
    records = synthetic_topology()
    assert read_routes_once(records) == TABLES * ROUTES_PER_TABLE
    baseline = best_of(lambda: read_routes_once(records), repeat=5)

    def first_analysis() -> None:
        fresh = Topology(**records.__dict__)  # a new topology: its index is built again
        fresh.__dict__.pop("index", None)
        result = analyse_path(fresh, End(eni_id="eni-00999"), End(ip="203.0.113.5"))
        assert result.verdict is Verdict.MTU_MISMATCH

    first = best_of(first_analysis, repeat=5)
    built = Topology(**records.__dict__)
    built.__dict__.pop("index", None)
    _ = built.index

    def hundred_more() -> None:
        for number in range(0, TABLES, TABLES // 100):
            analyse_path(built, End(eni_id=f"eni-{number:05d}"), End(ip="172.20.7.9"))

    per_path = best_of(hundred_more, repeat=5) / 100
    return [
        Figure(
            "path",
            "first analysis incl. index build (1,000 tables, 10,000 routes)",
            first,
            "read the 10,000 routes once",
            baseline,
        ),
        Figure(
            "path",
            "one more analysis on the built index (mean of 100)",
            per_path,
            "read the 10,000 routes once",
            baseline,
        ),
    ]
