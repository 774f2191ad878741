-- stalled_flows: black-hole candidates. TCP flows from source_cidr that keep sending packets while moving
-- few bytes per packet, repeated over several records for the same 5-tuple, SYN-heavy first.
-- syn_records counts the 5-tuple's records with SYN set and syn_share is syn_records / records: tcp-flags
-- is the OR of the flags over the aggregation interval (SYN = 2), so a record with SYN saw a connection
-- being opened (or its SYN retransmitted) in that interval. Rows are ranked by syn_share, then records.
-- The thresholds filter in the outer WHERE, not in HAVING: Athena takes ? parameters only in a WHERE
-- clause (Athena User Guide, "Use parameterized queries", Considerations and limitations).
-- placeholders: year_first, year_last, month_first, month_last, day_first, day_last, hour_first, hour_last, hour_key_first, hour_key_last, start_epoch, end_epoch, source_like, source_is_prefix, source_first, source_last, min_records, max_bytes_per_packet
-- source_like is source_cidr's whole octets as a LIKE pattern ('192.168.50.%'), implied by the range test: a
-- cheap string test first spares the address arithmetic on the rows it rules out, and source_is_prefix
-- (TRUE when the pattern is the CIDR exactly: /0, /8, /16, /24, /32) skips it altogether.
-- defaults: min_records=3, max_bytes_per_packet=160
WITH flows AS (
    SELECT
        interface_id,
        srcaddr,
        dstaddr,
        srcport,
        dstport,
        "start",
        "end",
        packets,
        bytes,
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
        AND srcaddr LIKE ?
        AND action = 'ACCEPT'
        AND protocol = 6
),
tuples AS (
    SELECT
        interface_id,
        srcaddr,
        dstaddr,
        srcport,
        dstport,
        count(*) AS records,
        sum(packets) AS total_packets,
        sum(bytes) AS total_bytes,
        CAST(sum(bytes) AS double) / nullif(sum(packets), 0) AS bytes_per_packet,
        coalesce(count_if(bitwise_and(tcp_flags, 2) = 2), 0) AS syn_records,
        CAST(coalesce(count_if(bitwise_and(tcp_flags, 2) = 2), 0) AS double) / count(*) AS syn_share,
        from_unixtime(min("start")) AS first_seen,
        from_unixtime(max("end")) AS last_seen
    FROM flows
    WHERE (? OR src_ip_number BETWEEN ? AND ?)
    GROUP BY interface_id, srcaddr, dstaddr, srcport, dstport
)
SELECT
    interface_id,
    srcaddr,
    dstaddr,
    srcport,
    dstport,
    records,
    total_packets,
    total_bytes,
    bytes_per_packet,
    syn_records,
    syn_share,
    first_seen,
    last_seen
FROM tuples
WHERE records >= ?
    AND bytes_per_packet <= ?
ORDER BY syn_share DESC, records DESC, total_packets DESC, srcaddr, srcport, dstaddr, dstport, interface_id
LIMIT 100
