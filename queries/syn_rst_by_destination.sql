-- syn_rst_by_destination: the destinations that leave the connection attempts of the sources in source_cidr
-- unanswered (SYN seen, no SYN-ACK back) or reset (RST in either direction), most unanswered first.
-- tcp-flags is the OR of the flags over the aggregation interval; flow logs report FIN 1, SYN 2, RST 4 and
-- SYN-ACK as 18, never ACK alone (VPC User Guide, "Flow log records"): an attempt is a 5-tuple from a source
-- with a record whose flags have SYN without ACK (bitwise_and(tcp_flags, 18) = 2); it is answered when a
-- record of the reverse 5-tuple has SYN-ACK (18). A SYN retransmitted on the same source port adds records
-- to the same attempt (unanswered_syn_records counts them). Only ACCEPTed records: REJECTs are
-- top_rejected_flows' subject. Per destination address and port: attempts, unanswered, reset.
-- placeholders: year_first, year_last, month_first, month_last, day_first, day_last, hour_first, hour_last, hour_key_first, hour_key_last, start_epoch, end_epoch, source_first, source_last
WITH flows AS (
    SELECT
        srcaddr,
        dstaddr,
        srcport,
        dstport,
        tcp_flags,
        try_cast(split_part(srcaddr, '.', 1) AS bigint) * 16777216
            + try_cast(split_part(srcaddr, '.', 2) AS bigint) * 65536
            + try_cast(split_part(srcaddr, '.', 3) AS bigint) * 256
            + try_cast(split_part(srcaddr, '.', 4) AS bigint) AS src_ip_number
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
attempts AS (
    SELECT
        srcaddr,
        srcport,
        dstaddr,
        dstport,
        count(*) AS syn_records
    FROM flows
    WHERE src_ip_number BETWEEN ? AND ?
        AND bitwise_and(tcp_flags, 18) = 2
    GROUP BY srcaddr, srcport, dstaddr, dstport
),
tuples AS (
    SELECT
        srcaddr,
        srcport,
        dstaddr,
        dstport,
        max(CASE WHEN bitwise_and(tcp_flags, 18) = 18 THEN 1 ELSE 0 END) AS syn_ack,
        max(CASE WHEN bitwise_and(tcp_flags, 4) = 4 THEN 1 ELSE 0 END) AS rst
    FROM flows
    GROUP BY srcaddr, srcport, dstaddr, dstport
),
judged AS (
    SELECT
        a.dstaddr,
        a.dstport,
        a.syn_records,
        coalesce(back.syn_ack, 0) AS answered,
        greatest(coalesce(back.rst, 0), coalesce(forth.rst, 0)) AS reset
    FROM attempts a
    LEFT JOIN tuples back
        ON back.srcaddr = a.dstaddr AND back.srcport = a.dstport
        AND back.dstaddr = a.srcaddr AND back.dstport = a.srcport
    LEFT JOIN tuples forth
        ON forth.srcaddr = a.srcaddr AND forth.srcport = a.srcport
        AND forth.dstaddr = a.dstaddr AND forth.dstport = a.dstport
),
by_destination AS (
    SELECT
        dstaddr,
        dstport,
        count(*) AS attempts,
        count(*) - sum(answered) AS unanswered,
        sum(CASE WHEN answered = 0 THEN syn_records ELSE 0 END) AS unanswered_syn_records,
        sum(reset) AS reset_attempts
    FROM judged
    GROUP BY dstaddr, dstport
)
SELECT
    dstaddr,
    dstport,
    attempts,
    unanswered,
    unanswered_syn_records,
    reset_attempts,
    CAST(unanswered AS double) / attempts AS unanswered_share,
    CAST(reset_attempts AS double) / attempts AS reset_share
FROM by_destination
WHERE unanswered > 0 OR reset_attempts > 0
ORDER BY unanswered DESC, reset_attempts DESC, attempts DESC, dstaddr, dstport
LIMIT 50
