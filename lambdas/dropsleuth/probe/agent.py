"""The site agent: runs the probes on a schedule and publishes what they measure to CloudWatch.

``dropsleuth probe run --config site.yaml`` collects, each interval: interface MTUs against the expected
map (``InterfaceMtuMismatch`` per interface), DF path-MTU probes toward each target (``PathMtu``,
``PathMtuBlackHole`` per target), counter deltas (``FragNeededCount``, ``TcpRetransSegs``) and, every few
cycles, a large upload (``UploadThroughputMbps``). Namespace ``DropSleuth``, dimension ``Site`` (plus
``Interface`` / ``Target``), names from ``dropsleuth.metrics_catalog``.

Every datapoint goes through the spool (``dropsleuth.probe.spool``) first, so a CloudWatch outage delays
the data instead of losing it, and the flush keeps each point's original timestamp.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dropsleuth import metrics_catalog as catalog
from dropsleuth.aws import clients, errors
from dropsleuth.aws.errors import InputError
from dropsleuth.aws.permissions import declare
from dropsleuth.observability import logger
from dropsleuth.probe import counters, interfaces, netplan, pmtu, upload
from dropsleuth.probe.spool import DEFAULT_MAX_BYTES, Datapoint, FlushResult, Spool
from dropsleuth.rules.pmtu_verdict import PathVerdict

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef

PERMISSIONS = declare("probe_agent", "cloudwatch:PutMetricData")

# Amazon CloudWatch API Reference, PutMetricData: up to 1,000 metrics per request and a 1 MB payload;
# 30 dimensions per metric. Our datapoints are ~200 bytes: 500 per call stays far from both limits.
MAX_DATA_PER_CALL = 500


class TargetConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str = Field(min_length=1)
    mode: pmtu.Mode = pmtu.Mode.icmp
    port: int = Field(pmtu.DEFAULT_PORT, ge=1, le=65535)
    name: str | None = None
    """The ``Target`` dimension's value (default: the address)."""


class UploadConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str = Field(min_length=3)
    size: str = "16MiB"
    every_cycles: int = Field(5, ge=1)


class SpoolConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = "/var/lib/dropsleuth/spool.jsonl"
    max_bytes: int = Field(DEFAULT_MAX_BYTES, ge=4096)


class AgentConfig(BaseModel):
    """``site.yaml``: see deploy/agent/site.yaml for a commented example."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: str = Field(min_length=1, max_length=255)
    region: str | None = None
    namespace: str = catalog.NAMESPACE
    interval_s: int = Field(60, ge=10, le=3600)
    expected_mtus: dict[str, int] = Field(default_factory=dict)
    targets: tuple[TargetConfig, ...] = ()
    counters: bool = True
    upload: UploadConfig | None = None
    spool: SpoolConfig = SpoolConfig()


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate ``site.yaml``; a bad file raises InputError naming the field."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}", field="config") from error
    except yaml.YAMLError as error:
        raise InputError(
            f"{path} is not valid YAML: {netplan.yaml_problem(error)}", field="config"
        ) from error
    try:
        return AgentConfig.model_validate(document or {})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise InputError(f"{path}: {where}: {first['msg']}", field=where) from error


# A saved counter snapshot older than this many intervals is discarded rather than used as the previous
# reading: its delta would put several intervals' worth of drops into one datapoint.
SNAPSHOT_MAX_INTERVALS = 3
STATE_FILE = "agent-state.json"


class AgentState:
    """What one cycle leaves for the next: the previous counter snapshot and the cycle number.

    With ``path`` it is also kept on disk (next to the spool, written atomically after every cycle), so a
    timer's one-shot runs (``probe run --once``) publish counter deltas and keep the upload cadence too.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.previous: counters.CounterSnapshot | None = None
        self.cycle = 0

    @classmethod
    def load(cls, path: Path, *, boot_id: str | None, now: float, max_age_s: float) -> AgentState:
        """The state saved at ``path``; a previous snapshot that cannot serve (another boot, too old) is
        left out with a log line saying why, and an unreadable file starts afresh."""
        state = cls(path)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return state
        except (OSError, ValueError) as error:
            logger.warning(f"agent state {path} unreadable ({error}); starting afresh")
            return state
        if not isinstance(record, dict):
            return state
        cycle = record.get("cycle")
        state.cycle = cycle if isinstance(cycle, int) and cycle >= 0 else 0
        saved = counters.snapshot_from_dict(record.get("counters"))
        if saved is not None:
            reason = counters.stale_reason(saved, boot_id=boot_id, now=now, max_age_s=max_age_s)
            if reason is None:
                state.previous = saved
            else:
                logger.info(f"previous counter snapshot discarded: {reason}; deltas start next cycle")
        return state

    def save(self) -> None:
        """Write the state atomically: a temporary file, fsynced, renamed over the old one."""
        if self.path is None:
            return
        record = {
            "cycle": self.cycle,
            "counters": counters.snapshot_to_dict(self.previous) if self.previous else None,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(record, handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.path)


def state_path(config: AgentConfig) -> Path:
    return Path(config.spool.path).with_name(STATE_FILE)


def _point(spec: catalog.MetricSpec, value: float, site: str, when: float, **dimensions: str) -> Datapoint:
    return Datapoint(spec.name, float(value), spec.unit, when, {catalog.SITE_DIMENSION: site, **dimensions})


def collect(
    config: AgentConfig,
    state: AgentState,
    *,
    probe: Callable[[str, pmtu.ProbeSettings], pmtu.PmtuResult] = pmtu.probe_path,
    now: Callable[[], float] = time.time,
    counter_source: counters.CounterSource | None = None,
) -> list[Datapoint]:
    """One cycle of measurements as datapoints. A probe that fails is logged and skipped, not fatal.

    ``counter_source``: where the counters are read (default this host's /proc and counting rule).
    """
    site = config.site
    points: list[Datapoint] = []
    state.cycle += 1
    if config.expected_mtus:
        found = interfaces.check_interfaces(
            interfaces.list_interfaces(), config.expected_mtus, interfaces.default_route_interfaces()
        )
        wrong = {name for f in found for name in f.resource_ids}
        points.extend(
            _point(catalog.INTERFACE_MTU_MISMATCH, 1 if name in wrong else 0, site, now(), Interface=name)
            for name in sorted(config.expected_mtus)
        )
        for finding in found:
            logger.warning(finding.title, extra={"code": finding.code.value})
    for target in config.targets:
        label = target.name or target.address
        try:
            result = probe(target.address, pmtu.ProbeSettings(mode=target.mode, port=target.port))
        except (OSError, InputError) as error:
            logger.warning(f"probe toward {label} failed: {error}")
            continue
        when = now()
        verdict = result.verdict
        if verdict.path_mtu is not None:
            points.append(_point(catalog.PATH_MTU, verdict.path_mtu, site, when, Target=label))
        if verdict.verdict is not PathVerdict.UNREACHABLE:
            points.append(
                _point(catalog.PATH_MTU_BLACK_HOLE, 1 if verdict.is_problem else 0, site, when, Target=label)
            )
        if verdict.is_problem:
            logger.warning(f"{label}: {verdict.explanation}")
    if config.counters:
        current = (counter_source or counters.CounterSource()).read(now())
        if state.previous is not None:
            delta = counters.deltas(state.previous, current)["counters"]
            points.append(_point(catalog.FRAG_NEEDED, delta["frag_needed"], site, current.taken_at))
            points.append(_point(catalog.TCP_RETRANS, delta["tcp_retrans_segs"], site, current.taken_at))
        state.previous = current
    if config.upload is not None and (state.cycle - 1) % config.upload.every_cycles == 0:
        try:
            measured = upload.measure_upload(
                config.upload.bucket, size_bytes=upload.parse_size(config.upload.size)
            )
            points.append(_point(catalog.UPLOAD_THROUGHPUT, round(measured.mbps, 3), site, now()))
        except errors.AwsError as error:
            # The upload failing outright is the outage at its worst: report zero throughput.
            logger.warning(f"upload test failed: {error}")
            points.append(_point(catalog.UPLOAD_THROUGHPUT, 0.0, site, now()))
    return points


def with_site_rollups(points: Sequence[Datapoint]) -> list[Datapoint]:
    """``points`` plus, for each alarmed metric measured per Target/Interface, one datapoint per site.

    CloudWatch does not aggregate across dimensions: the alarms the CDK app creates watch the ``Site``
    dimension alone, so a black hole toward one of several targets must also appear as a Site-only
    datapoint (the maximum of the detailed ones at that moment; 1 = some target is a black hole).
    """
    alarmed = {spec.name for spec in catalog.ALARMED}
    groups: dict[tuple[str, str, float, str], list[Datapoint]] = {}
    for point in points:
        extra = set(point.dimensions) - {catalog.SITE_DIMENSION}
        if point.name in alarmed and extra and catalog.SITE_DIMENSION in point.dimensions:
            key = (point.name, point.dimensions[catalog.SITE_DIMENSION], point.timestamp // 60, point.unit)
            groups.setdefault(key, []).append(point)
    rollups = [
        Datapoint(
            name, max(p.value for p in members), unit, members[0].timestamp, {catalog.SITE_DIMENSION: site}
        )
        for (name, site, _, unit), members in sorted(groups.items())
    ]
    return [*points, *rollups]


def to_metric_data(points: Sequence[Datapoint]) -> list[MetricDatumTypeDef]:
    """PutMetricData's ``MetricData`` for ``points``, each with its original timestamp."""
    return [
        {
            "MetricName": p.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(p.dimensions.items())],
            "Timestamp": datetime.fromtimestamp(p.timestamp, tz=UTC),
            "Value": p.value,
            "Unit": p.unit,  # type: ignore[typeddict-item]
        }
        for p in points
    ]


def make_sender(
    namespace: str, *, cloudwatch: CloudWatchClient | None = None
) -> Callable[[Sequence[Datapoint]], None]:
    client = cloudwatch or clients.cloudwatch()

    def send(batch: Sequence[Datapoint]) -> None:
        try:
            client.put_metric_data(Namespace=namespace, MetricData=to_metric_data(batch))
        except (ClientError, BotoCoreError) as error:
            raise errors.translate(error, operation="PutMetricData") from error

    return send


def publish(
    config: AgentConfig, points: Sequence[Datapoint], *, cloudwatch: CloudWatchClient | None = None
) -> FlushResult:
    """Spool ``points``, then send everything pending; whatever fails stays spooled for the next cycle."""
    spool = Spool(config.spool.path, max_bytes=config.spool.max_bytes)
    spool.append(points)
    result = spool.flush(make_sender(config.namespace, cloudwatch=cloudwatch), batch_size=MAX_DATA_PER_CALL)
    if result.error:
        logger.warning(
            f"CloudWatch unreachable ({result.error}); {result.pending} datapoints spooled at {spool.path}"
        )
    return result


def run(
    config: AgentConfig,
    *,
    cycles: int | None = None,
    interval_s: float | None = None,
    cloudwatch: CloudWatchClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    counter_source: counters.CounterSource | None = None,
) -> list[FlushResult]:
    """Collect and publish every interval; ``cycles`` bounds the loop (None: until stopped).

    The state (previous counter snapshot, cycle number) is read from and saved next to the spool, so a
    run of one cycle started by a timer continues where the previous run stopped.
    """
    interval = config.interval_s if interval_s is None else interval_s
    source = counter_source or counters.CounterSource()
    state = AgentState.load(
        state_path(config),
        boot_id=source.boot_id(),
        now=time.time(),
        max_age_s=SNAPSHOT_MAX_INTERVALS * interval,
    )
    results: list[FlushResult] = []
    count = 0
    while cycles is None or count < cycles:
        started = time.monotonic()
        points = with_site_rollups(collect(config, state, counter_source=source))
        state.save()  # before publishing: the points are measured, the next delta starts from here
        results.append(publish(config, points, cloudwatch=cloudwatch))
        count += 1
        if cycles is not None and count >= cycles:
            break
        sleep(max(0.0, interval - (time.monotonic() - started)))
    return results


def summary(result: FlushResult) -> dict[str, Any]:
    return {"sent": result.sent, "pending": result.pending, "dropped": result.dropped, "error": result.error}
