"""Queueing disciplines that drop: how one is named in metrics and what to run for it (pure: no I/O).

The agent names each interface's root (or ingress) qdisc that dropped in an interval by a reference,
``eth0 root tbf 8007: rate 200Kbit burst 1600b lat 56ms`` (the interface, where it is attached, its kind,
its handle and its parameters as ``tc -s qdisc show`` prints them), published as the ``Qdisc`` dimension
of ``QdiscDropsByQdisc``. The investigation reads the reference back to name the qdisc in the evidence and
to give the command that changes the parameter which drops. Parameters per kind: tc-tbf(8), tc-htb(8),
tc-pfifo(8), tc-fq_codel(8); pfifo_fast's queue is the interface's txqueuelen (tc-pfifo_fast(8)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

QDISC_DIMENSION_MAX = 255
_REFERENCE = re.compile(
    r"^(?P<interface>\S+) (?P<attachment>root|ingress) (?P<kind>\S+) (?P<handle>\S*:)(?: (?P<params>.*))?$"
)
_TBF_KEEP = re.compile(r"\b(burst \S+|lat \S+|limit \S+)")


@dataclass(frozen=True)
class QdiscReference:
    """A root or ingress qdisc as the agent names it."""

    interface: str
    attachment: str
    """``root`` (egress) or ``ingress``."""
    kind: str
    handle: str
    params: str = ""

    @property
    def reference(self) -> str:
        """The ``Qdisc`` dimension value: printable ASCII, at most ``QDISC_DIMENSION_MAX`` characters."""
        text = f"{self.interface} {self.attachment} {self.kind} {self.handle} {self.params}".strip()
        return "".join(c if " " <= c <= "~" else "?" for c in text)[:QDISC_DIMENSION_MAX]


def parse_qdisc_reference(reference: str) -> QdiscReference | None:
    found = _REFERENCE.match(reference)
    if found is None:
        return None
    return QdiscReference(
        found["interface"], found["attachment"], found["kind"], found["handle"], found["params"] or ""
    )


def qdisc_commands(qdisc: QdiscReference) -> tuple[str, ...]:
    """Show the qdisc with its statistics, then change the parameter that makes it drop (``<…>``: the
    operator's value: the link's real rate, a longer queue)."""
    dev = qdisc.interface
    show = f"tc -s qdisc show dev {dev}"
    if qdisc.attachment == "ingress":
        # Ingress drops are a filter's action (police … drop): the filter holds the rate.
        return (show, f"tc -s filter show dev {dev} ingress")
    if qdisc.kind == "tbf":
        kept = " ".join(_TBF_KEEP.findall(qdisc.params)).replace("lat ", "latency ")
        return (show, f"tc qdisc change dev {dev} root tbf rate <RATE> {kept}".rstrip())
    if qdisc.kind == "htb":
        return (
            show,
            f"tc -s class show dev {dev}",
            f"tc class change dev {dev} classid <CLASSID> htb rate <RATE> ceil <CEIL>",
        )
    if qdisc.kind in ("pfifo", "bfifo", "fq_codel", "fq", "codel", "sfq", "cake"):
        return (show, f"tc qdisc change dev {dev} root {qdisc.kind} limit <LIMIT>")
    if qdisc.kind == "pfifo_fast":
        return (show, f"ip link set dev {dev} txqueuelen <LENGTH>")
    # mq, mqprio and others sum their children: the child that drops is in the listing.
    return (show,)
