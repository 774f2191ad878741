"""A durable spool of metric datapoints: nothing lost while CloudWatch is unreachable, nothing sent twice.

Every datapoint is appended (and fsynced) to a JSON-lines file with its own id and original timestamp
*before* any attempt to send it. A flush sends the pending points in batches; after each accepted batch an
``{"ack": [...]}`` line is appended, and the file is compacted to the still-pending points at the end. A
crash can therefore only repeat the one batch whose acknowledgement it did not write (a window of one
fsync), never lose a point.

The file has a size bound: when a new point would exceed it, the oldest points are dropped and a warning
says how many and from when (an outage long enough for that loses its oldest data, visibly). Points older
than CloudWatch accepts (two weeks: PutMetricData's documented limit on ``Timestamp``) are dropped with a
warning too, because the API would reject the whole batch.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger("dropsleuth.agent.spool")

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# Amazon CloudWatch API Reference, PutMetricData: "Data points with time stamps from 24 hours ago or longer
# can take at least 48 hours to become available"; timestamps must be within two weeks before now.
MAX_AGE_S = 14 * 24 * 3600 - 3600


@dataclass(frozen=True)
class Datapoint:
    name: str
    value: float
    unit: str
    timestamp: float
    """Seconds since the epoch, UTC: when it was measured (kept as is through the spool)."""
    dimensions: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class FlushResult:
    sent: int
    pending: int
    dropped: int
    error: str | None = None


class Spool:
    """The spool file at ``path``, bounded to ``max_bytes``."""

    def __init__(self, path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (a timer run and a service run must not interleave)."""
        with self.lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _append_lines(self, lines: Sequence[str]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
            handle.flush()
            os.fsync(handle.fileno())

    def _load(self) -> list[Datapoint]:
        """Pending points in the order they were spooled (acknowledged ones removed)."""
        if not self.path.exists():
            return []
        points: dict[str, Datapoint] = {}
        acked: set[str] = set()
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                # A torn last line after a crash mid-append: the point was never reported as spooled.
                log.warning("spool %s: skipping an unreadable line", self.path)
                continue
            if "ack" in record:
                acked.update(record["ack"])
            else:
                point = Datapoint(**record)
                points[point.id] = point
        return [p for pid, p in points.items() if pid not in acked]

    def _rewrite(self, points: Sequence[Datapoint]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(asdict(p), separators=(",", ":")) + "\n" for p in points))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.path)

    def pending(self) -> list[Datapoint]:
        with self._locked():
            return self._load()

    def append(self, points: Sequence[Datapoint]) -> int:
        """Spool ``points`` durably; returns how many old points the size bound pushed out (0 normally)."""
        if not points:
            return 0
        with self._locked():
            lines = [json.dumps(asdict(p), separators=(",", ":")) for p in points]
            size = self.path.stat().st_size if self.path.exists() else 0
            if size + sum(len(line) + 1 for line in lines) <= self.max_bytes:
                self._append_lines(lines)
                return 0
            kept = [*self._load(), *points]
            dropped = 0
            budget = self.max_bytes
            encoded = [len(json.dumps(asdict(p), separators=(",", ":"))) + 1 for p in kept]
            while kept and sum(encoded) > budget:
                kept.pop(0)
                encoded.pop(0)
                dropped += 1
            if dropped:
                log.warning(
                    "spool full (%d bytes at %s): dropped the %d oldest datapoints; CloudWatch has been "
                    "unreachable for long, raise spool.max_bytes or fix connectivity",
                    self.max_bytes,
                    self.path,
                    dropped,
                )
            self._rewrite(kept)
            return dropped

    def flush(
        self,
        send: Callable[[Sequence[Datapoint]], None],
        *,
        batch_size: int,
        now: float | None = None,
    ) -> FlushResult:
        """Send pending points oldest first in batches through ``send``; stops at the first failure.

        ``send`` raises on failure (the batch stays pending). Points too old for CloudWatch are dropped
        with a warning.
        """
        with self._locked():
            points = self._load()
            current = time.time() if now is None else now
            fresh = [p for p in points if current - p.timestamp <= MAX_AGE_S]
            dropped = len(points) - len(fresh)
            if dropped:
                log.warning("spool: dropped %d datapoints older than CloudWatch accepts (two weeks)", dropped)
            sent = 0
            error: str | None = None
            for start in range(0, len(fresh), batch_size):
                batch = fresh[start : start + batch_size]
                try:
                    send(batch)
                except Exception as failure:  # noqa: BLE001 -- any failure keeps the batch spooled; reported
                    error = f"{type(failure).__name__}: {failure}"
                    break
                self._append_lines([json.dumps({"ack": [p.id for p in batch]})])
                sent += len(batch)
            remaining = fresh[sent:]
            self._rewrite(remaining)
            return FlushResult(sent, len(remaining), dropped, error)
