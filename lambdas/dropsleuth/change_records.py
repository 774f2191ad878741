"""Site change records: what changed on a site host, from what to what, when, on which host.

One format (``dropsleuth.site-change/1``, documented in docs/site-agent.md), written by the site agent when
it observes an interface's MTU, link, addresses or the default route change between two cycles, and by
``dropsleuth netplan apply`` when it applies or reverts a change; read by the investigation's
``recent_changes`` step. Pure: no I/O. The store (a CloudWatch Logs group per site, one stream per host)
is ``metrics_catalog.change_log_group``; the writer is ``probe/changelog.py``, the reader
``aws/site_changes.py``.

A record is accepted because it parses as this schema and names the site being investigated, never
because of where it says it came from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SCHEMA = "dropsleuth.site-change/1"

ChangeKind = Literal[
    "interface_mtu",
    "interface_link",
    "interface_addresses",
    "interface_added",
    "interface_removed",
    "default_route",
    "netplan_apply",
    "netplan_revert",
]


class ChangeRecordError(ValueError):
    """A message in the change store that is not a valid change record (it is skipped and counted)."""


class ChangeRecord(BaseModel):
    """One change on one site host."""

    schema_: Literal["dropsleuth.site-change/1"] = Field("dropsleuth.site-change/1", alias="schema")
    site: str = Field(min_length=1)
    host: str = Field(min_length=1)
    at: datetime
    """When the change was seen (UTC): the cycle that observed it, or when the guard applied it."""
    since: datetime | None = None
    """For an observed change: the previous observation (the change happened in (since, at])."""
    kind: ChangeKind
    interface: str | None = None
    before: Any = None
    after: Any = None
    actor: str = Field(min_length=1)
    """Who made or saw it: ``dropsleuth agent (observed)`` or ``dropsleuth netplan apply by <user>``."""
    ticket: str | None = None
    summary: str = Field(min_length=1)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("at", "since")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a time zone (UTC)")
        return value.astimezone(UTC) if value is not None else None

    def to_json(self) -> str:
        """The record as one JSON line (the log event's message)."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), separators=(",", ":"), sort_keys=True)


def parse_record(message: str) -> ChangeRecord:
    """A log event's message as a change record; ChangeRecordError says why it is not one."""
    try:
        document = json.loads(message)
    except ValueError as error:
        raise ChangeRecordError(f"not JSON: {error}") from error
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise ChangeRecordError(f"not a {SCHEMA} record")
    try:
        return ChangeRecord.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        raise ChangeRecordError(f"{where}: {first['msg']}") from error


# --- what the agent observes --------------------------------------------------------------------------


def _describe(kind: str, interface: str | None, before: Any, after: Any) -> str:
    if kind == "interface_mtu":
        return f"interface {interface} MTU changed from {before} to {after}"
    if kind == "interface_link":
        return f"interface {interface} link went {'up' if after else 'down'}"
    if kind == "interface_addresses":
        return f"interface {interface} addresses changed from {before or 'none'} to {after or 'none'}"
    if kind == "interface_added":
        return f"interface {interface} appeared (MTU {after.get('mtu') if isinstance(after, dict) else '?'})"
    if kind == "interface_removed":
        return f"interface {interface} vanished"
    if kind == "default_route":
        return f"default route moved from {', '.join(before) or 'none'} to {', '.join(after) or 'none'}"
    return f"{kind} on {interface or 'the host'}"


def observed_changes(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    site: str,
    host: str,
    at: datetime,
    since: datetime | None,
    actor: str = "dropsleuth agent (observed)",
) -> list[ChangeRecord]:
    """The change records between two interface snapshots ``{"interfaces": {name: {mtu, up, addresses}},
    "default_route": [names]}`` (``probe/interfaces.snapshot``), in a stable order."""
    records: list[ChangeRecord] = []

    def add(kind: ChangeKind, interface: str | None, old: Any, new: Any) -> None:
        records.append(
            ChangeRecord(
                site=site,
                host=host,
                at=at,
                since=since,
                kind=kind,
                interface=interface,
                before=old,
                after=new,
                actor=actor,
                summary=f"{host}: {_describe(kind, interface, old, new)}",
            )
        )

    old_ifaces: Mapping[str, Mapping[str, Any]] = before.get("interfaces") or {}
    new_ifaces: Mapping[str, Mapping[str, Any]] = after.get("interfaces") or {}
    for name in sorted(set(old_ifaces) | set(new_ifaces)):
        old, new = old_ifaces.get(name), new_ifaces.get(name)
        if old is None and new is not None:
            add("interface_added", name, None, dict(new))
            continue
        if new is None and old is not None:
            add("interface_removed", name, dict(old), None)
            continue
        if old is None or new is None:
            continue
        if old.get("mtu") != new.get("mtu"):
            add("interface_mtu", name, old.get("mtu"), new.get("mtu"))
        if bool(old.get("up")) != bool(new.get("up")):
            add("interface_link", name, bool(old.get("up")), bool(new.get("up")))
        old_addresses = sorted(old.get("addresses") or ())
        new_addresses = sorted(new.get("addresses") or ())
        if old_addresses != new_addresses:
            add("interface_addresses", name, old_addresses, new_addresses)
    old_default: Sequence[str] = sorted(before.get("default_route") or ())
    new_default: Sequence[str] = sorted(after.get("default_route") or ())
    if list(old_default) != list(new_default):
        add("default_route", None, list(old_default), list(new_default))
    return records
