"""Reads the host's iptables and nft rulesets and checks them for rules that drop frag-needed / PTB."""

from __future__ import annotations

import json
import shutil
import subprocess
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


def _run(*argv: str) -> str | None:
    tool = shutil.which(argv[0])
    if tool is None:
        return None
    completed = subprocess.run(  # noqa: S603 -- fixed argv of read-only listing commands
        [tool, *argv[1:]], capture_output=True, text=True, timeout=15, check=False
    )
    return completed.stdout if completed.returncode == 0 else None


def read_ruleset() -> tuple[Ruleset, tuple[str, ...], tuple[str, ...]]:
    """The host's filter chains from iptables-save, ip6tables-save and nft (read-only commands)."""
    chains = []
    sources = []
    notes = []
    skip: list[tuple[str, str]] = []
    for v6, command in ((False, "iptables-save"), (True, "ip6tables-save")):
        text = _run(command)
        if text is None:
            notes.append(f"{command} unavailable or refused (not root?)")
            continue
        parsed = parse_iptables_save(text, v6=v6)
        chains.extend(parsed)
        sources.append(command.removesuffix("-save"))
        # iptables-nft keeps its tables in nftables too: read them once, as iptables wrote them.
        skip.extend(("ip6" if v6 else "ip", table) for table in {c.table for c in parsed})
    document = _run("nft", "-j", "list", "ruleset")
    if document is None:
        notes.append("nft unavailable or refused (not root?)")
    else:
        texts = nft_rule_texts(_run("nft", "-a", "list", "ruleset") or "")
        try:
            chains.extend(parse_nft_json(json.loads(document or "{}"), texts=texts, skip_tables=skip))
            sources.append("nft")
        except json.JSONDecodeError:
            notes.append("nft printed no JSON")
    return Ruleset(tuple(chains)), tuple(sources), tuple(notes)


def check_firewall() -> FirewallCheck:
    """HOST_FIREWALL_BLOCKS_ICMP findings for this host's rulesets."""
    ruleset, sources, notes = read_ruleset()
    return FirewallCheck(tuple(findings(find_blockers(ruleset))), sources, notes)
