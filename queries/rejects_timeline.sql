-- rejects_timeline: REJECTed flow records, their packets and bytes, per minute of the window.
-- placeholders: year_first, year_last, month_first, month_last, day_first, day_last, hour_first, hour_last, hour_key_first, hour_key_last, start_epoch, end_epoch
SELECT
    from_unixtime("start" - "start" % 60) AS minute,
    count(*) AS rejects,
    sum(packets) AS packets,
    sum(bytes) AS bytes
FROM vpc_flow_logs
WHERE year BETWEEN ? AND ?
    AND month BETWEEN ? AND ?
    AND day BETWEEN ? AND ?
    AND hour BETWEEN ? AND ?
    AND concat(year, month, day, hour) BETWEEN ? AND ?
    AND "start" >= ? AND "start" < ?
    AND action = 'REJECT'
GROUP BY 1
ORDER BY 1
