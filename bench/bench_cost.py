"""What one investigation costs in AWS charges, estimated from what it does, at published prices.

The wan-mtu-9000 incident is investigated by the ``investigate`` handler's core on the embedded account
(moto, DuckDB over the incident's flow logs), report stored and published, with every AWS call counted by
service and operation. The bill is priced from those counts:

- Athena: each of the flow-log queries is billed its bytes scanned, at least 10 MB (DuckDB's bytes read
  over the same Parquet files stand for Athena's: both read only the columns and row groups they need);
- Reachability Analyzer: one analysis per investigation when it is on;
- Lambda: 1024 MB (the ``investigate`` function's memory) for the time a deployed investigation takes,
  which is its slowest step's wait: Athena's queries (``ATHENA_WAIT_S``) with Reachability Analyzer off,
  the analysis (``REACHABILITY_WAIT_S``) with it on; plus the request;
- requests: S3, SNS, DynamoDB (idempotency), CloudWatch ``GetMetricData`` (per metric requested); EC2
  ``Describe*``, CloudTrail ``LookupEvents``, SSM ``GetParameter`` (standard) and STS are free.

Goal (issue #17): one investigation under one US cent with Reachability Analyzer off; the figure with it on
is reported against the same cent. Prices: us-east-1, docs/cost.md (with the pages they come from).

The monthly cost of the stack for 1, 10 and 50 sites comes from what the CDK app deploys per site (its
alarms, the agent's metrics, ``publish_metrics`` every 5 minutes with two Athena queries per site) and is
printed beside it.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any
from unittest import mock

from bench.harness import Figure

MB = 1_000_000
TB = 1_000_000_000_000
# us-east-1 list prices (docs/cost.md names each page).
PRICE = {
    "athena_per_tb": 5.00,
    "athena_min_bytes": 10 * MB,
    "reachability_per_analysis": 0.10,
    "lambda_arm_per_gb_s": 0.0000133334,
    "lambda_per_request": 0.20 / 1_000_000,
    "s3_put_per_request": 0.005 / 1000,  # PUT, COPY, POST, LIST
    "s3_get_per_request": 0.0004 / 1000,  # GET and all other requests
    "sns_per_publish": 0.50 / 1_000_000,
    "dynamodb_write_per_request": 0.625 / 1_000_000,  # on-demand, per write request unit
    "dynamodb_read_per_request": 0.125 / 1_000_000,
    "cloudwatch_per_metric_requested": 0.01 / 1000,  # GetMetricData
    "cloudwatch_per_put": 0.01 / 1000,  # PutMetricData requests
    "cloudwatch_alarm_month": 0.10,  # standard resolution; an anomaly-detection alarm counts as 3
    "cloudwatch_metric_month": 0.30,  # custom metric, first 10,000
}
ATHENA_WAIT_S = 8.0  # five queries at once: queueing plus the scan, seconds each
REACHABILITY_WAIT_S = 30.0  # create path, start the analysis, poll it to the end, delete
LAMBDA_GB = 1024 / 1024
S3_PUT_OPERATIONS = {"PutObject", "CopyObject", "ListObjectsV2", "ListObjects", "CreateMultipartUpload"}
FREE_SERVICES = {"ec2", "cloudtrail", "ssm", "sts"}


def _count_calls(counter: Counter[tuple[str, str]], metrics: list[int]) -> Any:
    def hook(**kwargs: Any) -> None:
        model = kwargs.get("model")
        service = str(getattr(getattr(model, "service_model", None), "service_name", ""))
        operation = str(getattr(model, "name", ""))
        counter[(service, operation)] += 1
        if operation == "GetMetricData":
            metrics.append(len(kwargs.get("params", {}).get("MetricDataQueries", [])))

    return hook


def _requests_cost(calls: Counter[tuple[str, str]], metrics_requested: int) -> float:
    cost = 0.0
    for (service, operation), count in calls.items():
        if service == "s3":
            per = (
                PRICE["s3_put_per_request"] if operation in S3_PUT_OPERATIONS else PRICE["s3_get_per_request"]
            )
            cost += count * per
        elif service == "sns" and operation == "Publish":
            cost += count * PRICE["sns_per_publish"]
        elif service == "dynamodb":
            write = operation in {"PutItem", "UpdateItem", "DeleteItem"}
            cost += count * PRICE["dynamodb_write_per_request" if write else "dynamodb_read_per_request"]
        elif service == "cloudwatch" and operation == "PutMetricData":
            cost += count * PRICE["cloudwatch_per_put"]
    return cost + metrics_requested * PRICE["cloudwatch_per_metric_requested"]


def investigation() -> dict[str, Any]:
    """Investigate the incident once on the embedded account; what it called and what it scanned."""
    from dropsleuth import queries  # noqa: PLC0415
    from dropsleuth.aws import clients  # noqa: PLC0415
    from dropsleuth.config import settings  # noqa: PLC0415
    from dropsleuth.demo import replay  # noqa: PLC0415
    from dropsleuth.demo.embedded import embedded_account  # noqa: PLC0415
    from dropsleuth.demo.scenario import load_scenario  # noqa: PLC0415
    from dropsleuth.handlers.investigate import handle  # noqa: PLC0415

    scenario = load_scenario("wan-mtu-9000")
    calls: Counter[tuple[str, str]] = Counter()
    metrics: list[int] = []
    scanned: list[int] = []
    original = queries.LocalEngine.run

    def counted(engine: queries.LocalEngine, name: str, params: Any) -> queries.QueryResult:
        result = original(engine, name, params)
        scanned.append(result.bytes_scanned or 0)
        return result

    with embedded_account(scenario.region), mock.patch.object(queries.LocalEngine, "run", counted):
        prepared = replay.prepare(scenario)
        with replay.lambda_environment(prepared.environment):
            clients.reset()
            clients.session().events.register("before-call", _count_calls(calls, metrics))
            started = time.perf_counter()
            result = handle(prepared.event, config=settings())
            wall = time.perf_counter() - started
    assert result["status"] == "investigated", result
    assert scanned, "the flow-log queries must have run"
    return {"calls": calls, "metrics": sum(metrics), "scanned": scanned, "wall": wall}


def monthly(sites: int) -> dict[str, float]:
    """The stack's monthly charges for ``sites`` sites, from what the CDK app deploys for each."""
    from dropsleuth.metrics_catalog import ALARMED, METRICS  # noqa: PLC0415

    alarms = sum(3 if m.anomaly_std_devs is not None else 1 for m in ALARMED) * sites
    runs = 30 * 24 * 60 // 5  # publish_metrics every 5 minutes
    athena_bytes = runs * 2 * sites * PRICE["athena_min_bytes"]  # two queries per site per run, 10 MB each
    lambda_gb_s = runs * 2.0 * 512 / 1024  # one 512 MB invocation per run, ~2 s waiting on its queries
    return {
        "alarms": alarms * PRICE["cloudwatch_alarm_month"],
        "custom metrics": len(METRICS) * sites * PRICE["cloudwatch_metric_month"],
        "publish_metrics Athena": athena_bytes / TB * PRICE["athena_per_tb"],
        "publish_metrics Lambda": runs * PRICE["lambda_per_request"]
        + lambda_gb_s * PRICE["lambda_arm_per_gb_s"],
    }


def run() -> list[Figure]:
    measured = investigation()
    athena = sum(max(b, PRICE["athena_min_bytes"]) for b in measured["scanned"]) / TB * PRICE["athena_per_tb"]
    requests = _requests_cost(measured["calls"], measured["metrics"])
    lambda_off = LAMBDA_GB * ATHENA_WAIT_S * PRICE["lambda_arm_per_gb_s"] + PRICE["lambda_per_request"]
    lambda_on = LAMBDA_GB * REACHABILITY_WAIT_S * PRICE["lambda_arm_per_gb_s"] + PRICE["lambda_per_request"]
    off = athena + requests + lambda_off
    on = athena + requests + lambda_on + PRICE["reachability_per_analysis"]
    calls = measured["calls"]
    by_service = Counter[str]()
    for (service, _operation), count in calls.items():
        by_service[service] += count
    free = sum(by_service[s] for s in FREE_SERVICES)
    detail = (
        f"Athena ${athena:.5f} ({len(measured['scanned'])} queries, "
        f"{sum(measured['scanned']) / MB:.2f} MB read, "
        f"10 MB minimum each), requests ${requests:.6f} "
        f"({', '.join(f'{s} {n}' for s, n in sorted(by_service.items()))}; {free} free), "
        f"Lambda ${lambda_off:.5f} off / ${lambda_on:.5f} on; embedded-account wall {measured['wall']:.1f} s"
    )
    figures = [
        Figure(
            "cost",
            "one investigation, Reachability Analyzer off",
            off,
            "one US cent",
            0.01,
            unit="USD",
            note=f"goal < 1 cent; {detail}",
        ),
        Figure(
            "cost",
            "one investigation, Reachability Analyzer on",
            on,
            "one US cent",
            0.01,
            unit="USD",
            note="one analysis at $0.10 and ~30 s of Lambda waiting for it",
        ),
    ]
    one = sum(monthly(1).values())
    for sites in (1, 10, 50):
        parts = monthly(sites)
        figures.append(
            Figure(
                "cost",
                f"stack per month, {sites} site(s)",
                sum(parts.values()),
                "stack per month, 1 site",
                one,
                unit="USD",
                note="; ".join(f"{k} ${v:.2f}" for k, v in parts.items()) + "; investigations extra",
            )
        )
    return figures
