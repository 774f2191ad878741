"""An alarm storm: 50 sites alarming within a minute, every alarm delivered twice, on the embedded account.

The wan-mtu-9000 incident's account is built once; its site is registered 50 times under 50 names (one
alarm each, with its own ARN, in the site registry in SSM as the CDK app deploys it), so every alarm maps to
a site whose evidence is the incident's. The 50 EventBridge events reach the ``investigate`` handler's core
at once from 50 threads (Lambda runs one invocation per event, concurrently), then every event is delivered
a second time (EventBridge delivers at least once). Checked: every site has exactly one report in the report
bucket and one SNS summary, every second delivery answers ``duplicate``, nothing failed.

Figures: the storm's wall time against one investigation alone, and the peak number of investigations in
flight at once.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.harness import Figure

SITES = 50


def run() -> list[Figure]:  # noqa: PLR0915 -- one storm, told top to bottom
    from dropsleuth.aws import clients  # noqa: PLC0415
    from dropsleuth.config import settings  # noqa: PLC0415
    from dropsleuth.demo import replay  # noqa: PLC0415
    from dropsleuth.demo.embedded import embedded_account  # noqa: PLC0415
    from dropsleuth.demo.scenario import load_scenario  # noqa: PLC0415
    from dropsleuth.handlers.investigate import handle  # noqa: PLC0415
    from dropsleuth.metrics_catalog import SITE_DIMENSION  # noqa: PLC0415

    scenario = load_scenario("wan-mtu-9000")
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    publishes: Counter[str] = Counter()

    def count_publish(**kwargs: Any) -> None:
        if getattr(kwargs.get("model"), "name", "") == "Publish":
            with lock:
                publishes["Publish"] += 1

    with embedded_account(scenario.region):
        prepared = replay.prepare(scenario)
        assert prepared.built.site is not None
        environment = prepared.environment
        site = prepared.built.site.model_dump(mode="json")
        names = [f"{site['name']}-{i:02d}" for i in range(SITES)]
        # The incident's own site stays registered: its alarm is the one investigated alone.
        registry = {"sites": [site, *(site | {"name": name} for name in names)]}
        ssm = clients.ssm()
        ssm.put_parameter(
            Name=environment["DROPSLEUTH_SITES_PARAMETER"],
            Type="String",
            Value=json.dumps(registry),
            Overwrite=True,
        )
        events = []
        for name in names:
            event = copy.deepcopy(prepared.event)
            alarm = f"dropsleuth-{name}-UploadThroughputMbps"
            event["detail"]["alarmName"] = alarm
            event["resources"] = [event["resources"][0].rsplit(":", 1)[0] + ":" + alarm]
            metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
            metric["dimensions"][SITE_DIMENSION] = name
            events.append(event)

        with replay.lambda_environment(environment):
            clients.reset()
            clients.session().events.register("before-call", count_publish)
            config = settings()

            def invoke(event: dict[str, Any]) -> dict[str, Any]:
                nonlocal in_flight, peak
                with lock:
                    in_flight += 1
                    peak = max(peak, in_flight)
                try:
                    return handle(event, config=config)
                finally:
                    with lock:
                        in_flight -= 1

            started = time.perf_counter()
            alone = invoke(prepared.event)
            alone_s = time.perf_counter() - started
            assert alone["status"] == "investigated", alone
            peak = 0
            publishes.clear()

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=SITES, thread_name_prefix="storm") as pool:
                first = list(pool.map(invoke, events))
            storm_s = time.perf_counter() - started
            storm_peak = peak
            with ThreadPoolExecutor(max_workers=SITES, thread_name_prefix="storm") as pool:
                again = list(pool.map(invoke, events))

            bucket = config.report_bucket
            assert bucket is not None
            keys = [
                item["Key"]
                for page in clients.s3().get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for item in page.get("Contents", [])
                if item["Key"].endswith(".json")
            ]

    statuses = Counter(r["status"] for r in first)
    repeats = Counter(r["status"] for r in again)
    sites_reported = Counter(
        r["report"]["subject"].get("site") for r in first if r["status"] == "investigated"
    )
    lost = [n for n in names if sites_reported[n] != 1]
    assert statuses == {"investigated": SITES}, statuses
    assert repeats == {"duplicate": SITES}, repeats
    assert not lost, lost
    assert publishes["Publish"] == SITES, publishes
    note = (
        f"{SITES} alarms at once, each delivered twice: {statuses['investigated']} investigated, "
        f"{repeats['duplicate']} duplicates answered from the idempotency store, {publishes['Publish']} SNS "
        f"summaries, {len(keys)} JSON reports in S3 (one per site plus the solo run's); peak {storm_peak} "
        "in flight"
    )
    return [
        Figure(
            "storm",
            f"{SITES} alarms within a minute, wall time",
            storm_s,
            "one investigation alone",
            alone_s,
            note=note,
        ),
        Figure(
            "storm",
            "peak investigations in flight",
            storm_peak,
            "one investigation alone",
            1,
            unit="",
            note="every site got exactly one report; none lost, none duplicated",
        ),
    ]
