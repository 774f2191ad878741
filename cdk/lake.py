"""The flow-logs lake: the bucket VPC Flow Logs deliver to, the Glue table over it, the Athena workgroup and
one named query per file in ``queries/``.

The table reads AWS's own delivery layout (``FileFormat=parquet``, ``HiveCompatiblePartitions``,
``PerHourPartition``), so nothing converts or moves the logs, and uses partition projection so no crawler and
no ``MSCK REPAIR`` is ever needed. Sources: VPC User Guide, "Publish flow logs to Amazon S3" (bucket policy,
hive-compatible per-hour prefixes); Athena User Guide, "Create tables for flow logs in Apache Parquet format"
and "Partition projection" (integer projection with ``digits``, ``storage.location.template``).
"""

from __future__ import annotations

import re
from pathlib import Path

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.storage import hardened_bucket
from dropsleuth.flowlogs.schema import FIELDS, PARTITION_KEYS, projection_properties, table_location

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"


def sql_files(directory: Path) -> list[Path]:
    """The SQL files that become named queries, in a stable order."""
    return sorted(directory.glob("*.sql"))


def glue_name(text: str) -> str:
    """A Glue/Athena identifier: lower case letters, digits and underscores."""
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def normalized_prefix(prefix: str) -> str:
    """The key prefix before ``AWSLogs/``: empty, or ending in exactly one slash."""
    cleaned = prefix.strip("/")
    return f"{cleaned}/" if cleaned else ""


# The placeholder of the flow-log table's location in queries/ (filled by dropsleuth.queries.render_ddl).
LOCATION_PLACEHOLDER = "@location@"


def named_query_text(sql: str, location: str) -> str:
    """A query file as the console should run it: the table location written in where the file leaves a
    placeholder (Athena takes no parameters in DDL); comment lines are left as written."""
    return "".join(
        line if line.lstrip().startswith("--") else line.replace(LOCATION_PLACEHOLDER, location)
        for line in sql.splitlines(keepends=True)
    )


def table_parameters(location: str) -> dict[str, str]:
    """The Glue table's parameters: partition projection (shared with the DDL in queries/) and Parquet."""
    return {**projection_properties(location), "classification": "parquet", "EXTERNAL": "TRUE"}


class FlowLogsLake(Construct):
    """Flow-logs bucket, Glue database and table, Athena workgroup and results bucket, named queries."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        access_logs: s3.IBucket,
        prefix: str,
        table_name: str,
        queries_dir: Path,
        retention_days: int,
        bytes_scanned_cutoff: int,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.prefix = normalized_prefix(prefix)
        self.table_name = table_name

        self.bucket = hardened_bucket(
            self,
            "FlowLogs",
            access_logs=access_logs,
            log_prefix="flow-logs/",
            lifecycle=[
                s3.LifecycleRule(
                    id="flow-logs-to-cheaper-storage",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(30),
                        )
                    ],
                    expiration=Duration.days(retention_days),
                )
            ],
        )
        self.location = table_location(self.bucket.bucket_name, self.prefix, Aws.ACCOUNT_ID, Aws.REGION)
        self._allow_flow_log_delivery()

        self.results_bucket = hardened_bucket(
            self,
            "AthenaResults",
            access_logs=access_logs,
            log_prefix="athena-results/",
            lifecycle=[s3.LifecycleRule(id="expire-query-results", expiration=Duration.days(7))],
        )

        self.database_name = glue_name(f"{stack.stack_name}")
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="dropsleuth: VPC Flow Logs delivered as Parquet"
            ),
        )
        self.table = glue.CfnTable(
            self,
            "Table",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=table_name,
                description="VPC Flow Logs: Parquet, hive-compatible hourly partitions, partition projection",
                table_type="EXTERNAL_TABLE",
                parameters=table_parameters(self.location),
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name=key, type="string") for key in PARTITION_KEYS
                ],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(name=f.column, type=f.athena_type) for f in FIELDS],
                    location=self.location,
                    input_format=PARQUET_INPUT,
                    output_format=PARQUET_OUTPUT,
                    serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=PARQUET_SERDE),
                ),
            ),
        )
        self.table.node.add_dependency(self.database)

        self.workgroup_name = f"{stack.stack_name}".lower()
        self.output_location = f"s3://{self.results_bucket.bucket_name}/results/"
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=self.workgroup_name,
            description="dropsleuth flow-log queries: results location and encryption enforced, scans capped",
            recursive_delete_option=False,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                # Athena bills $5 per TB scanned: a query without partition predicates stops here.
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=self.output_location,
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )

        self.named_queries: list[athena.CfnNamedQuery] = []
        for sql in sql_files(queries_dir):
            named = athena.CfnNamedQuery(
                self,
                f"Query-{sql.stem}",
                name=f"dropsleuth-{sql.stem}",
                description=f"dropsleuth queries/{sql.name}",
                database=self.database_name,
                query_string=named_query_text(sql.read_text(encoding="utf-8"), self.location),
                work_group=self.workgroup_name,
            )
            named.node.add_dependency(self.workgroup)
            named.node.add_dependency(self.database)
            self.named_queries.append(named)

    def _allow_flow_log_delivery(self) -> None:
        """Let the log delivery service write this account's flow logs (VPC User Guide, "Amazon S3 bucket
        permissions for flow logs"); scoped by source account and source ARN against confused deputies."""
        delivery = iam.ServicePrincipal("delivery.logs.amazonaws.com")
        conditions = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"},
        }
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AWSLogDeliveryWrite",
                principals=[delivery],
                actions=["s3:PutObject"],
                resources=[
                    self.bucket.arn_for_objects(f"{self.prefix}AWSLogs/aws-account-id={Aws.ACCOUNT_ID}/*")
                ],
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": Aws.ACCOUNT_ID,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                    },
                    "ArnLike": conditions["ArnLike"],
                },
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AWSLogDeliveryAclCheck",
                principals=[delivery],
                actions=["s3:GetBucketAcl"],
                resources=[self.bucket.bucket_arn],
                conditions=conditions,
            )
        )
