"""The site agent: runs the probes on a schedule and publishes what they measure to CloudWatch.

``dropsleuth probe run --config site.yaml`` collects, each interval: every interface's MTU and link state
(``InterfaceMtu``, ``InterfaceUp``; with expectations also ``InterfaceMtuMismatch``), DF path-MTU probes
toward each target (``PathMtu``, ``PathMtuBlackHole``; ``Target`` = the target's address), counter deltas
(``FragNeededCount``, ``TcpRetransSegs``) and, every few cycles, a large upload
(``UploadThroughputMbps``). Namespace ``DropSleuth``, dimension ``Site`` (plus ``Interface`` /
``Target``): names and identities from ``dropsleuth.metrics_catalog``, the contract the investigation
reads with.

When an interface's MTU, link or addresses, or the default route, differ from the previous cycle (kept in
the state file, so across restarts and reboots too) the agent writes change records
(``dropsleuth.change_records``) to the site's CloudWatch Logs group (``probe/changelog.py``); records it
could not send wait in the state file.

Every datapoint goes through the spool (``dropsleuth.probe.spool``) first, so a CloudWatch outage delays
the data instead of losing it, and the flush keeps each point's original timestamp.

Each part of a cycle is guarded: a probe, counter read, interface read or upload that fails (a hung ``nft``,
a full disk, a refused call) is logged with its reason, counted in ``AgentCycleErrors``, and the cycle goes
on; a spool that cannot be written (ENOSPC) sends the cycle's points directly instead. Logs go through the
standard library's ``logging`` (the journal under systemd): the plain ``pip install dropsleuth`` has no
Powertools.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dropsleuth import change_records
from dropsleuth import metrics_catalog as catalog
from dropsleuth.aws import clients, errors
from dropsleuth.aws.errors import InputError
from dropsleuth.aws.permissions import declare
from dropsleuth.probe import counters, host_drop_metrics, interfaces, netplan, pmtu, upload
from dropsleuth.probe.changelog import ChangeLogWriter
from dropsleuth.probe.spool import DEFAULT_MAX_BYTES, Datapoint, FlushResult, Spool
from dropsleuth.rules.pmtu_verdict import PathVerdict

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef

log = logging.getLogger("dropsleuth.agent")

PERMISSIONS = declare("probe_agent", "cloudwatch:PutMetricData")

# Amazon CloudWatch API Reference, PutMetricData: up to 1,000 metrics per request and a 1 MB payload;
# 30 dimensions per metric. Our datapoints are ~200 bytes: 500 per call stays far from both limits.
MAX_DATA_PER_CALL = 500


class TargetConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str = Field(min_length=1)
    """An IP address or host name; also the ``Target`` dimension (``metrics_catalog.target_dimension``),
    so write it as the site registry's ``probe_targets`` does."""
    mode: pmtu.Mode = pmtu.Mode.icmp
    port: int = Field(pmtu.DEFAULT_PORT, ge=1, le=65535)
    name: str | None = None
    """A display name for the agent's log lines only (not a dimension: the investigation knows addresses)."""

    @field_validator("address")
    @classmethod
    def _no_spaces(cls, value: str) -> str:
        if not value.strip() or any(c.isspace() for c in value.strip()):
            raise ValueError("must be an IP address or host name")
        return value.strip()


class UploadConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bucket: str = Field(min_length=3)
    size: str = "16MiB"
    every_cycles: int = Field(5, ge=1)

    @field_validator("size")
    @classmethod
    def _a_size(cls, value: str) -> str:
        # Checked at load, not at the first upload cycle: a typo must stop the agent with the field's name.
        try:
            size = upload.parse_size(value)
        except InputError as error:
            raise ValueError(str(error)) from error
        if not 1 <= size <= 5 * 1024**3:
            raise ValueError("must be between 1 byte and 5GiB")
        return value


class SpoolConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = "/var/lib/dropsleuth/spool.jsonl"
    max_bytes: int = Field(DEFAULT_MAX_BYTES, ge=4096)


class AgentConfig(BaseModel):
    """``site.yaml``: see deploy/agent/site.yaml for a commented example."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._\-/#]+$")
    """The ``Site`` dimension and the change-record group's name (letters, digits, ``._-/#``)."""
    host: str | None = Field(None, min_length=1, max_length=512, pattern=r"^[^:*]+$")
    """The change-record stream's name (default: this host's name)."""
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


def host_name(config: AgentConfig) -> str:
    return config.host or socket.gethostname() or "unknown-host"


# A saved counter snapshot older than this many intervals is discarded rather than used as the previous
# reading: its delta would put several intervals' worth of drops into one datapoint.
SNAPSHOT_MAX_INTERVALS = 3
STATE_FILE = "agent-state.json"
# Change records waiting for CloudWatch Logs are kept in the state file; a flapping link during a week-long
# outage must not grow it without bound (the oldest go first, with a warning).
MAX_PENDING_CHANGES = 500


class AgentState:
    """What one cycle leaves for the next: the previous counter snapshot and the cycle number.

    With ``path`` it is also kept on disk (next to the spool, written atomically after every cycle), so a
    timer's one-shot runs (``probe run --once``) publish counter deltas and keep the upload cadence too.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.previous: counters.CounterSnapshot | None = None
        self.cycle = 0
        self.interfaces: dict[str, Any] | None = None
        """The last interface snapshot (``interfaces.snapshot``) and when it was taken."""
        self.interfaces_at: float | None = None
        self.pending_changes: list[dict[str, Any]] = []
        """Change records not yet written to the store (JSON form), oldest first."""

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
            log.warning("agent state %s unreadable (%s); starting afresh", path, error)
            return state
        if not isinstance(record, dict):
            return state
        cycle = record.get("cycle")
        state.cycle = cycle if isinstance(cycle, int) and cycle >= 0 else 0
        # Interface state is compared across reboots on purpose: a netplan change applied at boot is a change.
        saved_interfaces = record.get("interfaces")
        saved_at = record.get("interfaces_at")
        if isinstance(saved_interfaces, dict) and isinstance(saved_at, int | float):
            state.interfaces, state.interfaces_at = saved_interfaces, float(saved_at)
        pending = record.get("pending_changes")
        if isinstance(pending, list):
            state.pending_changes = [p for p in pending if isinstance(p, dict)]
        saved = counters.snapshot_from_dict(record.get("counters"))
        if saved is not None:
            reason = counters.stale_reason(saved, boot_id=boot_id, now=now, max_age_s=max_age_s)
            if reason is None:
                state.previous = saved
            else:
                log.info("previous counter snapshot discarded: %s; deltas start next cycle", reason)
        return state

    def save(self) -> None:
        """Write the state atomically: a temporary file, fsynced, renamed over the old one."""
        if self.path is None:
            return
        if len(self.pending_changes) > MAX_PENDING_CHANGES:
            log.warning(
                "%d unsent change records: dropping the %d oldest",
                len(self.pending_changes),
                len(self.pending_changes) - MAX_PENDING_CHANGES,
            )
            self.pending_changes = self.pending_changes[-MAX_PENDING_CHANGES:]
        record = {
            "cycle": self.cycle,
            "counters": counters.snapshot_to_dict(self.previous) if self.previous else None,
            "interfaces": self.interfaces,
            "interfaces_at": self.interfaces_at,
            "pending_changes": self.pending_changes[-MAX_PENDING_CHANGES:],
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


@dataclass
class CycleErrors:
    """The parts of one cycle that failed: logged as they happen, published as ``AgentCycleErrors``."""

    failures: list[str] = field(default_factory=list)

    def guard(self, part: str, action: Callable[[], None]) -> None:
        """Run one part of the cycle; a failure is logged, counted, and the cycle goes on."""
        try:
            action()
        # Any exception: the agent must outlive any one part of a cycle; it is logged (traceback) and counted.
        except Exception as error:
            if isinstance(error, subprocess.TimeoutExpired):
                command = error.cmd if isinstance(error.cmd, str) else " ".join(map(str, error.cmd))
                reason = f"{command} timed out after {error.timeout:g} s"
            else:
                reason = f"{type(error).__name__}: {error}"
            self.failures.append(f"{part}: {reason}")
            log.exception("cycle part %s failed (%s); the agent goes on", part, reason)


def interface_points(site: str, snapshot: dict[str, Any], when: float) -> list[Datapoint]:
    """``InterfaceMtu`` and ``InterfaceUp`` for every interface of a snapshot (``interfaces.snapshot``)."""
    points = []
    for name, state in sorted((snapshot.get("interfaces") or {}).items()):
        dims = {catalog.INTERFACE_DIMENSION: name}
        points.append(_point(catalog.INTERFACE_MTU, state["mtu"], site, when, **dims))
        points.append(_point(catalog.INTERFACE_UP, 1 if state.get("up") else 0, site, when, **dims))
    return points


def observe_interfaces(
    config: AgentConfig, state: AgentState, snapshot: dict[str, Any], when: float
) -> list[change_records.ChangeRecord]:
    """Compare ``snapshot`` with the previous one; the changes are queued in ``state`` and returned."""
    found: list[change_records.ChangeRecord] = []
    if state.interfaces is not None:
        found = change_records.observed_changes(
            state.interfaces,
            snapshot,
            site=config.site,
            host=host_name(config),
            at=datetime.fromtimestamp(when, tz=UTC),
            since=datetime.fromtimestamp(state.interfaces_at, tz=UTC) if state.interfaces_at else None,
        )
    for record in found:
        log.warning("change observed: %s", record.summary)
    state.pending_changes.extend(r.model_dump(mode="json", by_alias=True) for r in found)
    state.interfaces, state.interfaces_at = snapshot, when
    return found


def _interface_part(
    config: AgentConfig,
    state: AgentState,
    points: list[Datapoint],
    read_interfaces: Callable[[], dict[str, Any]],
    now: Callable[[], float],
) -> None:
    snapshot = read_interfaces()
    when = now()
    points.extend(interface_points(config.site, snapshot, when))
    observe_interfaces(config, state, snapshot, when)
    if not config.expected_mtus:
        return
    listed = [
        interfaces.InterfaceState(name, int(found["mtu"]), bool(found.get("up")))
        for name, found in snapshot["interfaces"].items()
    ]
    findings = interfaces.check_interfaces(listed, config.expected_mtus, snapshot["default_route"])
    wrong = {name for f in findings for name in f.resource_ids}
    points.extend(
        _point(catalog.INTERFACE_MTU_MISMATCH, 1 if name in wrong else 0, config.site, when, Interface=name)
        for name in sorted(config.expected_mtus)
    )
    for finding in findings:
        log.warning("%s: %s", finding.code.value, finding.title)


def _probe_part(
    config: AgentConfig,
    target: TargetConfig,
    points: list[Datapoint],
    probe: Callable[[str, pmtu.ProbeSettings], pmtu.PmtuResult],
    now: Callable[[], float],
) -> None:
    label = f"{target.name} ({target.address})" if target.name else target.address
    dimension = catalog.target_dimension(target.address)
    result = probe(target.address, pmtu.ProbeSettings(mode=target.mode, port=target.port))
    when = now()
    verdict = result.verdict
    if verdict.path_mtu is not None:
        points.append(_point(catalog.PATH_MTU, verdict.path_mtu, config.site, when, Target=dimension))
    if verdict.verdict is not PathVerdict.UNREACHABLE:
        points.append(
            _point(
                catalog.PATH_MTU_BLACK_HOLE,
                1 if verdict.is_problem else 0,
                config.site,
                when,
                Target=dimension,
            )
        )
    if verdict.is_problem:
        log.warning("%s: %s", label, verdict.explanation)


def _counter_part(
    config: AgentConfig, state: AgentState, points: list[Datapoint], source: counters.CounterSource,
    now: Callable[[], float],
) -> None:  # fmt: skip
    current = source.read(now())
    if current.unread:
        # Zero deltas from files that could not be read would be an all-clear from nothing.
        raise OSError(f"counters not read: {'; '.join(current.unread)}")
    if state.previous is not None:
        delta = counters.deltas(state.previous, current)["counters"]
        points.append(_point(catalog.FRAG_NEEDED, delta["frag_needed"], config.site, current.taken_at))
        points.append(_point(catalog.TCP_RETRANS, delta["tcp_retrans_segs"], config.site, current.taken_at))
    state.previous = current


def _host_drop_part(
    config: AgentConfig, points: list[Datapoint], source: counters.CounterSource, now: Callable[[], float]
) -> None:
    # The listing commands (tc, ss, iptables/nft) describe this host: a /proc-like tree from elsewhere
    # (a test's capture) is read without them, its readings then say "unknown" for those sources.
    elsewhere = source.proc is not None and source.proc != Path("/proc")
    commands: dict[str, None] = dict.fromkeys(("tc", "firewall", "listeners")) if elsewhere else {}
    points.extend(
        host_drop_metrics.host_drop_points(
            config.site,
            state_file=state_path(config).with_name(host_drop_metrics.HOST_STATE_FILE),
            now=now(),
            max_age_s=SNAPSHOT_MAX_INTERVALS * config.interval_s,
            proc=source.proc,
            host=config.host,
            **commands,
        )
    )


def _upload_part(
    config: AgentConfig, settings: UploadConfig, points: list[Datapoint], now: Callable[[], float]
) -> None:
    try:
        measured = upload.measure_upload(
            settings.bucket,
            size_bytes=upload.parse_size(settings.size),
            key_prefix=upload.site_prefix(config.site),
        )
        points.append(_point(catalog.UPLOAD_THROUGHPUT, round(measured.mbps, 3), config.site, now()))
    except errors.AwsError as error:
        # The upload failing outright is the outage at its worst: report zero throughput.
        log.warning("upload test failed: %s", error)
        points.append(_point(catalog.UPLOAD_THROUGHPUT, 0.0, config.site, now()))


def collect(
    config: AgentConfig,
    state: AgentState,
    *,
    probe: Callable[[str, pmtu.ProbeSettings], pmtu.PmtuResult] = pmtu.probe_path,
    now: Callable[[], float] = time.time,
    counter_source: counters.CounterSource | None = None,
    read_interfaces: Callable[[], dict[str, Any]] = interfaces.snapshot,
    failures: CycleErrors | None = None,
) -> list[Datapoint]:
    """One cycle of measurements as datapoints. Each part is guarded: one that fails is logged and counted
    (``AgentCycleErrors``, published with the cycle), the others still run.

    ``counter_source``: where the counters are read (default this host's /proc and counting rule);
    ``read_interfaces``: this host's interface snapshot (``interfaces.snapshot``).
    """
    points: list[Datapoint] = []
    failed = failures if failures is not None else CycleErrors()
    state.cycle += 1
    failed.guard("interfaces", lambda: _interface_part(config, state, points, read_interfaces, now))
    for target in config.targets:
        failed.guard(
            f"probe {target.address}", functools.partial(_probe_part, config, target, points, probe, now)
        )
    if config.counters:
        source = counter_source or counters.CounterSource()
        failed.guard("counters", lambda: _counter_part(config, state, points, source, now))
        # Drops beyond ICMP (accept queue, buffers, NIC, conntrack, rp_filter, ENA): probe/host_drop_metrics.
        failed.guard("host drop counters", lambda: _host_drop_part(config, points, source, now))
    settings = config.upload
    if settings is not None and (state.cycle - 1) % settings.every_cycles == 0:
        failed.guard("upload", lambda: _upload_part(config, settings, points, now))
    points.append(_point(catalog.AGENT_CYCLE_ERRORS, len(failed.failures), config.site, now()))
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
    config: AgentConfig,
    points: Sequence[Datapoint],
    *,
    cloudwatch: CloudWatchClient | None = None,
    failures: CycleErrors | None = None,
) -> FlushResult:
    """Spool ``points``, then send everything pending; whatever fails stays spooled for the next cycle.

    A spool that cannot be written (a full disk: ENOSPC, a read-only file system) is logged and counted;
    this cycle's points are then sent directly, without the spool's protection, rather than lost unsent.
    """
    failed = failures if failures is not None else CycleErrors()
    send = make_sender(config.namespace, cloudwatch=cloudwatch)
    try:
        spool = Spool(config.spool.path, max_bytes=config.spool.max_bytes)
        spool.append(points)
        result = spool.flush(send, batch_size=MAX_DATA_PER_CALL)
    except OSError as error:
        failed.failures.append(f"spool: {error}")
        log.exception("spool %s not writable: sending this cycle's points directly", config.spool.path)
        return _send_directly(points, send)
    if result.error:
        log.warning(
            "CloudWatch unreachable (%s); %d datapoints spooled at %s",
            result.error,
            result.pending,
            spool.path,
        )
    return result


def _send_directly(points: Sequence[Datapoint], send: Callable[[Sequence[Datapoint]], None]) -> FlushResult:
    sent = 0
    for start in range(0, len(points), MAX_DATA_PER_CALL):
        batch = points[start : start + MAX_DATA_PER_CALL]
        try:
            send(batch)
        except errors.AwsError as error:
            lost = len(points) - sent
            log.exception("CloudWatch unreachable too: %d datapoints of this cycle lost", lost)
            return FlushResult(sent, 0, lost, str(error))
        sent += len(batch)
    return FlushResult(sent, 0, 0, None)


def send_changes(state: AgentState, writer: ChangeLogWriter) -> int:
    """Write the queued change records; on failure they stay queued for the next cycle. Returns how many
    were written."""
    if not state.pending_changes:
        return 0
    try:
        records = [change_records.ChangeRecord.model_validate(r) for r in state.pending_changes]
    except ValidationError:
        log.exception("queued change records unreadable: dropped")
        state.pending_changes = []
        return 0
    try:
        writer.write(records)
    except errors.AwsError as error:
        log.warning("change records not written (%s); %d kept for the next cycle", error, len(records))
        return 0
    state.pending_changes = []
    return len(records)


def run(
    config: AgentConfig,
    *,
    cycles: int | None = None,
    interval_s: float | None = None,
    cloudwatch: CloudWatchClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    counter_source: counters.CounterSource | None = None,
    read_interfaces: Callable[[], dict[str, Any]] = interfaces.snapshot,
    changes: ChangeLogWriter | None = None,
) -> list[FlushResult]:
    """Collect and publish every interval; ``cycles`` bounds the loop (None: until stopped).

    The state (previous counter snapshot, interface snapshot, queued change records, cycle number) is read
    from and saved next to the spool, so a run of one cycle started by a timer continues where the
    previous run stopped.
    """
    interval = config.interval_s if interval_s is None else interval_s
    source = counter_source or counters.CounterSource()
    writer = changes or ChangeLogWriter(config.site, host_name(config))
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
        failures = CycleErrors()
        points = with_site_rollups(
            collect(config, state, counter_source=source, read_interfaces=read_interfaces, failures=failures)
        )
        send_changes(state, writer)
        # Saved before publishing: the points are measured, the next delta starts from here.
        failures.guard("state", state.save)
        results.append(publish(config, points, cloudwatch=cloudwatch, failures=failures))
        count += 1
        if cycles is not None and count >= cycles:
            break
        sleep(max(0.0, interval - (time.monotonic() - started)))
    return results


def summary(result: FlushResult) -> dict[str, Any]:
    return {"sent": result.sent, "pending": result.pending, "dropped": result.dropped, "error": result.error}
