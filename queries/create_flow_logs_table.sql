-- create_flow_logs_table: the flow-log table over AWS's Parquet, Hive-compatible, per-hour layout, with
-- partition projection (no crawler, no MSCK REPAIR). Columns and types: dropsleuth.flowlogs.schema.FIELDS;
-- properties: schema.projection_properties (the CDK app builds the same Glue table from both).
-- @location@ is filled in by dropsleuth.queries.render_ddl with schema.table_location(...): Athena takes no
-- parameters in DDL.
CREATE EXTERNAL TABLE IF NOT EXISTS vpc_flow_logs (
    `version` int,
    `account_id` string,
    `interface_id` string,
    `srcaddr` string,
    `dstaddr` string,
    `srcport` int,
    `dstport` int,
    `protocol` int,
    `packets` bigint,
    `bytes` bigint,
    `start` bigint,
    `end` bigint,
    `action` string,
    `log_status` string,
    `vpc_id` string,
    `subnet_id` string,
    `instance_id` string,
    `tcp_flags` int,
    `type` string,
    `pkt_srcaddr` string,
    `pkt_dstaddr` string,
    `region` string,
    `az_id` string,
    `pkt_src_aws_service` string,
    `pkt_dst_aws_service` string,
    `flow_direction` string,
    `traffic_path` int
)
PARTITIONED BY (`year` string, `month` string, `day` string, `hour` string)
STORED AS PARQUET
LOCATION '@location@'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.year.type' = 'integer',
    'projection.year.range' = '2020,2100',
    'projection.year.digits' = '4',
    'projection.month.type' = 'integer',
    'projection.month.range' = '1,12',
    'projection.month.digits' = '2',
    'projection.day.type' = 'integer',
    'projection.day.range' = '1,31',
    'projection.day.digits' = '2',
    'projection.hour.type' = 'integer',
    'projection.hour.range' = '0,23',
    'projection.hour.digits' = '2',
    'storage.location.template' = '@location@year=${year}/month=${month}/day=${day}/hour=${hour}'
)
