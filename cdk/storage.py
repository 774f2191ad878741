"""Buckets with one hardening recipe, the reports store and the idempotency table.

Every bucket: block public access, TLS-only bucket policy, SSE-S3 encryption, bucket-owner-enforced
ownership, versioning with non-current versions expired, and server access logs to one access-log bucket.
Buckets and the table are retained on stack deletion: they hold the user's evidence and reports.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.nag import acknowledge


def hardened_bucket(
    scope: Construct,
    construct_id: str,
    *,
    access_logs: s3.IBucket | None,
    log_prefix: str,
    lifecycle: list[s3.LifecycleRule],
) -> s3.Bucket:
    """An S3 bucket with the app's hardening; ``access_logs=None`` only for the access-log bucket itself."""
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        encryption=s3.BucketEncryption.S3_MANAGED,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=log_prefix if access_logs is not None else None,
        lifecycle_rules=[
            *lifecycle,
            s3.LifecycleRule(
                id="expire-noncurrent-versions",
                noncurrent_version_expiration=Duration.days(30),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            ),
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )


class AccessLogs(Construct):
    """The bucket that receives the other buckets' server access logs."""

    def __init__(self, scope: Construct, construct_id: str, *, retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.bucket = hardened_bucket(
            self,
            "Bucket",
            access_logs=None,
            log_prefix="",
            lifecycle=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(retention_days))],
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "This is the access-log bucket: logging its own access would log each log delivery, recursively.",
        )


class ReportStore(Construct):
    """Where investigations write their reports (JSON, Markdown, HTML) and remember what they have done."""

    def __init__(
        self, scope: Construct, construct_id: str, *, access_logs: s3.IBucket, report_retention_days: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = hardened_bucket(
            self,
            "Reports",
            access_logs=access_logs,
            log_prefix="reports/",
            lifecycle=[
                s3.LifecycleRule(
                    id="reports-to-infrequent-access",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(30),
                        )
                    ],
                    expiration=Duration.days(report_retention_days),
                )
            ],
        )
        # Powertools idempotency: partition key "id", TTL attribute "expiration" (its defaults).
        self.idempotency_table = dynamodb.Table(
            self,
            "Idempotency",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiration",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
