"""The flow-logs lake and the buckets: hardening, delivery policy, Glue projection, Athena, named queries."""

from __future__ import annotations

from pathlib import Path

from dropsleuth.flowlogs.schema import FIELDS, PARTITION_KEYS, projection_properties
from tests.infra.conftest import Synthesized, as_list, flatten, statements

ROOT = Path(__file__).resolve().parents[2]


def _bucket_policy(synthesized: Synthesized, bucket_id: str) -> list[dict]:
    for policy in synthesized.resources("AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}:
            return statements(policy)
    raise AssertionError(f"no bucket policy for {bucket_id}")


def test_every_bucket_is_private_encrypted_versioned_tls_only_and_expires(synthesized: Synthesized) -> None:
    buckets = synthesized.resources("AWS::S3::Bucket")
    assert len(buckets) == 4  # flow logs, Athena results, reports, access logs

    for bucket_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, bucket_id
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        rules = props["LifecycleConfiguration"]["Rules"]
        assert any("ExpirationInDays" in r for r in rules), bucket_id
        assert any("NoncurrentVersionExpiration" in r for r in rules), bucket_id
        assert bucket["DeletionPolicy"] == "Retain"

        denies = [
            s
            for s in _bucket_policy(synthesized, bucket_id)
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert denies, bucket_id
        assert denies[0]["Action"] == "s3:*", bucket_id


def test_all_buckets_but_the_access_log_bucket_log_to_it(synthesized: Synthesized) -> None:
    log_bucket = synthesized.logical_id(synthesized.stack.node.find_child("AccessLogs").bucket)
    for bucket_id, bucket in synthesized.resources("AWS::S3::Bucket").items():
        logging = bucket["Properties"].get("LoggingConfiguration")
        if bucket_id == log_bucket:
            assert logging is None
        else:
            assert logging["DestinationBucketName"] == {"Ref": log_bucket}
            assert logging["LogFilePrefix"]


def test_flow_log_delivery_may_write_only_this_accounts_prefix(synthesized: Synthesized) -> None:
    lake = synthesized.stack.lake
    policy = _bucket_policy(synthesized, synthesized.logical_id(lake.bucket))
    delivery = [s for s in policy if s.get("Principal") == {"Service": "delivery.logs.amazonaws.com"}]
    by_action = {s["Action"]: s for s in delivery}
    assert set(by_action) == {"s3:PutObject", "s3:GetBucketAcl"}

    write = by_action["s3:PutObject"]
    resource = flatten(write["Resource"])
    assert resource.endswith("/AWSLogs/aws-account-id=<AWS::AccountId>/*")
    assert write["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    for statement in delivery:
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
        assert flatten(statement["Condition"]["ArnLike"]["aws:SourceArn"]).startswith(
            "arn:<AWS::Partition>:logs:"
        )


def test_glue_table_reads_the_parquet_fields_with_hive_partition_projection(synthesized: Synthesized) -> None:
    (table,) = synthesized.resources("AWS::Glue::Table").values()
    table_input = table["Properties"]["TableInput"]
    descriptor = table_input["StorageDescriptor"]

    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [
        (f.column, f.athena_type) for f in FIELDS
    ]
    assert [k["Name"] for k in table_input["PartitionKeys"]] == list(PARTITION_KEYS)
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")

    location = flatten(descriptor["Location"])
    bucket = synthesized.logical_id(synthesized.stack.lake.bucket)
    assert location == (
        f"s3://<{bucket}>/AWSLogs/aws-account-id=<AWS::AccountId>/aws-service=vpcflowlogs/aws-region=<AWS::Region>/"
    )
    parameters = {key: flatten(value) for key, value in table_input["Parameters"].items()}
    expected = projection_properties(location)
    assert {k: v for k, v in parameters.items() if k in expected} == expected
    assert (
        parameters["storage.location.template"]
        == location + "year=${year}/month=${month}/day=${day}/hour=${hour}"
    )
    for key in ("month", "day", "hour"):
        assert parameters[f"projection.{key}.type"] == "integer"
        assert parameters[f"projection.{key}.digits"] == "2"


def test_athena_workgroup_enforces_location_encryption_and_a_scan_cutoff(synthesized: Synthesized) -> None:
    (workgroup,) = synthesized.resources("AWS::Athena::WorkGroup").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] >= 10_000_000  # Athena's minimum cutoff is 10 MB
    results = config["ResultConfiguration"]
    assert results["EncryptionConfiguration"]["EncryptionOption"] == "SSE_S3"
    results_bucket = synthesized.logical_id(synthesized.stack.lake.results_bucket)
    assert flatten(results["OutputLocation"]).startswith(f"s3://<{results_bucket}>/")


def test_flow_logs_move_to_cheaper_storage_before_they_expire(synthesized: Synthesized) -> None:
    bucket = synthesized.resource(synthesized.stack.lake.bucket)
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    (rule,) = [r for r in rules if r.get("Transitions")]
    assert rule["Status"] == "Enabled"
    (transition,) = rule["Transitions"]
    assert transition["StorageClass"] in {"STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR"}
    # S3 moves objects to Standard-IA no sooner than 30 days (S3 User Guide, lifecycle transitions).
    assert transition["TransitionInDays"] >= 30
    assert transition["TransitionInDays"] < rule["ExpirationInDays"]


def _flattened_text(value: object) -> str:
    """A query string as text: CloudFormation tokens (the bucket's Ref) spelled by ``flatten``."""
    return value if isinstance(value, str) else flatten(value)


def test_one_named_query_per_sql_file_with_its_text(synthesized: Synthesized) -> None:
    sql_files = sorted((ROOT / "queries").glob("*.sql"))
    queries = synthesized.resources("AWS::Athena::NamedQuery")
    assert len(queries) == len(sql_files)

    by_name = {q["Properties"]["Name"]: q["Properties"] for q in queries.values()}
    workgroup = synthesized.stack.lake.workgroup_name
    location = flatten(
        synthesized.resource(synthesized.stack.lake.table)["Properties"]["TableInput"]["StorageDescriptor"][
            "Location"
        ]
    )
    for sql in sql_files:
        query = by_name[f"dropsleuth-{sql.stem}"]
        text = sql.read_text(encoding="utf-8")
        expected = "".join(
            line if line.lstrip().startswith("--") else line.replace("@location@", location)
            for line in text.splitlines(keepends=True)
        )
        assert _flattened_text(query["QueryString"]) == expected
        assert query["WorkGroup"] == workgroup
        assert query["Database"] == synthesized.stack.lake.database_name


def test_the_table_ddl_runs_from_the_console_over_the_flow_logs_bucket(synthesized: Synthesized) -> None:
    (ddl,) = [
        q["Properties"]
        for q in synthesized.resources("AWS::Athena::NamedQuery").values()
        if q["Properties"]["Name"] == "dropsleuth-create_flow_logs_table"
    ]
    text = _flattened_text(ddl["QueryString"])
    statements_only = "\n".join(x for x in text.splitlines() if not x.lstrip().startswith("--"))
    assert "@location@" not in statements_only
    bucket = synthesized.logical_id(synthesized.stack.lake.bucket)
    root = f"s3://<{bucket}>/{synthesized.stack.lake.prefix}AWSLogs/aws-account-id=<AWS::AccountId>/"
    assert f"LOCATION '{root}aws-service=vpcflowlogs/aws-region=<AWS::Region>/'" in statements_only
    assert f"'{root}aws-service=vpcflowlogs/aws-region=<AWS::Region>/year=${{year}}/" in statements_only


def test_idempotency_table_is_on_demand_with_ttl_and_pitr(synthesized: Synthesized) -> None:
    (table,) = synthesized.resources("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert as_list(props["KeySchema"]) == [{"AttributeName": "id", "KeyType": "HASH"}]
