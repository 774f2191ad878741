"""Reads the host's iptables and nft rulesets and checks them for rules that drop frag-needed / PTB.

No all-clear from nothing: a ruleset the host has a tool for but that could not be read (no privilege: the
netlink dump needs CAP_NET_ADMIN; a hung command) makes the answer "unknown" with the reason, unless a
blocking rule was found in what could be read.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from dropsleuth.model import Finding
from dropsleuth.rules.host_firewall import (
    Ruleset,
    find_blockers,
    findings,
    nft_rule_texts,
    parse_iptables_save,
    parse_nft_json,
)


@dataclass(frozen=True)
class FirewallCheck:
    findings: tuple[Finding, ...]
    sources: tuple[str, ...]
    """Which rulesets were read (``iptables``, ``ip6tables``, ``nft``)."""
    notes: tuple[str, ...]
    unread: tuple[str, ...] = ()
    """Why a ruleset this host has could not be read (each makes a clean answer "unknown")."""

    @property
    def status(self) -> str:
        """``blocked`` (a rule drops it), ``unknown`` (not everything could be read) or ``clear``."""
        if self.findings:
            return "blocked"
        if self.unread or not self.sources:
            return "unknown"
        return "clear"


class UnreadableError(Exception):
    """A listing command exists but did not answer: why, in one line."""


COMMAND_TIMEOUT_S = 15.0


def _run(*argv: str) -> str | None:
    """The command's output; None when the tool is not installed; UnreadableError when it refused or hung."""
    tool = shutil.which(argv[0])
    if tool is None:
        return None
    try:
        completed = subprocess.run(  # noqa: S603 -- fixed argv of read-only listing commands
            [tool, *argv[1:]], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise UnreadableError(f"{argv[0]} did not answer within {COMMAND_TIMEOUT_S:g} s") from error
    if completed.returncode != 0:
        reason = (completed.stderr.strip().splitlines() or [f"exit status {completed.returncode}"])[-1]
        raise UnreadableError(f"{' '.join(argv)} refused: {reason}")
    return completed.stdout


# The iptables tables whose rules may drop (nat may not: iptables refuses DROP there).
DROPPING_TABLES = ("filter", "raw", "mangle", "security")

RulesetReading = tuple[Ruleset, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


Runner = Callable[..., str | None]
"""Runs a listing command (argv words): its output, None when the tool is missing, ``UnreadableError``
when it refused (``_run`` on this host; a fixture in tests)."""


def read_ruleset(run: Runner | None = None) -> RulesetReading:
    """The host's chains from iptables-save, ip6tables-save (``-c``: with each rule's and policy's
    counters) and nft (read-only commands): the ruleset, which sources were read, notes, and why a source
    the host has could not be read. Both list through netlink, which needs CAP_NET_ADMIN."""
    run = run or _run
    chains = []
    sources = []
    notes = []
    unread = []
    skip: list[tuple[str, str]] = []
    for v6, command in ((False, "iptables-save"), (True, "ip6tables-save")):
        try:
            text = run(command, "-c")
        except UnreadableError as error:
            unread.append(str(error))
            continue
        if text is None:
            notes.append(f"{command} is not installed")
            continue
        parsed = parse_iptables_save(text, v6=v6, tables=DROPPING_TABLES)
        chains.extend(parsed)
        sources.append(command.removesuffix("-save"))
        # iptables-nft keeps its tables in nftables too: read them once, as iptables wrote them.
        skip.extend(("ip6" if v6 else "ip", table) for table in {c.table for c in parsed})
    try:
        document = run("nft", "-j", "list", "ruleset")
        texts = nft_rule_texts(run("nft", "-a", "list", "ruleset") or "") if document is not None else {}
    except UnreadableError as error:
        unread.append(str(error))
        document = None
    else:
        if document is None:
            notes.append("nft is not installed")
    if document is not None:
        try:
            chains.extend(parse_nft_json(json.loads(document or "{}"), texts=texts, skip_tables=skip))
            sources.append("nft")
        except json.JSONDecodeError:
            unread.append("nft -j list ruleset printed no JSON")
    if not sources and not unread:
        unread.append("neither iptables-save nor nft is installed: the rules cannot be read")
    return Ruleset(tuple(chains)), tuple(sources), tuple(notes), tuple(unread)


def check_firewall() -> FirewallCheck:
    """HOST_FIREWALL_BLOCKS_ICMP findings for this host's rulesets, and what could not be read."""
    ruleset, sources, notes, unread = read_ruleset()
    return FirewallCheck(tuple(findings(find_blockers(ruleset))), sources, notes, unread)
