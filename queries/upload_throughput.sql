-- upload_throughput: megabits per second, per minute, of ACCEPTed traffic from source_cidr to a destination:
-- an AWS service (pkt-dst-aws-service, e.g. S3) or destination_cidr. Assumes 1-minute aggregation.
-- placeholders: year_first, year_last, month_first, month_last, day_first, day_last, hour_first, hour_last, hour_key_first, hour_key_last, start_epoch, end_epoch, source_like, source_is_prefix, source_first, source_last, destination_service, destination_like, destination_first, destination_last
-- source_like is source_cidr's whole octets as a LIKE pattern ('192.168.50.%'), implied by the range test: a
-- cheap string test first spares the address arithmetic on the rows it rules out, and source_is_prefix
-- (TRUE when the pattern is the CIDR exactly: /0, /8, /16, /24, /32) skips it altogether; destination_like
-- likewise for destination_cidr ('' with a service: matches no address).
WITH uploads AS (
    SELECT
        "start",
        packets,
        bytes,
        dstaddr,
        pkt_dst_aws_service,
        try_cast(split_part(srcaddr, '.', 1) AS bigint) * 16777216
            + try_cast(split_part(srcaddr, '.', 2) AS bigint) * 65536
            + try_cast(split_part(srcaddr, '.', 3) AS bigint) * 256
            + try_cast(split_part(srcaddr, '.', 4) AS bigint) AS src_ip_number,
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
        AND srcaddr LIKE ?
        AND action = 'ACCEPT'
)
SELECT
    from_unixtime("start" - "start" % 60) AS minute,
    CAST(sum(bytes) AS double) * 8 / 60 / 1000000 AS mbps,
    sum(bytes) AS bytes,
    sum(packets) AS packets,
    count(*) AS flows
FROM uploads
WHERE (? OR src_ip_number BETWEEN ? AND ?)
    AND (pkt_dst_aws_service = ? OR (dstaddr LIKE ? AND dst_ip_number BETWEEN ? AND ?))
GROUP BY 1
ORDER BY 1
