-- flow_packet_sizes: the average packet size (bytes / packets) of each TCP flow from source_cidr that the
-- VPC's interfaces ACCEPTed, largest first. A flow recorded beyond a hop that averages more bytes per packet
-- than the hop's MTU proves that packets larger than the hop crossed it: evidence against a black hole
-- there. The average mixes data segments with ACKs, so it under-states the largest packet, never over-states it.
-- The threshold filters in the outer WHERE: Athena takes ? parameters only in a WHERE clause.
-- placeholders: year_first, year_last, month_first, month_last, day_first, day_last, hour_first, hour_last, hour_key_first, hour_key_last, start_epoch, end_epoch, source_like, source_is_prefix, source_first, source_last, min_packets
-- source_like and source_is_prefix as in stalled_flows: a cheap string test before the address arithmetic.
-- defaults: min_packets=10
WITH flows AS (
    SELECT
        interface_id,
        srcaddr,
        dstaddr,
        srcport,
        dstport,
        packets,
        bytes,
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
        CAST(sum(bytes) AS double) / nullif(sum(packets), 0) AS bytes_per_packet
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
    bytes_per_packet
FROM tuples
WHERE total_packets >= ?
ORDER BY bytes_per_packet DESC, total_packets DESC, srcaddr, srcport, dstaddr, dstport, interface_id
LIMIT 100
