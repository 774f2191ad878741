-- syn_rst_by_destination: per destination, the connection attempts of the sources in source_cidr and how
-- many were left unanswered (SYN seen, no SYN-ACK back) or reset (RST in either direction), most unanswered
-- first; every row also carries the window's totals over all destinations (all_attempts, all_destinations),
-- so an empty result means the sources made no attempt at all, and a clean one says how much was judged.
-- tcp-flags is the OR of the flags over the aggregation interval; flow logs report FIN 1, SYN 2, RST 4 and
-- SYN-ACK as 18, never ACK alone (VPC User Guide, "Flow log records"): an attempt is a 5-tuple from a source
-- with a record whose flags have SYN without ACK (bitwise_and(tcp_flags, 18) = 2); it is answered when a
-- record of the reverse 5-tuple has SYN-ACK (18). A SYN retransmitted on the same source port adds records
-- to the same attempt (unanswered_syn_records counts them). Only ACCEPTed records: REJECTs are
-- top_rejected_flows' subject. Per destination address and port: attempts, unanswered, reset, and when the
-- unanswered attempts were first and last seen (epoch seconds of their SYN records' start), so a reader
-- can tell a pattern that began at an incident's onset from one that was always there.
-- Addresses are the packet's own (pkt-srcaddr, pkt-dstaddr; srcaddr/dstaddr where the format lacks them):
-- on a NAT gateway's network interface dstaddr is the gateway's private address and pkt-dstaddr the final
-- destination (VPC User Guide, "Flow log record examples", NAT gateway). One attempt seen on several
-- interfaces (the instance's and the NAT gateway's) is one attempt; its SYN records are counted on the
-- interface that saw the most.
-- placeholders: year_first, year_last, month_first, month_last, day_first, day_last, hour_first, hour_last, hour_key_first, hour_key_last, start_epoch, end_epoch, source_like, source_is_prefix, source_first, source_last, source_like, source_like
-- source_like and source_is_prefix as in stalled_flows: a cheap string test before the address arithmetic;
-- the 5-tuples judged for answers and resets are only those with the sources at one end (LIKE, a superset:
-- the joins match exactly).
WITH flows AS (
    SELECT
        interface_id,
        coalesce(pkt_srcaddr, srcaddr) AS src,
        coalesce(pkt_dstaddr, dstaddr) AS dst,
        srcport,
        dstport,
        tcp_flags,
        "start"
    FROM vpc_flow_logs
    WHERE year BETWEEN ? AND ?
        AND month BETWEEN ? AND ?
        AND day BETWEEN ? AND ?
        AND hour BETWEEN ? AND ?
        AND concat(year, month, day, hour) BETWEEN ? AND ?
        AND "start" >= ? AND "start" < ?
        AND action = 'ACCEPT'
        AND protocol = 6
),
syns_per_interface AS (
    SELECT
        interface_id,
        src,
        srcport,
        dst,
        dstport,
        count(*) AS syn_records,
        min("start") AS first_syn
    FROM flows
    WHERE src LIKE ?
        AND (
            ?
            OR try_cast(split_part(src, '.', 1) AS bigint) * 16777216
            + try_cast(split_part(src, '.', 2) AS bigint) * 65536
            + try_cast(split_part(src, '.', 3) AS bigint) * 256
            + try_cast(split_part(src, '.', 4) AS bigint) BETWEEN ? AND ?
        )
        AND bitwise_and(tcp_flags, 18) = 2
    GROUP BY interface_id, src, srcport, dst, dstport
),
attempts AS (
    SELECT
        src,
        srcport,
        dst,
        dstport,
        max(syn_records) AS syn_records,
        min(first_syn) AS first_syn
    FROM syns_per_interface
    GROUP BY src, srcport, dst, dstport
),
tuples AS (
    SELECT
        src,
        srcport,
        dst,
        dstport,
        max(CASE WHEN bitwise_and(tcp_flags, 18) = 18 THEN 1 ELSE 0 END) AS syn_ack,
        max(CASE WHEN bitwise_and(tcp_flags, 4) = 4 THEN 1 ELSE 0 END) AS rst
    FROM flows
    WHERE src LIKE ? OR dst LIKE ?
    GROUP BY src, srcport, dst, dstport
),
judged AS (
    SELECT
        a.dst,
        a.dstport,
        a.syn_records,
        a.first_syn,
        coalesce(back.syn_ack, 0) AS answered,
        greatest(coalesce(back.rst, 0), coalesce(forth.rst, 0)) AS reset
    FROM attempts a
    LEFT JOIN tuples back
        ON back.src = a.dst AND back.srcport = a.dstport
        AND back.dst = a.src AND back.dstport = a.srcport
    LEFT JOIN tuples forth
        ON forth.src = a.src AND forth.srcport = a.srcport
        AND forth.dst = a.dst AND forth.dstport = a.dstport
),
by_destination AS (
    SELECT
        dst,
        dstport,
        count(*) AS attempts,
        count(*) - sum(answered) AS unanswered,
        sum(CASE WHEN answered = 0 THEN syn_records ELSE 0 END) AS unanswered_syn_records,
        sum(reset) AS reset_attempts,
        min(CASE WHEN answered = 0 THEN first_syn END) AS first_unanswered,
        max(CASE WHEN answered = 0 THEN first_syn END) AS last_unanswered
    FROM judged
    GROUP BY dst, dstport
)
SELECT
    dst AS dstaddr,
    dstport,
    attempts,
    unanswered,
    unanswered_syn_records,
    reset_attempts,
    CAST(unanswered AS double) / attempts AS unanswered_share,
    CAST(reset_attempts AS double) / attempts AS reset_share,
    first_unanswered,
    last_unanswered,
    sum(attempts) OVER () AS all_attempts,
    count(*) OVER () AS all_destinations
FROM by_destination
ORDER BY unanswered DESC, reset_attempts DESC, attempts DESC, dstaddr, dstport
LIMIT 50
