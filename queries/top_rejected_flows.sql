-- top_rejected_flows: the 5-tuples (per ENI) with the most REJECTed packets in the window.
-- placeholders: year_first, year_last, month_first, month_last, day_first, day_last, hour_first, hour_last, hour_key_first, hour_key_last, start_epoch, end_epoch
SELECT
    interface_id,
    srcaddr,
    dstaddr,
    srcport,
    dstport,
    protocol,
    count(*) AS records,
    sum(packets) AS rejected_packets,
    sum(bytes) AS rejected_bytes,
    from_unixtime(min("start")) AS first_seen,
    from_unixtime(max("end")) AS last_seen
FROM vpc_flow_logs
WHERE year BETWEEN ? AND ?
    AND month BETWEEN ? AND ?
    AND day BETWEEN ? AND ?
    AND hour BETWEEN ? AND ?
    AND concat(year, month, day, hour) BETWEEN ? AND ?
    AND "start" >= ? AND "start" < ?
    AND action = 'REJECT'
GROUP BY interface_id, srcaddr, dstaddr, srcport, dstport, protocol
ORDER BY rejected_packets DESC, records DESC, srcaddr, dstaddr, srcport, dstport, protocol, interface_id
LIMIT 50
