"""Does the host's own firewall drop ICMP frag-needed / Packet Too Big before anything accepts it?

Pure functions over the text of ``iptables-save`` / ``ip6tables-save`` and the JSON of
``nft -j list ruleset`` (no commands run here: ``dropsleuth.probe.firewall`` collects them). Each base chain
on the input, output and forward hooks is walked in order, following jumps, as the kernel would for an
ICMP type 3 code 4 (IPv4) or ICMPv6 type 2 (IPv6) message, which conntrack classes as RELATED to the flow
it reports on. The first rule that surely matches decides; a drop whose other conditions (an address, an
interface) may or may not match is reported too, with lower confidence.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from dropsleuth.model import Evidence, Finding, FindingCode, Remediation
from dropsleuth.rules.severity import CONFIGURATION_RISK

Family = Literal["ipv4", "ipv6", "any"]
Match = Literal["always", "maybe", "never"]
HOOKS = {"INPUT": "input", "OUTPUT": "output", "FORWARD": "forward"}
_IPTABLES_NFT_TABLES = {"filter", "raw", "mangle", "nat", "security"}

# ICMP type names as iptables and nft spell them → (type, code or None for every code).
_ICMP4_NAMES: dict[str, tuple[int, int | None]] = {
    "any": (-1, None),
    "destination-unreachable": (3, None),
    "fragmentation-needed": (3, 4),
    "frag-needed": (3, 4),
}
_ICMP6_NAMES: dict[str, tuple[int, int | None]] = {
    "any": (-1, None),
    "packet-too-big": (2, None),
    "destination-unreachable": (1, None),
}


@dataclass(frozen=True)
class FirewallRule:
    """One rule, reduced to what decides whether it matches a frag-needed / Packet Too Big message."""

    text: str
    family: Family = "any"
    protocol: str | None = None
    """``icmp``, ``ipv6-icmp``, another protocol, or None for every protocol."""
    icmp_types: tuple[tuple[int, int | None], ...] | None = None
    """The (type, code) pairs matched, None when the rule does not look at the ICMP type."""
    ct_states: frozenset[str] | None = None
    other_conditions: bool = False
    verdict: str | None = None
    """accept, drop, reject, jump, goto, return, or None (a rule that only counts or logs)."""
    target: str | None = None
    packets: int | None = None
    """Packets the rule matched (``iptables-save -c``, an nft ``counter``); None when it has no counter."""
    handle: int | None = None
    """nft's rule handle (``nft -a``); None for iptables, whose rules are known by position only."""
    position: int = 0
    """1-based position in its chain (``iptables -L --line-numbers`` numbers rules the same way)."""


@dataclass(frozen=True)
class FirewallChain:
    source: str
    """``iptables``, ``ip6tables`` or ``nft``."""
    table: str
    name: str
    family: Family
    hook: str | None = None
    policy: str | None = None
    rules: tuple[FirewallRule, ...] = ()
    policy_packets: int | None = None
    """Packets the chain's policy decided (``iptables-save -c``'s ``[pkts:bytes]``); nft keeps no count."""


@dataclass(frozen=True)
class Blocker:
    """A rule (or a chain policy) that drops the message before anything accepts it."""

    chain: FirewallChain
    rule: FirewallRule | None
    family: Literal["ipv4", "ipv6"]
    certain: bool
    scope: str
    """What the rule drops: "frag-needed", "ICMP destination-unreachable", "all ICMP", "all traffic" …"""


@dataclass(frozen=True)
class Ruleset:
    chains: tuple[FirewallChain, ...] = field(default_factory=tuple)

    def chain(self, source: str, table: str, name: str) -> FirewallChain | None:
        for chain in self.chains:
            if chain.source == source and chain.table == table and chain.name == name:
                return chain
        return None


# ---------------------------------------------------------------------------------------------------------
# iptables-save


def _icmp_type(value: str, v6: bool) -> tuple[int, int | None] | None:
    names = _ICMP6_NAMES if v6 else _ICMP4_NAMES
    if value in names:
        return names[value]
    kind, _, code = value.partition("/")
    if kind.isdigit():
        return int(kind), (int(code) if code.isdigit() else None)
    return None


_COUNTS = re.compile(r"^\[(\d+):(\d+)\]$")


def _packets(token: str) -> int | None:
    """The packet count of an ``iptables-save -c`` ``[pkts:bytes]`` token, None for anything else."""
    found = _COUNTS.match(token)
    return int(found.group(1)) if found else None


def parse_iptables_save(
    text: str, *, v6: bool = False, tables: Collection[str] = ("filter",)
) -> list[FirewallChain]:
    """The chains of ``tables`` (default the filter table) from ``iptables-save`` (``ip6tables-save`` with
    ``v6``). With ``-c`` each rule line starts with its ``[pkts:bytes]`` and each chain line ends with its
    policy's: both are kept (``FirewallRule.packets``, ``FirewallChain.policy_packets``)."""
    source = "ip6tables" if v6 else "iptables"
    family: Family = "ipv6" if v6 else "ipv4"
    table = ""
    policies: dict[tuple[str, str], tuple[str | None, int | None]] = {}
    rules: dict[tuple[str, str], list[FirewallRule]] = {}
    order: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        packets: int | None = None
        if line.startswith("[") and "] " in line:
            counts, _, line = line.partition(" ")
            packets = _packets(counts)
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":") and table:
            name, policy, counts = [*line[1:].split(), "-", "-"][:3]
            policies[(table, name)] = (None if policy == "-" else policy.lower(), _packets(counts))
            rules.setdefault((table, name), [])
            order.append((table, name))
        elif line.startswith("-A ") and table:
            tokens = shlex.split(line)
            chain_name = tokens[1]
            if (table, chain_name) not in rules:
                rules[(table, chain_name)] = []
                order.append((table, chain_name))
            chain_rules = rules[(table, chain_name)]
            rule = _parse_iptables_rule(line, tokens[2:], v6=v6, family=family)
            chain_rules.append(replace(rule, packets=packets, position=len(chain_rules) + 1))
    return [
        FirewallChain(
            source,
            t,
            name,
            family,
            hook=HOOKS.get(name) if t == "filter" else None,
            policy=policies.get((t, name), (None, None))[0],
            rules=tuple(rules[(t, name)]),
            policy_packets=policies.get((t, name), (None, None))[1],
        )
        for t, name in order
        if t in tables
    ]


def _parse_iptables_rule(  # noqa: PLR0915 -- one pass over the options reads best as one loop
    text: str, tokens: Sequence[str], *, v6: bool, family: Family
) -> FirewallRule:
    protocol: str | None = None
    icmp_types: tuple[tuple[int, int | None], ...] | None = None
    ct_states: frozenset[str] | None = None
    other = False
    verdict: str | None = None
    target: str | None = None
    index = 0
    negate = False
    while index < len(tokens):
        word = tokens[index]
        value = tokens[index + 1] if index + 1 < len(tokens) else ""
        if word == "!":
            negate = True
            index += 1
            continue
        if negate:
            other = True  # a negated match: we do not reason about complements
            negate = False
            index += 2
            continue
        if word in ("-p", "--protocol"):
            protocol = {"1": "icmp", "58": "ipv6-icmp", "icmpv6": "ipv6-icmp", "all": None}.get(value, value)
            index += 2
        elif word in ("--icmp-type", "--icmpv6-type"):
            parsed = _icmp_type(value, v6)
            if parsed is None:
                icmp_types = ((-2, None),)  # a type we do not know: not frag-needed
            elif parsed[0] != -1:
                icmp_types = (parsed,)
            index += 2
        elif word in ("--state", "--ctstate"):
            ct_states = frozenset(s.lower() for s in value.split(","))
            index += 2
        elif word in ("-m", "--match", "--comment", "-c"):
            index += 2 if word != "-c" else 3
        elif word in ("-j", "--jump", "-g", "--goto"):
            name = value.upper()
            if name in ("ACCEPT", "DROP", "REJECT", "RETURN"):
                verdict = name.lower()
            elif name in ("LOG", "NFLOG", "MARK", "CONNMARK", "NOTRACK", "CT"):
                verdict = None
            else:
                verdict = "goto" if word in ("-g", "--goto") else "jump"
                target = value
            index += 2
            # Target options (--reject-with, --log-prefix …) follow and do not change the match.
            while index < len(tokens) and tokens[index].startswith("--"):
                index += 2
        elif word in ("-s", "-d", "--source", "--destination"):
            if value not in ("0.0.0.0/0", "::/0"):
                other = True
            index += 2
        elif word.startswith("-"):
            other = True
            index += 2 if index + 1 < len(tokens) and not tokens[index + 1].startswith("-") else 1
        else:
            index += 1
    return FirewallRule(text, family, protocol, icmp_types, ct_states, other, verdict, target)


# ---------------------------------------------------------------------------------------------------------
# nft -j list ruleset


def parse_nft_json(
    document: Mapping[str, Any],
    *,
    texts: Mapping[tuple[str, str, str, int], str] | None = None,
    skip_tables: Iterable[tuple[str, str]] = (),
) -> list[FirewallChain]:
    """Chains from ``nft -j list ruleset``; ``texts`` maps (family, table, chain, handle) to the rule as
    ``nft -a list ruleset`` prints it; ``skip_tables`` are (family, table) pairs already read elsewhere."""
    skip = set(skip_tables)
    texts = texts or {}
    chains: dict[tuple[str, str, str], dict[str, Any]] = {}
    rules: dict[tuple[str, str, str], list[FirewallRule]] = {}
    for item in document.get("nftables", []):
        if "chain" in item:
            c = item["chain"]
            key = (c["family"], c["table"], c["name"])
            chains[key] = c
            rules.setdefault(key, [])
        elif "rule" in item:
            r = item["rule"]
            key = (r["family"], r["table"], r["chain"])
            text = texts.get((r["family"], r["table"], r["chain"], int(r.get("handle", -1))), "")
            chain_rules = rules.setdefault(key, [])
            chain_rules.append(replace(_parse_nft_rule(r, text), position=len(chain_rules) + 1))
    result = []
    for key, c in chains.items():
        family_name, table, name = key
        if family_name not in ("ip", "ip6", "inet") or (family_name, table) in skip:
            continue
        family: Family = {"ip": "ipv4", "ip6": "ipv6"}.get(family_name, "any")  # type: ignore[assignment]
        hook = c.get("hook") if c.get("type", "filter") == "filter" else None
        result.append(
            FirewallChain(
                "nft",
                f"{family_name} {table}",
                name,
                family,
                hook=hook if hook in ("input", "output", "forward") else None,
                policy=c.get("policy"),
                rules=tuple(rules.get(key, [])),
            )
        )
    return result


def _values(right: Any) -> list[Any]:
    if isinstance(right, dict) and "set" in right:
        return list(right["set"])
    if isinstance(right, list):
        return right
    return [right]


_NFT_ICMP4_TYPES = {"destination-unreachable": 3, "echo-request": 8, "echo-reply": 0, "time-exceeded": 11}
_NFT_ICMP6_TYPES = {
    "packet-too-big": 2,
    "destination-unreachable": 1,
    "echo-request": 128,
    "time-exceeded": 3,
}
_NFT_ICMP_CODES = {"frag-needed": 4, "port-unreachable": 3, "host-unreachable": 1, "net-unreachable": 0}


def _parse_nft_rule(  # noqa: PLR0915 -- one pass over the expressions reads best as one loop
    rule: Mapping[str, Any], text: str
) -> FirewallRule:
    family: Family = {"ip": "ipv4", "ip6": "ipv6"}.get(rule["family"], "any")  # type: ignore[assignment]
    protocol: str | None = None
    types: list[int] | None = None
    codes: list[int] | None = None
    ct_states: frozenset[str] | None = None
    other = False
    verdict: str | None = None
    target: str | None = None
    packets: int | None = None
    for expr in rule.get("expr", []):
        if isinstance(expr.get("counter"), dict):
            # An anonymous counter; a named one (``counter name X``: a string here) counts in its object.
            packets = int(expr["counter"].get("packets", 0))
        if "match" in expr:
            m = expr["match"]
            left, op, right = m.get("left"), m.get("op", "=="), m.get("right")
            if op not in ("==", "in"):
                other = True
                continue
            values = _values(right)
            if isinstance(left, dict) and "payload" in left:
                payload = left["payload"]
                proto, fld = payload.get("protocol"), payload.get("field")
                if proto in ("icmp", "icmpv6") and fld == "type":
                    protocol = "icmp" if proto == "icmp" else "ipv6-icmp"
                    names = _NFT_ICMP4_TYPES if proto == "icmp" else _NFT_ICMP6_TYPES
                    types = [names.get(v, -2) if isinstance(v, str) else int(v) for v in values]
                elif proto in ("icmp", "icmpv6") and fld == "code":
                    protocol = "icmp" if proto == "icmp" else "ipv6-icmp"
                    codes = [_NFT_ICMP_CODES.get(v, -2) if isinstance(v, str) else int(v) for v in values]
                elif (proto, fld) in (("ip", "protocol"), ("ip6", "nexthdr")):
                    protocol = _nft_protocol(values)
                else:
                    other = True
            elif isinstance(left, dict) and left.get("meta", {}).get("key") in ("l4proto", "nfproto"):
                if left["meta"]["key"] == "l4proto":
                    protocol = _nft_protocol(values)
                else:
                    family = "ipv4" if values == ["ipv4"] else "ipv6" if values == ["ipv6"] else family
            elif isinstance(left, dict) and left.get("ct", {}).get("key") == "state":
                ct_states = frozenset(str(v) for v in values)
            else:
                other = True
        elif "accept" in expr:
            verdict = "accept"
        elif "drop" in expr:
            verdict = "drop"
        elif "reject" in expr:
            verdict = "reject"
        elif "return" in expr:
            verdict = "return"
        elif "jump" in expr or "goto" in expr:
            verdict = "jump" if "jump" in expr else "goto"
            target = expr[verdict]["target"]
    icmp_types: tuple[tuple[int, int | None], ...] | None = None
    if types is not None or codes is not None:
        type_list = types if types is not None else [-1]
        code_list: list[int | None] = list(codes) if codes is not None else [None]
        icmp_types = tuple((t, c) for t in type_list for c in code_list)
        if types is None:
            icmp_types = tuple((3 if protocol == "icmp" else 1, c) for c in code_list)
    if protocol == "ipv6-icmp":
        family = "ipv6"
    elif protocol == "icmp" and family == "any":
        family = "ipv4"
    handle = rule.get("handle")
    return FirewallRule(
        text or _fallback_text(rule),
        family,
        protocol,
        icmp_types,
        ct_states,
        other,
        verdict,
        target,
        packets=packets,
        handle=int(handle) if isinstance(handle, int) else None,
    )


def _nft_protocol(values: list[Any]) -> str | None:
    """One protocol name, or several joined by commas (a set such as ``{ icmp, ipv6-icmp }``)."""
    aliases = {"1": "icmp", "58": "ipv6-icmp", "icmpv6": "ipv6-icmp"}
    return ",".join(sorted({aliases.get(str(v), str(v)) for v in values}))


def _fallback_text(rule: Mapping[str, Any]) -> str:
    return f"nft rule in {rule['family']} {rule['table']} {rule['chain']} (handle {rule.get('handle', '?')})"


def nft_rule_texts(listing: str) -> dict[tuple[str, str, str, int], str]:
    """(family, table, chain, handle) → the rule as ``nft -a list ruleset`` prints it."""
    texts: dict[tuple[str, str, str, int], str] = {}
    family = table = chain = ""
    for raw in listing.splitlines():
        line = raw.strip()
        words = line.split()
        if words[:1] == ["table"] and len(words) >= 3:
            family, table = words[1], words[2]
        elif words[:1] == ["chain"] and len(words) >= 2:
            chain = words[1]
        elif "# handle" in line and chain and not line.startswith(("type ", "chain ", "table ")):
            rule, _, handle = line.rpartition("# handle")
            if handle.strip().isdigit():
                texts[(family, table, chain, int(handle))] = rule.strip()
    return texts


# ---------------------------------------------------------------------------------------------------------
# Evaluation


def _match(rule: FirewallRule, family: Literal["ipv4", "ipv6"]) -> Match:
    """Whether ``rule`` matches a frag-needed (IPv4) / Packet Too Big (IPv6) message in state RELATED."""
    if rule.family not in ("any", family):
        return "never"
    wanted = "icmp" if family == "ipv4" else "ipv6-icmp"
    if rule.protocol is not None and wanted not in rule.protocol.split(","):
        return "never"
    if rule.icmp_types is not None:
        target_type = 3 if family == "ipv4" else 2
        hit = any(
            t == target_type and (c is None or (family == "ipv4" and c == 4)) for t, c in rule.icmp_types
        )
        if not hit:
            return "never"
    if rule.ct_states is not None and "related" not in rule.ct_states:
        return "never"
    return "maybe" if rule.other_conditions else "always"


def _scope(rule: FirewallRule) -> str:
    if rule.icmp_types is not None:
        if any(c == 4 for _, c in rule.icmp_types):
            return "ICMP frag-needed"
        return "ICMP destination-unreachable / Packet Too Big"
    if rule.protocol is not None:
        return "all ICMP"
    return "all traffic" + (" in state RELATED" if rule.ct_states else "")


def _walk(
    ruleset: Ruleset, chain: FirewallChain, family: Literal["ipv4", "ipv6"], depth: int = 0
) -> tuple[str | None, FirewallRule | None, list[FirewallRule]]:
    """(decisive verdict or None, the deciding rule, drops that may match before it)."""
    maybes: list[FirewallRule] = []
    if depth > 16:  # a loop of jumps: the kernel refuses those, but stay bounded anyway
        return None, None, maybes
    for rule in chain.rules:
        match = _match(rule, family)
        if match == "never" or rule.verdict is None:
            continue
        if rule.verdict in ("jump", "goto") and rule.target:
            source_table = chain.table
            sub = ruleset.chain(chain.source, source_table, rule.target)
            if sub is not None:
                verdict, decider, sub_maybes = _walk(ruleset, sub, family, depth + 1)
                maybes.extend(sub_maybes)
                if verdict is not None and match == "always":
                    return verdict, decider, maybes
            if rule.verdict == "goto" and match == "always":
                return None, None, maybes
            continue
        if rule.verdict == "return":
            if match == "always":
                return None, None, maybes
            continue
        if match == "maybe":
            if rule.verdict in ("drop", "reject"):
                maybes.append(rule)
            continue
        return rule.verdict, rule, maybes
    return None, None, maybes


def find_blockers(ruleset: Ruleset) -> list[Blocker]:
    """Every base chain that drops frag-needed / Packet Too Big, and the rule (or policy) that does."""
    blockers: list[Blocker] = []
    for chain in ruleset.chains:
        if chain.hook is None:
            continue
        families: tuple[Literal["ipv4", "ipv6"], ...] = (
            ("ipv4", "ipv6") if chain.family == "any" else (chain.family,)
        )
        for family in families:
            verdict, decider, maybes = _walk(ruleset, chain, family)
            blockers.extend(Blocker(chain, m, family, False, _scope(m)) for m in maybes)
            if verdict in ("drop", "reject") and decider is not None:
                blockers.append(Blocker(chain, decider, family, True, _scope(decider)))
            elif verdict is None and chain.policy in ("drop", "DROP"):
                blockers.append(Blocker(chain, None, family, True, "everything not accepted (chain policy)"))
    return blockers


def narrow_rule(chain: FirewallChain, family: Literal["ipv4", "ipv6"]) -> str:
    """The one rule to insert at the top of ``chain`` that lets exactly frag-needed / PTB through."""
    if chain.source == "nft":
        match = (
            "icmp type destination-unreachable icmp code frag-needed"
            if family == "ipv4"
            else "icmpv6 type packet-too-big"
        )
        return f"nft insert rule {chain.table} {chain.name} {match} accept"
    if family == "ipv4":
        return f"iptables -I {chain.name} 1 -p icmp --icmp-type fragmentation-needed -j ACCEPT"
    return f"ip6tables -I {chain.name} 1 -p ipv6-icmp --icmpv6-type packet-too-big -j ACCEPT"


def findings(blockers: Sequence[Blocker]) -> list[Finding]:
    """One HOST_FIREWALL_BLOCKS_ICMP finding per blocking rule, with the rule as written and the fix."""
    result = []
    for blocker in blockers:
        chain = blocker.chain
        message = (
            "frag-needed (ICMP type 3 code 4)" if blocker.family == "ipv4" else "Packet Too Big (ICMPv6 2)"
        )
        written = blocker.rule.text if blocker.rule else f"policy {chain.policy} of chain {chain.name}"
        direction = {
            "input": "arriving at this host (its own connections never learn the path MTU)",
            "output": "this host generates (hosts behind it, when it routes, never learn the path MTU)",
            "forward": "routed through this host (hosts on either side never learn the path MTU)",
        }.get(chain.hook or "", "")
        result.append(
            Finding(
                code=FindingCode.HOST_FIREWALL_BLOCKS_ICMP,
                # A ruleset is configuration: a risk until something shows drops (docs/severity.md).
                severity=CONFIGURATION_RISK,
                confidence=0.9 if blocker.certain else 0.5,
                title=f"{chain.source} {chain.table} {chain.name} drops {message}",
                detail=(
                    f"`{written}` drops {blocker.scope} {direction}. Path MTU discovery needs ICMP "
                    f"{message} to get through; dropping it makes a black hole."
                    + (
                        ""
                        if blocker.certain
                        else " The rule has other conditions: it may not match all of it."
                    )
                ),
                evidence=(
                    Evidence(
                        kind="firewall_rule",
                        summary=written,
                        data={
                            "source": chain.source,
                            "table": chain.table,
                            "chain": chain.name,
                            "hook": chain.hook,
                            "family": blocker.family,
                            "scope": blocker.scope,
                            "rule": written,
                        },
                    ),
                ),
                remediation=Remediation(
                    summary=f"Allow exactly {message} ahead of the drop; other ICMP can stay blocked.",
                    commands=(narrow_rule(chain, blocker.family),),
                ),
            )
        )
    return result


# ---------------------------------------------------------------------------------------------------------
# Drops counted per rule (any traffic, not only ICMP): which rules drop, and what they counted

_COUNTER_TEXT = re.compile(r"\bcounter packets \d+ bytes \d+")
RULE_DIMENSION_MAX = 255
"""A ``Rule`` dimension value is at most this long (CloudWatch allows 1,024; a console column is narrower)."""
_RULE_REFERENCE = re.compile(
    r"^(?P<source>nft) (?P<table>\S+ \S+) (?P<chain>\S+) handle (?P<handle>\d+): (?P<text>.*)$"
    r"|^(?P<xsource>ip6?tables) (?P<xtable>\S+) (?P<xchain>\S+) "
    r"(?:rule (?P<position>\d+)|policy): (?P<xtext>.*)$"
)


@dataclass(frozen=True)
class DropRule:
    """A rule that drops or rejects (or a chain whose policy drops), and the packets it counted."""

    source: str
    """``nft``, ``iptables`` or ``ip6tables``."""
    table: str
    """As the tool names it: ``filter`` for iptables, ``inet site_fw`` (family and table) for nft."""
    chain: str
    text: str
    """The rule as written, without its counter's numbers (they change every reading); a policy: ``DROP``."""
    packets: int | None
    """None: the rule has no counter (an nft rule without ``counter``, an nft chain's policy)."""
    handle: int | None = None
    position: int | None = None
    """None for a chain's policy."""

    @property
    def is_policy(self) -> bool:
        return self.position is None

    @property
    def reference(self) -> str:
        """How the rule is named in metrics and reports: ``nft inet site_fw input handle 3: tcp dport …``,
        ``iptables filter INPUT rule 1: -A INPUT …``, ``iptables filter INPUT policy: DROP``.

        Stable while the rule stays as it is: nft handles are never reused within a table, an iptables
        rule is known by position and text (a rule inserted above renames it, as it should: it is another
        rule at that position). Printable ASCII only (anything else becomes ``?``) and at most
        ``RULE_DIMENSION_MAX`` characters: a CloudWatch dimension value is ASCII without control characters,
        1 to 1,024 of them (CloudWatch API Reference, "Dimension").
        """
        if self.source == "nft" and self.handle is not None:
            where = f"nft {self.table} {self.chain} handle {self.handle}"
        elif self.position is not None:
            where = f"{self.source} {self.table} {self.chain} rule {self.position}"
        else:
            where = f"{self.source} {self.table} {self.chain} policy"
        text = "".join(c if " " <= c <= "~" else "?" for c in self.text)
        return f"{where}: {text}"[:RULE_DIMENSION_MAX]


def drop_rules(ruleset: Ruleset) -> list[DropRule]:
    """Every rule whose verdict is drop or reject, and every chain whose policy is drop, in ruleset order."""
    found: list[DropRule] = []
    for chain in ruleset.chains:
        found.extend(
            DropRule(
                chain.source,
                chain.table,
                chain.name,
                " ".join(_COUNTER_TEXT.sub("counter", rule.text).split()),
                rule.packets,
                handle=rule.handle,
                position=rule.position,
            )
            for rule in chain.rules
            if rule.verdict in ("drop", "reject")
        )
        if (chain.policy or "").lower() == "drop":
            found.append(DropRule(chain.source, chain.table, chain.name, "DROP", chain.policy_packets))
    return found


@dataclass(frozen=True)
class RuleReference:
    """A ``DropRule.reference`` read back: where the rule is, so a fix can name it."""

    source: str
    table: str
    chain: str
    text: str
    handle: int | None = None
    position: int | None = None


def parse_rule_reference(reference: str) -> RuleReference | None:
    """The parts of a ``DropRule.reference`` (None for anything else)."""
    found = _RULE_REFERENCE.match(reference)
    if found is None:
        return None
    if found.group("source"):
        return RuleReference(
            "nft", found["table"], found["chain"], found["text"], handle=int(found["handle"])
        )
    position = found["position"]
    return RuleReference(
        found["xsource"],
        found["xtable"],
        found["xchain"],
        found["xtext"],
        position=int(position) if position else None,
    )


def accept_before_commands(rule: RuleReference) -> tuple[str, ...]:
    """The commands that show ``rule`` in its chain, and one that inserts an accept just before it.

    ``<MATCH>`` is the operator's to write: the narrowest match of the traffic that must pass (e.g.
    ``ip saddr 172.22.31.0/24 tcp dport 443``). Deleting the drop is never suggested: a drop rule is usually
    there on purpose, and only the operator can judge it.
    """
    if rule.source == "nft":
        family_table = rule.table
        show = f"nft -a list chain {family_table} {rule.chain}"
        if rule.handle is None:
            return (show,)
        return (show, f"nft insert rule {family_table} {rule.chain} position {rule.handle} <MATCH> accept")
    tool = rule.source
    show = f"{tool} -t {rule.table} -L {rule.chain} -v -n --line-numbers"
    if rule.position is None:
        # A policy drops what no rule accepted: an accept appended to the chain comes before it.
        return (show, f"{tool} -t {rule.table} -A {rule.chain} <MATCH> -j ACCEPT")
    return (show, f"{tool} -t {rule.table} -I {rule.chain} {rule.position} <MATCH> -j ACCEPT")
