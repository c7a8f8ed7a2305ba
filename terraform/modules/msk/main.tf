# Amazon MSK, provisioned (not serverless). Why provisioned:
#   * At-rest encryption under our own KMS key. MSK Serverless only offers an
#     AWS-owned key, and the raw topics carry patient PII.
#   * The raw topics keep 30 days (the replay window) and the surveillance
#     topics are compacted; provisioned clusters take any topic config, while
#     Serverless caps retention and restricts topic-level settings.
#   * Regional reach: provisioned MSK runs in af-south-1 (Cape Town), where
#     the data must stay; Serverless is offered in fewer regions.
#   * Steady 24/7 load from clinics: a few small brokers cost less per month
#     than Serverless' per-partition and per-GB charges at this volume.
# Clients authenticate with IAM (SASL/OAUTHBEARER, port 9098) over TLS only;
# IAM policies scoped to topic and group ARNs act as the ACLs.

resource "aws_cloudwatch_log_group" "broker" {
  name              = "/daas/${var.name_prefix}/msk-broker"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
}

resource "aws_msk_configuration" "this" {
  name           = "${var.name_prefix}-kafka"
  kafka_versions = [var.kafka_version]
  description    = "Broker defaults for the daas pipeline; per-topic settings are set when the topic is created."

  # Topics are created explicitly by the topic-admin task, never implicitly by
  # a typo in a producer. Defaults favour durability: acks=all writes need
  # min.insync.replicas copies, and an out-of-sync replica never becomes leader.
  server_properties = <<-EOT
    auto.create.topics.enable=false
    default.replication.factor=${var.replication_factor}
    min.insync.replicas=${var.min_insync_replicas}
    unclean.leader.election.enable=false
    num.partitions=6
    log.retention.hours=168
    offsets.retention.minutes=43200
    transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
  EOT

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_msk_cluster" "this" {
  cluster_name           = "${var.name_prefix}-kafka"
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count
  enhanced_monitoring    = var.enhanced_monitoring

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.subnet_ids
    security_groups = [var.security_group_id]

    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_size_gib
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  client_authentication {
    unauthenticated = false
    sasl {
      iam   = true
      scram = false
    }
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = var.kms_key_arn
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.broker.name
      }
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # IAM resource ARNs for Kafka objects: kafka:<region>:<account>:<type>/<cluster name>/<cluster uuid>/<name>
  arn_base = "arn:${data.aws_partition.current.partition}:kafka:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  scope    = "${aws_msk_cluster.this.cluster_name}/${aws_msk_cluster.this.cluster_uuid}"
}
