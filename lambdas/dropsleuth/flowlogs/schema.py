"""The VPC Flow Logs fields dropsleuth reads, with their types in AWS's Parquet files and in Athena.

One definition for the Glue table the CDK app deploys, the DDL in ``queries/``, the synthesizer and the
parser. Field names are as in a ``LogFormat`` (``${tcp-flags}``); in Parquet and Athena the hyphens become
underscores (``tcp_flags``). Types: VPC User Guide, "Flow log records" and "Parquet" delivery (INT32
version, ports, protocol, tcp-flags, traffic-path; INT64 packets, bytes, start, end; strings otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FlowLogField:
    name: str
    """As written in a LogFormat: ``tcp-flags``."""
    athena_type: str
    """Type in the Glue table: ``int``, ``bigint`` or ``string``."""
    version: int
    """The flow-log format version that introduced the field."""

    @property
    def column(self) -> str:
        """Column name in Parquet and Athena: ``tcp_flags``."""
        return self.name.replace("-", "_")


FIELDS: tuple[FlowLogField, ...] = (
    FlowLogField("version", "int", 2),
    FlowLogField("account-id", "string", 2),
    FlowLogField("interface-id", "string", 2),
    FlowLogField("srcaddr", "string", 2),
    FlowLogField("dstaddr", "string", 2),
    FlowLogField("srcport", "int", 2),
    FlowLogField("dstport", "int", 2),
    FlowLogField("protocol", "int", 2),
    FlowLogField("packets", "bigint", 2),
    FlowLogField("bytes", "bigint", 2),
    FlowLogField("start", "bigint", 2),
    FlowLogField("end", "bigint", 2),
    FlowLogField("action", "string", 2),
    FlowLogField("log-status", "string", 2),
    FlowLogField("vpc-id", "string", 3),
    FlowLogField("subnet-id", "string", 3),
    FlowLogField("instance-id", "string", 3),
    FlowLogField("tcp-flags", "int", 3),
    FlowLogField("type", "string", 3),
    FlowLogField("pkt-srcaddr", "string", 3),
    FlowLogField("pkt-dstaddr", "string", 3),
    FlowLogField("region", "string", 4),
    FlowLogField("az-id", "string", 4),
    FlowLogField("pkt-src-aws-service", "string", 5),
    FlowLogField("pkt-dst-aws-service", "string", 5),
    FlowLogField("flow-direction", "string", 5),
    FlowLogField("traffic-path", "int", 5),
)

FIELDS_BY_NAME = {f.name: f for f in FIELDS}

# The v2 default format (14 fields), in order.
DEFAULT_V2_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.version == 2)

# What ``enable`` writes: every field above, in this order.
REQUIRED_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS)

# Hive-compatible, per-hour partitions of S3 delivery (FileFormat=parquet, HiveCompatiblePartitions,
# PerHourPartition): AWSLogs/aws-account-id=ID/aws-service=vpcflowlogs/aws-region=R/year=/month=/day=/hour=/
PARTITION_KEYS: tuple[str, ...] = ("year", "month", "day", "hour")


def log_format(fields: tuple[str, ...] = REQUIRED_FIELDS) -> str:
    """The ``LogFormat`` string for ``create_flow_logs``: ``${version} ${account-id} …``."""
    return " ".join(f"${{{name}}}" for name in fields)


# Partition projection on the per-hour Hive layout: integer ranges, 2-digit padding for month, day and hour.
# No crawler and no MSCK REPAIR (Athena User Guide, "Partition projection with Amazon Athena", and VPC User
# Guide, "Query flow logs using Amazon Athena"). The Glue table the CDK app deploys and
# queries/create_flow_logs_table.sql carry exactly these properties; a test compares them.
PROJECTION_FIRST_YEAR = 2020
PROJECTION_LAST_YEAR = 2100


def table_location(bucket: str, prefix: str, account_id: str, region: str) -> str:
    """The S3 folder that holds one account's and Region's flow logs (the table's ``LOCATION``)."""
    cleaned = prefix.strip("/")
    root = f"s3://{bucket}/{cleaned}/" if cleaned else f"s3://{bucket}/"
    return f"{root}AWSLogs/aws-account-id={account_id}/aws-service=vpcflowlogs/aws-region={region}/"


def projection_properties(location: str) -> dict[str, str]:
    """The table properties of partition projection over ``location`` (as returned by ``table_location``)."""
    properties = {"projection.enabled": "true"}
    ranges = {
        "year": (f"{PROJECTION_FIRST_YEAR},{PROJECTION_LAST_YEAR}", "4"),
        "month": ("1,12", "2"),
        "day": ("1,31", "2"),
        "hour": ("0,23", "2"),
    }
    for key in PARTITION_KEYS:
        value_range, digits = ranges[key]
        properties[f"projection.{key}.type"] = "integer"
        properties[f"projection.{key}.range"] = value_range
        properties[f"projection.{key}.digits"] = digits
    properties["storage.location.template"] = (
        location.rstrip("/") + "/year=${year}/month=${month}/day=${day}/hour=${hour}"
    )
    return properties
