"""The moto fixes for NAT gateway addresses and Network Load Balancer ARNs (demo/moto_fixes.py): the account
the demo and the tests build answers as AWS does, so the records and metrics made from it agree with it."""

from __future__ import annotations

import boto3

REGION = "eu-west-1"


def subnet_in_new_vpc() -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"]
    return str(ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.90.1.0/24")["Subnet"]["SubnetId"])


def test_a_nat_gateway_takes_the_private_address_asked_for(aws: None) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    subnet_id = subnet_in_new_vpc()
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    made = ec2.create_nat_gateway(SubnetId=subnet_id, AllocationId=allocation, PrivateIpAddress="10.90.1.20")
    [address] = made["NatGateway"]["NatGatewayAddresses"]
    assert address["PrivateIp"] == "10.90.1.20"
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[address["NetworkInterfaceId"]])
    assert eni["NetworkInterfaces"][0]["PrivateIpAddress"] == "10.90.1.20"
    # One not asked for keeps moto's own choice (the fix changes nothing else).
    other = ec2.create_nat_gateway(
        SubnetId=subnet_id, AllocationId=ec2.allocate_address(Domain="vpc")["AllocationId"]
    )
    assert other["NatGateway"]["NatGatewayAddresses"][0]["PrivateIp"] != "10.90.1.20"


def test_a_network_load_balancer_is_named_net_and_keeps_its_tags(aws: None) -> None:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    subnet_id = subnet_in_new_vpc()
    nlb = elbv2.create_load_balancer(
        Name="intake-nlb", Subnets=[subnet_id], Type="network", Tags=[{"Key": "team", "Value": "intake"}]
    )["LoadBalancers"][0]
    alb = elbv2.create_load_balancer(Name="intake-alb", Subnets=[subnet_id], Type="application")[
        "LoadBalancers"
    ][0]
    assert ":loadbalancer/net/intake-nlb/" in nlb["LoadBalancerArn"]
    assert ":loadbalancer/app/intake-alb/" in alb["LoadBalancerArn"]
    described = elbv2.describe_load_balancers(LoadBalancerArns=[nlb["LoadBalancerArn"]])["LoadBalancers"]
    assert [b["Type"] for b in described] == ["network"]
    tags = elbv2.describe_tags(ResourceArns=[nlb["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]
    assert tags == [{"Key": "team", "Value": "intake"}]


def test_a_static_transit_gateway_route_names_its_attachment(aws: None) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    subnet_id = subnet_in_new_vpc()
    vpc_id = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"]
    tgw = ec2.create_transit_gateway(Description="shared")["TransitGateway"]
    attachment = ec2.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw["TransitGatewayId"], VpcId=vpc_id, SubnetIds=[subnet_id]
    )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
    table = tgw["Options"]["AssociationDefaultRouteTableId"]
    ec2.create_transit_gateway_route(
        DestinationCidrBlock="10.90.0.0/16",
        TransitGatewayRouteTableId=table,
        TransitGatewayAttachmentId=attachment,
    )
    ec2.create_transit_gateway_route(
        DestinationCidrBlock="10.99.0.0/16", TransitGatewayRouteTableId=table, Blackhole=True
    )
    routes = ec2.search_transit_gateway_routes(
        TransitGatewayRouteTableId=table, Filters=[{"Name": "state", "Values": ["active", "blackhole"]}]
    )["Routes"]
    by_cidr = {r["DestinationCidrBlock"]: r for r in routes}
    assert [
        a["TransitGatewayAttachmentId"] for a in by_cidr["10.90.0.0/16"]["TransitGatewayAttachments"]
    ] == [attachment]
    assert by_cidr["10.90.0.0/16"]["TransitGatewayAttachments"][0]["ResourceId"] == vpc_id
    assert by_cidr["10.99.0.0/16"]["State"] == "blackhole"
    assert not by_cidr["10.99.0.0/16"].get("TransitGatewayAttachments")
