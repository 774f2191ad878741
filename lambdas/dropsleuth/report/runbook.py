"""Where each finding's runbook section is: every report view links a finding to it.

The runbooks are pages of the documentation site (``docs/runbook/``); each finding code has a stable anchor
there (the code in lower case, ``_`` as ``-``). Where the site is published, ``DROPSLEUTH_DOCS_URL`` names its
root and the links point at the published pages; otherwise they name the page in the repository.
"""

from __future__ import annotations

import os

from dropsleuth.model import FindingCode

DOCS_URL_VARIABLE = "DROPSLEUTH_DOCS_URL"

_PMTUD_PAGE = "runbook/pmtud"
_OTHER_FINDINGS_PAGE = "runbook/findings"
# The PMTUD family shares one runbook; every other finding has its section on the "other findings" page.
_PMTUD_FAMILY = frozenset(
    {
        FindingCode.PMTUD_BLACKHOLE,
        FindingCode.MTU_MISMATCH,
        FindingCode.NACL_BLOCKS_ICMP_FRAG_NEEDED,
        FindingCode.SG_MISSING_ICMP_FRAG_NEEDED,
        FindingCode.INTERFACE_MTU_UNEXPECTED,
        FindingCode.HOST_FIREWALL_BLOCKS_ICMP,
    }
)


_OTHER_DROPS_PAGE = "runbook/other-drops"
# The causes beyond PMTUD, each from the counter that shows it (rules/host_drops.py, rules/aws_drops.py).
_OTHER_DROPS_FAMILY = frozenset(
    {
        FindingCode.LISTEN_QUEUE_OVERFLOW,
        FindingCode.RECEIVE_BUFFER_PRUNING,
        FindingCode.NIC_DROPS,
        FindingCode.CONNTRACK_TABLE_FULL,
        FindingCode.REVERSE_PATH_FILTER_DROPS,
        FindingCode.ENA_ALLOWANCE_EXCEEDED,
        FindingCode.TCP_RETRANSMISSIONS_RISING,
        FindingCode.NAT_PORT_EXHAUSTION,
        FindingCode.NAT_IDLE_TIMEOUT,
        FindingCode.LB_RESETS,
        FindingCode.HOST_FIREWALL_DROPS,
        FindingCode.QDISC_DROPS,
        FindingCode.SYNS_UNANSWERED,
        FindingCode.CONNECTION_RESETS,
        FindingCode.TRANSIT_GATEWAY_DROPS,
        FindingCode.SG_CONNTRACK_TIMEOUT_SHORT,
        FindingCode.IDLE_TIMEOUT_MISMATCH,
        FindingCode.ASYMMETRIC_RETURN_PATH,
    }
)


def runbook_page(code: FindingCode) -> str:
    """The runbook page of a finding, relative to the docs root and without its extension."""
    if code in _OTHER_DROPS_FAMILY:
        return _OTHER_DROPS_PAGE
    return _PMTUD_PAGE if code in _PMTUD_FAMILY else _OTHER_FINDINGS_PAGE


def runbook_anchor(code: FindingCode) -> str:
    """The stable anchor of a finding's section: ``PMTUD_BLACKHOLE`` → ``pmtud-blackhole``."""
    return code.value.lower().replace("_", "-")


def runbook_link(code: FindingCode, *, docs_url: str | None = None) -> str:
    """The link to a finding's runbook section.

    With a docs URL (the argument, else ``DROPSLEUTH_DOCS_URL``): the published page, as MkDocs serves it
    (``{root}/runbook/pmtud/#pmtud-blackhole``). Without one: the Markdown page in the repository
    (``docs/runbook/pmtud.md#pmtud-blackhole``), which GitHub and an editor open at the section.
    """
    root = docs_url if docs_url is not None else os.environ.get(DOCS_URL_VARIABLE, "")
    page, anchor = runbook_page(code), runbook_anchor(code)
    if root.strip():
        return f"{root.strip().rstrip('/')}/{page}/#{anchor}"
    return f"docs/{page}.md#{anchor}"
