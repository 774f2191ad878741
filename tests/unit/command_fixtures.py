"""Captured command output as the host-counter readers take it (tests/fixtures/{firewall_counters,qdisc,
listeners}: see tests/fixtures/host_counters/README.md for how each was captured)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dropsleuth.probe.firewall import RulesetReading, UnreadableError, read_ruleset

FIXTURES = Path(__file__).parents[1] / "fixtures"
FIREWALL = FIXTURES / "firewall_counters"
_FIREWALL_FILES = {
    ("iptables-save", "-c"): "iptables-save-c.txt",
    ("ip6tables-save", "-c"): "ip6tables-save-c.txt",
    ("nft", "-j", "list", "ruleset"): "nft-j-list-ruleset.json",
    ("nft", "-a", "list", "ruleset"): "nft-a-list-ruleset.txt",
}


def captured_firewall(
    directory: Path = FIREWALL, *, edit: Callable[[str], str] = lambda text: text
) -> Callable[[], RulesetReading]:
    """``read_ruleset`` over the captured listings (``edit`` rewrites each file's text first)."""

    def run(*argv: str) -> str | None:
        return edit((directory / _FIREWALL_FILES[argv]).read_text())

    return lambda: read_ruleset(run)


def refused_firewall() -> RulesetReading:
    """What an agent without CAP_NET_ADMIN gets: every listing refused (messages as the tools print them)."""

    def run(*argv: str) -> str | None:
        if argv[0] == "nft":
            raise UnreadableError("nft -j list ruleset refused: Operation not permitted (you must be root)")
        raise UnreadableError(
            f"{argv[0]} -c refused: {argv[0]} v1.8.9 (nf_tables): Could not fetch rule set generation id: "
            "Permission denied (you must be root)"
        )

    return read_ruleset(run)


def captured(path: str) -> Callable[[], str | None]:
    """A listing command (``tc -s qdisc show``, ``ss -ltnH``) answered from a captured file."""
    return (FIXTURES / path).read_text


HOST_TC = captured("qdisc/tc-s-qdisc-host.txt")
HOST_SS = captured("listeners/ss-ltnH.txt")
