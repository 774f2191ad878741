-- rejected_replies: per interface and replying peer (address and port), the connection replies (SYN-ACK)
-- that interface REJECTed, and whether it had recorded the request they answer: the flow-log trace of an
-- asymmetric path. Security groups are stateful per network interface: a reply is admitted only on the
-- interface whose tracked flow it belongs to (EC2 User Guide, "Amazon EC2 security group connection
-- tracking"). A reply arriving on an interface that never saw the request is judged by that interface's
-- rules alone, and REJECTed: the request left through another interface or appliance.
-- tcp-flags is the OR of the flags over the aggregation interval; flow logs report FIN 1, SYN 2, RST 4 and
-- SYN-ACK as 18, never ACK alone (VPC User Guide, "Flow log records"): a reply is a REJECTed record whose
-- flags have SYN-ACK (bitwise_and(tcp_flags, 18) = 18); a request is an ACCEPTed record of the reverse
-- 5-tuple whose flags have SYN without ACK (= 2). Each rejected connection (5-tuple) is requested_here
-- when its request is recorded on the same interface (a NACL denying the return range does that: the
-- request went out here, the reply came back here and was REJECTed -- top_rejected_flows' subject), else
-- orphaned; of those, requested_elsewhere when the request is recorded on another interface
-- (request_interface names one), else its request is in no record of the window (it left through a path
-- without flow logs). first_orphaned and last_orphaned: epoch seconds of the orphaned replies' records.
-- Addresses are the packet's own (pkt-srcaddr, pkt-dstaddr; srcaddr/dstaddr where the format lacks them),
-- so an appliance's interface and the host's name the same connection.
-- placeholders: year_first, year_last, month_first, month_last, day_first, day_last, hour_first, hour_last, hour_key_first, hour_key_last, start_epoch, end_epoch
WITH flows AS (
    SELECT
        interface_id,
        coalesce(pkt_srcaddr, srcaddr) AS src,
        coalesce(pkt_dstaddr, dstaddr) AS dst,
        srcport,
        dstport,
        tcp_flags,
        action,
        packets,
        "start"
    FROM vpc_flow_logs
    WHERE year BETWEEN ? AND ?
        AND month BETWEEN ? AND ?
        AND day BETWEEN ? AND ?
        AND hour BETWEEN ? AND ?
        AND concat(year, month, day, hour) BETWEEN ? AND ?
        AND "start" >= ? AND "start" < ?
        AND protocol = 6
        AND bitwise_and(tcp_flags, 2) = 2
),
requests AS (
    SELECT DISTINCT
        interface_id,
        src,
        srcport,
        dst,
        dstport
    FROM flows
    WHERE action = 'ACCEPT' AND bitwise_and(tcp_flags, 18) = 2
),
replies AS (
    SELECT
        interface_id,
        src AS peer,
        srcport AS peer_port,
        dst AS requester,
        dstport AS requester_port,
        count(*) AS records,
        sum(packets) AS packets,
        min("start") AS first_rejected,
        max("start") AS last_rejected
    FROM flows
    WHERE action = 'REJECT' AND bitwise_and(tcp_flags, 18) = 18
    GROUP BY interface_id, src, srcport, dst, dstport
),
judged AS (
    SELECT
        r.interface_id,
        r.peer,
        r.peer_port,
        r.records,
        r.packets,
        r.first_rejected,
        r.last_rejected,
        max(CASE WHEN q.interface_id = r.interface_id THEN 1 ELSE 0 END) AS requested_here,
        max(CASE WHEN q.interface_id <> r.interface_id THEN 1 ELSE 0 END) AS requested_elsewhere,
        min(CASE WHEN q.interface_id <> r.interface_id THEN q.interface_id END) AS request_interface
    FROM replies r
    LEFT JOIN requests q
        ON q.src = r.requester AND q.srcport = r.requester_port
        AND q.dst = r.peer AND q.dstport = r.peer_port
    GROUP BY
        r.interface_id, r.peer, r.peer_port, r.requester, r.requester_port, r.records, r.packets,
        r.first_rejected, r.last_rejected
)
SELECT
    interface_id,
    peer AS peer_addr,
    peer_port,
    count(*) AS rejected_connections,
    sum(records) AS rejected_records,
    sum(packets) AS rejected_packets,
    sum(requested_here) AS requested_here,
    count(*) - sum(requested_here) AS orphaned,
    sum(CASE WHEN requested_here = 0 THEN requested_elsewhere ELSE 0 END) AS requested_elsewhere,
    min(CASE WHEN requested_here = 0 THEN request_interface END) AS request_interface,
    min(CASE WHEN requested_here = 0 THEN first_rejected END) AS first_orphaned,
    max(CASE WHEN requested_here = 0 THEN last_rejected END) AS last_orphaned
FROM judged
GROUP BY interface_id, peer, peer_port
ORDER BY orphaned DESC, rejected_packets DESC, interface_id, peer_addr, peer_port
LIMIT 50
