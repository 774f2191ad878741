-- icmp_rejects: REJECTed ICMP (protocol 1 and 58) per minute toward the sources in source_cidr.
-- Flow logs carry no ICMP type or code: a rejected frag-needed (type 3 code 4) looks like any rejected ICMP.
-- placeholders: year_first, year_last, month_first, month_last, day_first, day_last, hour_first, hour_last, hour_key_first, hour_key_last, start_epoch, end_epoch, source_like, source_is_prefix, source_first, source_last
-- source_like is source_cidr's whole octets as a LIKE pattern ('192.168.50.%'), implied by the range test: a
-- cheap string test first spares the address arithmetic on the rows it rules out, and source_is_prefix
-- (TRUE when the pattern is the CIDR exactly: /0, /8, /16, /24, /32) skips it altogether.
WITH icmp AS (
    SELECT
        "start",
        packets,
        srcaddr,
        try_cast(split_part(dstaddr, '.', 1) AS bigint) * 16777216
            + try_cast(split_part(dstaddr, '.', 2) AS bigint) * 65536
            + try_cast(split_part(dstaddr, '.', 3) AS bigint) * 256
            + try_cast(split_part(dstaddr, '.', 4) AS bigint) AS dst_ip_number
    FROM vpc_flow_logs
    WHERE year BETWEEN ? AND ?
        AND month BETWEEN ? AND ?
        AND day BETWEEN ? AND ?
        AND hour BETWEEN ? AND ?
        AND concat(year, month, day, hour) BETWEEN ? AND ?
        AND "start" >= ? AND "start" < ?
        AND dstaddr LIKE ?
        AND action = 'REJECT'
        AND protocol IN (1, 58)
)
SELECT
    from_unixtime("start" - "start" % 60) AS minute,
    count(*) AS rejects,
    sum(packets) AS packets,
    count(DISTINCT srcaddr) AS senders
FROM icmp
WHERE (? OR dst_ip_number BETWEEN ? AND ?)
GROUP BY 1
ORDER BY 1
