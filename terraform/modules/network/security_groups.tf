# Security groups: one per workload and per store, and the complete list of
# network flows the pipeline uses. A flow opens the egress rule on the client
# and the matching ingress rule on the server, both referencing security
# groups, never CIDR ranges. Stores accept nothing else; nothing accepts
# traffic from 0.0.0.0/0.

locals {
  # Every stream service talks to MSK; topic_admin is the one-off task that
  # creates the declared topics (brokers do not auto-create topics).
  kafka_clients = [
    "simuhealth_producer", "sheet_poller", "processor", "surveillance",
    "s3_sink", "postgres_sink", "alerts_sink", "dead_letters_sink", "topic_admin",
  ]
  # The sinks that write the ops tables (encounters, surveillance_alerts, dead_letters).
  rds_writers = {
    postgres_sink     = "upsert clean ops records"
    alerts_sink       = "upsert surveillance alerts"
    dead_letters_sink = "insert dead-letter metadata"
  }
  workloads = concat(local.kafka_clients, ["mwaa", "airbyte"])
  stores    = ["msk", "rds", "redshift", "endpoints"]

  flows = concat(
    [for c in local.kafka_clients : { from = c, to = "msk", port = 9098, why = "Kafka over TLS with IAM auth" }],
    [for w in local.workloads : { from = w, to = "endpoints", port = 443, why = "AWS APIs via interface endpoints" }],
    [for w, why in local.rds_writers : { from = w, to = "rds", port = 5432, why = why }],
    [
      { from = "airbyte", to = "rds", port = 5432, why = "read ops tables for the warehouse sync" },
      { from = "airbyte", to = "redshift", port = 5439, why = "load the synced ops tables" },
      { from = "mwaa", to = "redshift", port = 5439, why = "COPY and MERGE lake batches" },
      { from = "mwaa", to = "airbyte", port = var.airbyte_api_port, why = "trigger and poll Airbyte syncs" },
    ],
  )

  # Egress to S3 through the gateway endpoint (prefix list, not the internet).
  s3_clients = concat(local.workloads, ["redshift"])

  # Egress that must reach the internet through NAT, HTTPS only.
  internet_egress = {
    sheet_poller = "Google Sheets API"
    airbyte      = "connector images and the Airbyte control plane"
    mwaa         = "MWAA control plane and requirements installation"
  }

  sg_ids = merge(
    { for k, sg in aws_security_group.workload : k => sg.id },
    { for k, sg in aws_security_group.store : k => sg.id },
  )
}

resource "aws_security_group" "workload" {
  #checkov:skip=CKV2_AWS_5:Attached in other modules (ECS services, MWAA, Airbyte hosts) through the security_group_ids output map, which checkov's graph does not follow.
  for_each = toset(local.workloads)

  name        = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  description = "Workload ${each.key}: only the flows listed in the network module"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name_prefix}-${replace(each.key, "_", "-")}" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "store" {
  #checkov:skip=CKV2_AWS_5:Attached to MSK, RDS, Redshift (other modules, via the security_group_ids output map checkov cannot follow) and to the interface endpoints here.
  for_each = toset(local.stores)

  name        = "${var.name_prefix}-${each.key}"
  description = "Store ${each.key}: ingress only from the workloads listed in the network module"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name_prefix}-${each.key}" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "flow" {
  for_each = { for f in local.flows : "${f.from}-to-${f.to}" => f }

  security_group_id            = local.sg_ids[each.value.to]
  referenced_security_group_id = local.sg_ids[each.value.from]
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  description                  = "From ${each.value.from}: ${each.value.why}"
}

resource "aws_vpc_security_group_egress_rule" "flow" {
  for_each = { for f in local.flows : "${f.from}-to-${f.to}" => f }

  security_group_id            = local.sg_ids[each.value.from]
  referenced_security_group_id = local.sg_ids[each.value.to]
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  description                  = "To ${each.value.to}: ${each.value.why}"
}

resource "aws_vpc_security_group_egress_rule" "s3" {
  for_each = toset(local.s3_clients)

  security_group_id = local.sg_ids[each.key]
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  description       = "To S3 through the gateway endpoint"
}

resource "aws_vpc_security_group_egress_rule" "internet_https" {
  for_each = local.internet_egress

  security_group_id = local.sg_ids[each.key]
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  description       = "HTTPS through NAT: ${each.value}"
}

# MWAA requires its security group to allow all traffic between its own
# members (web server, schedulers, workers, metadata database endpoint).
resource "aws_vpc_security_group_ingress_rule" "mwaa_self" {
  security_group_id            = local.sg_ids["mwaa"]
  referenced_security_group_id = local.sg_ids["mwaa"]
  ip_protocol                  = "-1"
  description                  = "MWAA components talk to each other (required by MWAA)"
}

resource "aws_vpc_security_group_egress_rule" "mwaa_self" {
  security_group_id            = local.sg_ids["mwaa"]
  referenced_security_group_id = local.sg_ids["mwaa"]
  ip_protocol                  = "-1"
  description                  = "MWAA components talk to each other (required by MWAA)"
}
