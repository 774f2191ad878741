"""VPC Flow Logs: are they on for a VPC, its subnets and ENIs, in the format the queries need; enable them.

``flow_logs_status`` reads what exists (``DescribeFlowLogs``, ``DescribeNetworkInterfaces``) and says, per
resource, whether a flow log covers it (its own, its subnet's or its VPC's) and what each existing flow log
lacks: fields, traffic type ALL, S3 delivery, 1-minute aggregation, Parquet in Hive-compatible per-hour
partitions (what the Athena table reads). ``enable_flow_logs`` creates what is missing — S3, Parquet,
Hive-compatible per-hour partitions, 1-minute aggregation, traffic type ALL, every field of
``schema.REQUIRED_FIELDS`` — and is idempotent: a resource already covered gets nothing new. It never
deletes or replaces a flow log; where one exists without what the queries need, a second one is added
only with ``add_if_incomplete=True``.

moto 5.2 (docs/reference/aws-facts.md): ``DestinationOptions`` are not returned by ``describe_flow_logs``, so
file format and partitioning read as unknown there (reported as unknown, not as lacking); an S3 destination
ARN with a folder is rejected as "does not exist" (an ``Unsuccessful`` item, reported here as a failed
action). Both are moto's bugs, not AWS behaviour.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

from dropsleuth.aws import clients
from dropsleuth.aws.errors import InputError, translate
from dropsleuth.aws.permissions import (
    TOOLKIT_TAG_KEY,
    TOOLKIT_TAG_VALUE,
    Condition,
    declare,
    ec2_arns,
    requested_toolkit_tag,
    scoped,
    tag_on_create,
)
from dropsleuth.flowlogs.schema import DEFAULT_V2_FIELDS, REQUIRED_FIELDS, log_format
from dropsleuth.model import Evidence, Finding, FindingCode, Remediation, Severity

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

STATUS_PERMISSIONS = declare("flow_logs_status", "ec2:DescribeFlowLogs", "ec2:DescribeNetworkInterfaces")
"""Reading coverage: all the investigation's flow-log step and the status answers need."""

# The VPCs of the site registry, filled in by the CDK app (``cdk.policy.ToolkitResources.arns``).
REGISTRY_VPC_ARN = "arn:${Partition}:ec2:${Region}:${Account}:vpc/${RegistryVpc}"

# Creating flow logs, granted only when the deployment allows it (``allow_enable_flow_logs``). Each resource
# of a CreateFlowLogs request is authorised on its own (Service Authorization Reference, "Amazon EC2",
# CreateFlowLogs: the new vpc-flow-log, with aws:RequestTag; the vpc, subnet or network-interface it
# watches, with ec2:Vpc), so each gets its own statement: the new flow log must carry the toolkit's tag, and
# the resources watched must be (in) a VPC the registry names. To S3 the caller also needs
# logs:CreateLogDelivery and logs:DeleteLogDelivery, which AWS checks inside CreateFlowLogs (VPC User
# Guide, "IAM permissions for IAM principals that publish flow logs to Amazon S3"). The flow logs are
# tagged on creation, so the role may tag a flow log only inside CreateFlowLogs (ec2:CreateAction). This
# module calls no delete API.
CREATE_PERMISSIONS = declare(
    "flow_logs_create",
    scoped(
        "ec2:CreateFlowLogs",
        resources=ec2_arns("vpc-flow-log"),
        conditions=(requested_toolkit_tag(),),
        reason="flow-log ids are made at run time; only a flow log that carries the toolkit's tag",
    ),
    scoped(
        "ec2:CreateFlowLogs",
        resources=(REGISTRY_VPC_ARN,),
        reason="only the VPCs the site registry names ('*' when it names none)",
    ),
    scoped(
        "ec2:CreateFlowLogs",
        resources=ec2_arns("subnet", "network-interface"),
        conditions=(Condition("ArnEquals", "ec2:Vpc", (REGISTRY_VPC_ARN,)),),
        reason="subnets and ENIs of the registry's VPCs only (ec2:Vpc), named at run time",
    ),
    scoped(
        "ec2:CreateTags",
        resources=ec2_arns("vpc-flow-log"),
        conditions=(tag_on_create("CreateFlowLogs"),),
        reason="tags a flow log only while creating it (ec2:CreateAction)",
    ),
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
)
PERMISSIONS = STATUS_PERMISSIONS | CREATE_PERMISSIONS
"""Everything this module may call (status and create)."""

# 1-minute aggregation: throughput per minute needs records that each cover one minute (VPC User Guide,
# "Aggregation interval"; the default is 600 s).
AGGREGATION_INTERVAL_S = 60
UNKNOWN = "unknown"
DESTINATION_OPTIONS = {"FileFormat": "parquet", "HiveCompatiblePartitions": True, "PerHourPartition": True}
_FIELD = re.compile(r"\$\{([a-z0-9-]+)\}")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")

ResourceType = Literal["VPC", "Subnet", "NetworkInterface"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExistingFlowLog(_Model):
    """One flow log as ``DescribeFlowLogs`` reports it, and what it lacks for dropsleuth's queries."""

    flow_log_id: str
    resource_id: str
    traffic_type: str
    destination_type: str
    destination: str
    fields: tuple[str, ...]
    missing_fields: tuple[str, ...]
    aggregation_interval_s: int | None
    """``MaxAggregationInterval``: 60 or 600 (AWS's default); None when the endpoint does not say."""
    file_format: str = UNKNOWN
    """``parquet``/``plain-text`` from ``DestinationOptions.FileFormat``; ``unknown`` when the endpoint
    returns no DestinationOptions (moto 5.2 drops them)."""
    hive_compatible_partitions: bool | None = None
    per_hour_partition: bool | None = None
    status: str

    @property
    def complete(self) -> bool:
        """Usable by the queries: nothing in ``shortcomings`` (what the endpoint does not say is not held
        against it; ``unknowns`` lists that)."""
        return not self.shortcomings()

    def shortcomings(self) -> list[str]:
        """What this flow log lacks, each saying what the queries need instead."""
        found = []
        if self.missing_fields:
            found.append("missing fields: " + " ".join(self.missing_fields))
        if self.traffic_type != "ALL":
            found.append(f"traffic type {self.traffic_type} (ALL needed for throughput)")
        if self.destination_type != "s3":
            found.append(f"delivered to {self.destination_type}, not S3 (Athena reads S3)")
        if self.aggregation_interval_s is not None and self.aggregation_interval_s != AGGREGATION_INTERVAL_S:
            # A 600 s record spreads ten minutes of bytes over one start minute: no throughput per minute.
            found.append(
                f"aggregation interval {self.aggregation_interval_s} s "
                f"({AGGREGATION_INTERVAL_S} s needed for throughput per minute)"
            )
        if self.destination_type == "s3":
            if self.file_format not in (UNKNOWN, "parquet"):
                found.append(f"file format {self.file_format} (the Athena table reads Parquet)")
            if self.hive_compatible_partitions is False:
                found.append(
                    "partitions not Hive-compatible (the table's projection reads year=/month=/day=/hour=)"
                )
            if self.per_hour_partition is False:
                found.append("daily partitions (the table's projection reads per-hour folders)")
        return found

    def unknowns(self) -> list[str]:
        """What the endpoint did not report and so could not be checked (never counted as lacking)."""
        found = []
        if self.aggregation_interval_s is None:
            found.append("aggregation interval unknown (no MaxAggregationInterval returned)")
        if self.destination_type == "s3" and self.file_format == UNKNOWN:
            found.append("file format and partitioning unknown (no DestinationOptions returned)")
        return found


class FlowLogsStatus(_Model):
    """Which of the VPC, subnets and ENIs a complete flow log covers, and what the others lack."""

    vpc_id: str
    subnet_ids: tuple[str, ...] = ()
    eni_ids: tuple[str, ...] = ()
    flow_logs: tuple[ExistingFlowLog, ...] = ()
    covered: dict[str, tuple[str, ...]] = {}
    """Resource id → ids of the complete flow logs that cover it (its own or a parent's)."""
    incomplete: dict[str, tuple[str, ...]] = {}
    """Resource id → ids of flow logs that cover it but lack something (and no complete one does)."""
    uncovered: tuple[str, ...] = ()
    """Resources no flow log covers at all."""

    @property
    def ok(self) -> bool:
        return not self.uncovered and not self.incomplete

    def findings(self) -> list[Finding]:
        """``FLOW_LOGS_DISABLED`` for uncovered resources and incomplete formats (warnings: blind spots)."""
        findings: list[Finding] = []
        command = _remediation_command(self)
        if self.uncovered:
            findings.append(
                Finding(
                    code=FindingCode.FLOW_LOGS_DISABLED,
                    # A blind spot, not a drop: a warning (docs/report.md, docs/severity.md).
                    severity=Severity.WARNING,
                    confidence=1.0,
                    title=f"No flow logs on {', '.join(self.uncovered)}",
                    detail="Without flow logs the REJECTs, ICMP rejects and throughput per minute of these "
                    "resources cannot be queried.",
                    resource_ids=self.uncovered,
                    evidence=(
                        Evidence(
                            kind="flow_logs",
                            summary="no flow log on the resource, its subnet or its VPC",
                            resource_ids=self.uncovered,
                        ),
                    ),
                    remediation=Remediation(
                        summary="Enable flow logs to S3 in Parquet with every field the queries need.",
                        commands=(command,),
                    ),
                )
            )
        by_id = {f.flow_log_id: f for f in self.flow_logs}
        for resource_id, flow_log_ids in sorted(self.incomplete.items()):
            problems = _lacking(self, flow_log_ids)
            findings.append(
                Finding(
                    code=FindingCode.FLOW_LOGS_DISABLED,
                    severity=Severity.WARNING,
                    confidence=1.0,
                    title=f"Flow logs on {resource_id} lack what the queries need",
                    detail="; ".join(problems),
                    resource_ids=(resource_id, *flow_log_ids),
                    evidence=tuple(
                        Evidence(
                            kind="flow_log",
                            summary="; ".join(by_id[i].shortcomings()),
                            resource_ids=(i,),
                            data={"missing_fields": list(by_id[i].missing_fields)},
                        )
                        for i in flow_log_ids
                    ),
                    remediation=Remediation(
                        summary="Add a second flow log with the full format (the existing one is kept).",
                        commands=(command + " --add-if-incomplete",),
                    ),
                )
            )
        return findings


def _lacking(status: FlowLogsStatus, flow_log_ids: Sequence[str]) -> list[str]:
    by_id = {f.flow_log_id: f for f in status.flow_logs}
    return sorted({p for i in flow_log_ids for p in by_id[i].shortcomings()})


def _remediation_command(status: FlowLogsStatus) -> str:
    parts = [f"dropsleuth flowlogs enable --vpc {status.vpc_id}"]
    parts += [f"--subnet {s}" for s in status.subnet_ids]
    parts += [f"--eni {e}" for e in status.eni_ids]
    return " ".join([*parts, "--bucket BUCKET"])


class EnableAction(_Model):
    resource_id: str
    resource_type: ResourceType
    action: Literal["created", "would_create", "already_enabled", "skipped_incomplete", "failed"]
    flow_log_id: str | None = None
    detail: str = ""


class EnableResult(_Model):
    """What ``enable_flow_logs`` did (or, with ``dry_run``, would do) per resource."""

    vpc_id: str
    destination: str
    dry_run: bool
    actions: tuple[EnableAction, ...]

    @property
    def created(self) -> list[str]:
        return [a.flow_log_id for a in self.actions if a.action == "created" and a.flow_log_id]

    @property
    def failed(self) -> list[EnableAction]:
        return [a for a in self.actions if a.action == "failed"]


def parse_fields(log_format_text: str | None) -> tuple[str, ...]:
    """The fields of a ``LogFormat`` (the v2 default when AWS reports none)."""
    if not log_format_text:
        return DEFAULT_V2_FIELDS
    return tuple(_FIELD.findall(log_format_text))


def _existing(raw: dict[str, Any]) -> ExistingFlowLog:
    fields = parse_fields(raw.get("LogFormat"))
    options = raw.get("DestinationOptions") or {}
    return ExistingFlowLog(
        flow_log_id=raw["FlowLogId"],
        resource_id=raw.get("ResourceId", ""),
        traffic_type=raw.get("TrafficType", ""),
        destination_type=raw.get("LogDestinationType", "cloud-watch-logs"),
        destination=raw.get("LogDestination") or raw.get("LogGroupName", ""),
        fields=fields,
        missing_fields=tuple(f for f in REQUIRED_FIELDS if f not in fields),
        aggregation_interval_s=raw.get("MaxAggregationInterval"),
        file_format=options.get("FileFormat") or UNKNOWN,
        hive_compatible_partitions=options.get("HiveCompatiblePartitions"),
        per_hour_partition=options.get("PerHourPartition"),
        status=raw.get("FlowLogStatus", ""),
    )


def _describe_flow_logs(ec2: EC2Client, resource_ids: Sequence[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    paginator = ec2.get_paginator("describe_flow_logs")
    for page in paginator.paginate(Filters=[{"Name": "resource-id", "Values": list(resource_ids)}]):
        found.extend(page.get("FlowLogs", []))  # type: ignore[arg-type]
    return found


def _eni_subnets(ec2: EC2Client, eni_ids: Sequence[str]) -> dict[str, str]:
    if not eni_ids:
        return {}
    response = ec2.describe_network_interfaces(NetworkInterfaceIds=list(eni_ids))
    return {n["NetworkInterfaceId"]: n.get("SubnetId", "") for n in response["NetworkInterfaces"]}


def flow_logs_status(
    vpc_id: str,
    *,
    subnet_ids: Sequence[str] = (),
    eni_ids: Sequence[str] = (),
    ec2: EC2Client | None = None,
) -> FlowLogsStatus:
    """Whether flow logs cover the VPC, the given subnets and ENIs, and what each existing one lacks.

    A resource is covered by its own flow log, its subnet's (ENIs) or its VPC's.
    """
    client = ec2 or clients.ec2()
    try:
        eni_subnet = _eni_subnets(client, eni_ids)
        subnets = sorted({*subnet_ids, *(s for s in eni_subnet.values() if s)})
        raw = _describe_flow_logs(client, [vpc_id, *subnets, *eni_ids])
    except (ClientError, BotoCoreError) as error:
        raise translate(error) from error
    logs = [_existing(r) for r in raw]
    by_resource: dict[str, list[ExistingFlowLog]] = {}
    for log in logs:
        by_resource.setdefault(log.resource_id, []).append(log)

    def applicable(resource_id: str) -> list[ExistingFlowLog]:
        chain = [resource_id]
        if eni_subnet.get(resource_id):
            chain.append(eni_subnet[resource_id])
        if resource_id != vpc_id:
            chain.append(vpc_id)
        return [log for r in chain for log in by_resource.get(r, [])]

    covered: dict[str, tuple[str, ...]] = {}
    incomplete: dict[str, tuple[str, ...]] = {}
    uncovered: list[str] = []
    for resource_id in [vpc_id, *subnet_ids, *eni_ids]:
        found = applicable(resource_id)
        complete = tuple(f.flow_log_id for f in found if f.complete)
        if complete:
            covered[resource_id] = complete
        elif found:
            incomplete[resource_id] = tuple(f.flow_log_id for f in found)
        else:
            uncovered.append(resource_id)
    return FlowLogsStatus(
        vpc_id=vpc_id,
        subnet_ids=tuple(subnet_ids),
        eni_ids=tuple(eni_ids),
        flow_logs=tuple(logs),
        covered=covered,
        incomplete=incomplete,
        uncovered=tuple(uncovered),
    )


def destination_arn(bucket: str, prefix: str = "", *, partition: str = "aws") -> str:
    """The S3 ``LogDestination``: ``arn:<partition>:s3:::bucket`` or ``arn:<partition>:s3:::bucket/folder/``.

    The partition is the Region's (``aws``, ``aws-cn``, ``aws-us-gov``): a China Region's bucket is
    ``arn:aws-cn:s3:::…`` (IAM User Guide, "Amazon Resource Names (ARNs)").
    """
    if not _BUCKET.match(bucket):
        raise InputError(f"not an S3 bucket name: {bucket!r}", field="bucket")
    folder = prefix.strip("/")
    if folder and not re.fullmatch(r"[A-Za-z0-9!_.*'()/\-]+", folder):
        raise InputError(f"not an S3 folder: {prefix!r}", field="prefix")
    if folder.startswith("AWSLogs") or folder.endswith("AWSLogs"):
        raise InputError("the prefix must not contain AWSLogs: AWS adds it", field="prefix")
    return f"arn:{partition}:s3:::{bucket}/{folder}/" if folder else f"arn:{partition}:s3:::{bucket}"


def _client_token(resource_id: str, destination: str) -> str:
    # Same request → same token: a retried CreateFlowLogs creates nothing twice (EC2 idempotency tokens).
    return hashlib.sha256(f"dropsleuth:{resource_id}:{destination}:{log_format()}".encode()).hexdigest()[:64]


def enable_flow_logs(
    vpc_id: str,
    bucket: str,
    *,
    prefix: str = "",
    subnet_ids: Sequence[str] = (),
    eni_ids: Sequence[str] = (),
    add_if_incomplete: bool = False,
    dry_run: bool = False,
    ec2: EC2Client | None = None,
) -> EnableResult:
    """Create the flow logs that are missing, and only those (see the module's docstring).

    Without subnets or ENIs the flow log goes on the VPC (it covers them all); with them, on each given
    subnet and ENI. ``dry_run`` reports ``would_create`` without calling ``CreateFlowLogs``.
    """
    client = ec2 or clients.ec2()
    destination = destination_arn(bucket, prefix, partition=clients.partition_of(client.meta.region_name))
    status = flow_logs_status(vpc_id, subnet_ids=subnet_ids, eni_ids=eni_ids, ec2=client)
    targets: list[tuple[str, ResourceType]] = (
        [(s, "Subnet") for s in subnet_ids] + [(e, "NetworkInterface") for e in eni_ids]
        if subnet_ids or eni_ids
        else [(vpc_id, "VPC")]
    )
    actions: list[EnableAction] = []
    for resource_id, resource_type in targets:
        if resource_id in status.covered:
            actions.append(
                EnableAction(
                    resource_id=resource_id,
                    resource_type=resource_type,
                    action="already_enabled",
                    flow_log_id=status.covered[resource_id][0],
                )
            )
            continue
        if resource_id in status.incomplete and not add_if_incomplete:
            actions.append(
                EnableAction(
                    resource_id=resource_id,
                    resource_type=resource_type,
                    action="skipped_incomplete",
                    detail="covered by "
                    + ", ".join(status.incomplete[resource_id])
                    + " lacking "
                    + "; ".join(_lacking(status, status.incomplete[resource_id]))
                    + "; rerun with --add-if-incomplete to add a second one",
                )
            )
            continue
        if dry_run:
            actions.append(
                EnableAction(resource_id=resource_id, resource_type=resource_type, action="would_create")
            )
            continue
        actions.append(_create(client, resource_id, resource_type, destination))
    return EnableResult(vpc_id=vpc_id, destination=destination, dry_run=dry_run, actions=tuple(actions))


def _create(
    client: EC2Client, resource_id: str, resource_type: ResourceType, destination: str
) -> EnableAction:
    try:
        response = client.create_flow_logs(
            ResourceIds=[resource_id],
            ResourceType=resource_type,
            TrafficType="ALL",
            LogDestinationType="s3",
            LogDestination=destination,
            LogFormat=log_format(),
            MaxAggregationInterval=AGGREGATION_INTERVAL_S,
            DestinationOptions=DESTINATION_OPTIONS,  # type: ignore[arg-type]
            ClientToken=_client_token(resource_id, destination),
            TagSpecifications=[
                {
                    "ResourceType": "vpc-flow-log",
                    "Tags": [{"Key": TOOLKIT_TAG_KEY, "Value": TOOLKIT_TAG_VALUE}],
                }
            ],
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "FlowLogAlreadyExists":
            # AWS refuses a second flow log of a resource to the same destination: nothing was changed.
            return EnableAction(
                resource_id=resource_id,
                resource_type=resource_type,
                action="failed",
                detail="a flow log of this resource already delivers to this destination; "
                "give another --prefix to add a complete one beside it",
            )
        raise translate(error, operation="CreateFlowLogs") from error
    except BotoCoreError as error:
        raise translate(error, operation="CreateFlowLogs") from error
    unsuccessful = response.get("Unsuccessful", [])
    if unsuccessful:
        message = "; ".join(u.get("Error", {}).get("Message", "") for u in unsuccessful)
        return EnableAction(
            resource_id=resource_id, resource_type=resource_type, action="failed", detail=message
        )
    ids = response.get("FlowLogIds", [])
    return EnableAction(
        resource_id=resource_id,
        resource_type=resource_type,
        action="created",
        flow_log_id=ids[0] if ids else None,
    )
