# One task role and one execution role per stage, each with only what that
# stage does. Kafka permissions use MSK IAM access control: topic and group
# ARNs are the ACLs. The raw topics (PII) are readable by the processor role
# only; the producers may write them, nobody else may touch them.

locals {
  cluster_arn = var.kafka_cluster_arn

  # One ARN per topic, keyed like var.topics (the application's Topics fields).
  topic_arn = { for key, name in var.topics : key => "${var.kafka_topic_arn_prefix}/${name}" }

  group_arn = {
    processor_simuhealth = "${var.kafka_group_arn_prefix}/${local.processor_groups.simuhealth}"
    processor_gsheet     = "${var.kafka_group_arn_prefix}/${local.processor_groups.gsheet}"
    surveillance         = "${var.kafka_group_arn_prefix}/${var.consumer_groups.surveillance}"
    s3_sink              = "${var.kafka_group_arn_prefix}/${var.consumer_groups.s3_sink}"
    postgres_sink        = "${var.kafka_group_arn_prefix}/${var.consumer_groups.postgres_sink}"
    alerts_sink          = "${var.kafka_group_arn_prefix}/${var.consumer_groups.alerts_sink}"
    dead_letters_sink    = "${var.kafka_group_arn_prefix}/${var.consumer_groups.dead_letters_sink}"
    sheet_poller         = "${var.kafka_group_arn_prefix}/${var.consumer_groups.sheet_poller_restore}"
  }

  # The ops database role every RDS sink writes as (its DSN is DAAS_RDS_DSN).
  rds_writer_arn = "arn:${data.aws_partition.current.partition}:rds-db:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:dbuser:${var.rds_instance_resource_id}/${var.rds_iam_db_user}"

  task_policy_json = {
    simuhealth_producer = data.aws_iam_policy_document.simuhealth_producer_task.json
    sheet_poller        = data.aws_iam_policy_document.sheet_poller_task.json
    processor           = data.aws_iam_policy_document.processor_task.json
    surveillance        = data.aws_iam_policy_document.surveillance_task.json
    s3_sink             = data.aws_iam_policy_document.s3_sink_task.json
    postgres_sink       = data.aws_iam_policy_document.postgres_sink_task.json
    alerts_sink         = data.aws_iam_policy_document.alerts_sink_task.json
    dead_letters_sink   = data.aws_iam_policy_document.dead_letters_sink_task.json
    topic_admin         = data.aws_iam_policy_document.topic_admin_task.json
  }
}

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

# ---------------------------------------------------------- execution roles

resource "aws_iam_role" "execution" {
  for_each = toset(local.task_kinds)

  name               = "${local.service_name[each.key]}-execution"
  description        = "ECS pulls the image, writes logs and injects secrets for ${each.key}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

data "aws_iam_policy_document" "execution" {
  for_each = toset(local.task_kinds)

  statement {
    sid     = "EcrAuthToken"
    effect  = "Allow"
    actions = ["ecr:GetAuthorizationToken"]
    resources = [
      "*", # wildcard-exception: ecr:GetAuthorizationToken supports no resource-level permissions.
    ]
  }

  statement {
    sid    = "PullPipelineImage"
    effect = "Allow"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [var.image_repository_arn]
  }

  statement {
    sid    = "WriteOwnLogGroup"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = [
      "${aws_cloudwatch_log_group.service[each.key].arn}:log-stream:*", # wildcard-exception: one log stream per task, named by ECS at start.
    ]
  }

  dynamic "statement" {
    for_each = length(local.secrets[each.key]) > 0 ? [1] : []
    content {
      sid       = "ReadOwnSecrets"
      effect    = "Allow"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = values(local.secrets[each.key])
    }
  }

  dynamic "statement" {
    for_each = length(local.secrets[each.key]) > 0 ? [1] : []
    content {
      sid       = "DecryptOwnSecrets"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${data.aws_region.current.name}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = toset(local.task_kinds)

  name   = "start-task"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}

# ---------------------------------------------------------------- task roles

resource "aws_iam_role" "task" {
  for_each = toset(local.task_kinds)

  name               = "${local.service_name[each.key]}-task"
  description        = "Runtime permissions of ${each.key}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy" "task" {
  for_each = toset(local.task_kinds)

  name   = "stage-permissions"
  role   = aws_iam_role.task[each.key].id
  policy = local.task_policy_json[each.key]
}

# SimuHealth producer: write its raw topic, idempotently.
data "aws_iam_policy_document" "simuhealth_producer_task" {
  statement {
    sid    = "ConnectIdempotentProducer"
    effect = "Allow"
    actions = [
      "kafka-cluster:Connect",
      "kafka-cluster:DescribeCluster",
      "kafka-cluster:WriteDataIdempotently",
    ]
    resources = [local.cluster_arn]
  }

  statement {
    sid    = "WriteRawSimuhealth"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:WriteData",
    ]
    resources = [local.topic_arn.raw_simuhealth]
  }
}

# Sheet poller: write its raw topic, idempotently; keep its checkpoints (the
# hash of every row it emitted) in its own compacted topic, which it creates.
data "aws_iam_policy_document" "sheet_poller_task" {
  statement {
    sid    = "ConnectIdempotentProducer"
    effect = "Allow"
    actions = [
      "kafka-cluster:Connect",
      "kafka-cluster:DescribeCluster",
      "kafka-cluster:WriteDataIdempotently",
    ]
    resources = [local.cluster_arn]
  }

  statement {
    sid    = "WriteRawGsheet"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:WriteData",
    ]
    resources = [local.topic_arn.raw_gsheet]
  }

  statement {
    sid    = "OwnCheckpointTopic"
    effect = "Allow"
    actions = [
      "kafka-cluster:CreateTopic",
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:DescribeTopicDynamicConfiguration",
      "kafka-cluster:ReadData",
      "kafka-cluster:WriteData",
    ]
    resources = [local.topic_arn.gsheet_checkpoints]
  }

  statement {
    sid    = "CheckpointRestoreGroup"
    effect = "Allow"
    actions = [
      "kafka-cluster:AlterGroup",
      "kafka-cluster:DescribeGroup",
    ]
    resources = [local.group_arn.sheet_poller]
  }
}

# Processor: the only reader of the raw (PII) topics, one consumer group per
# raw topic; writes the clean, dead-letter and cases topics, and keeps its
# de-duplication state in changelog topics it creates. Under exactly-once
# (DAAS_PROCESSING_GUARANTEE) all of that is one Kafka transaction per batch.
data "aws_iam_policy_document" "processor_task" {
  statement {
    sid    = "ConnectIdempotentProducer"
    effect = "Allow"
    actions = [
      "kafka-cluster:Connect",
      "kafka-cluster:DescribeCluster",
      "kafka-cluster:WriteDataIdempotently",
    ]
    resources = [local.cluster_arn]
  }

  statement {
    sid    = "ReadRawTopics"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:ReadData",
    ]
    resources = [
      local.topic_arn.raw_simuhealth,
      local.topic_arn.raw_gsheet,
    ]
  }

  statement {
    sid    = "WriteCleanDeadLetterAndCasesTopics"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:WriteData",
    ]
    resources = [
      local.topic_arn.clean_lake,
      local.topic_arn.clean_ops,
      local.topic_arn.dlq,
      local.topic_arn.surveillance_cases,
    ]
  }

  statement {
    sid    = "OwnDedupChangelogs"
    effect = "Allow"
    actions = [
      "kafka-cluster:CreateTopic",
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:DescribeTopicDynamicConfiguration",
      "kafka-cluster:ReadData",
      "kafka-cluster:WriteData",
    ]
    resources = [
      "${var.kafka_topic_arn_prefix}/${var.consumer_groups.processor}-dedup-*", # wildcard-exception: one compacted changelog per input topic, "<app id>-dedup-<input topic>", created by the processor.
    ]
  }

  statement {
    sid    = "ConsumerGroups"
    effect = "Allow"
    actions = [
      "kafka-cluster:AlterGroup",
      "kafka-cluster:DescribeGroup",
    ]
    resources = [
      local.group_arn.processor_simuhealth,
      local.group_arn.processor_gsheet,
    ]
  }

  statement {
    sid    = "ExactlyOnceTransactionalIds"
    effect = "Allow"
    actions = [
      "kafka-cluster:AlterTransactionalId",
      "kafka-cluster:DescribeTransactionalId",
    ]
    resources = [
      "${var.kafka_transactional_id_arn_prefix}/${var.consumer_groups.processor}-*", # wildcard-exception: one transactional id per worker, "<app id>-<instance id>" (DAAS_PROCESSOR_INSTANCE_ID, or drawn at start).
    ]
  }
}

# Surveillance (Faust): read the cases topic in its group (the app id); write
# the counts (a librdkafka idempotent producer) and the alerts; keep its table
# in the changelog and elect a leader on the topics Faust creates, "<app id>-...".
data "aws_iam_policy_document" "surveillance_task" {
  statement {
    sid    = "ConnectIdempotentProducer"
    effect = "Allow"
    actions = [
      "kafka-cluster:Connect",
      "kafka-cluster:DescribeCluster",
      "kafka-cluster:WriteDataIdempotently",
    ]
    resources = [local.cluster_arn]
  }

  statement {
    sid    = "ReadCases"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:ReadData",
    ]
    resources = [local.topic_arn.surveillance_cases]
  }

  statement {
    sid    = "WriteCountsAndAlerts"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:WriteData",
    ]
    resources = [
      local.topic_arn.surveillance_counts,
      local.topic_arn.surveillance_alerts,
    ]
  }

  statement {
    sid    = "FaustInternalTopics"
    effect = "Allow"
    actions = [
      "kafka-cluster:CreateTopic",
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:DescribeTopicDynamicConfiguration",
      "kafka-cluster:ReadData",
      "kafka-cluster:WriteData",
    ]
    resources = [
      "${var.kafka_topic_arn_prefix}/${var.consumer_groups.surveillance}-*", # wildcard-exception: Faust creates its table changelogs and leader topic named "<app id>-...".
    ]
  }

  statement {
    sid    = "ConsumerGroup"
    effect = "Allow"
    actions = [
      "kafka-cluster:AlterGroup",
      "kafka-cluster:DescribeGroup",
    ]
    resources = [local.group_arn.surveillance]
  }
}

# S3 sink: read the clean lake topic, write Parquet under the lake prefix,
# dead-letter what it cannot write.
data "aws_iam_policy_document" "s3_sink_task" {
  statement {
    sid    = "ConnectIdempotentProducer"
    effect = "Allow"
    actions = [
      "kafka-cluster:Connect",
      "kafka-cluster:DescribeCluster",
      "kafka-cluster:WriteDataIdempotently",
    ]
    resources = [local.cluster_arn]
  }

  statement {
    sid    = "ReadCleanLake"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:ReadData",
    ]
    resources = [local.topic_arn.clean_lake]
  }

  statement {
    sid    = "WriteDeadLetter"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:WriteData",
    ]
    resources = [local.topic_arn.dlq]
  }

  statement {
    sid    = "ConsumerGroup"
    effect = "Allow"
    actions = [
      "kafka-cluster:AlterGroup",
      "kafka-cluster:DescribeGroup",
    ]
    resources = [local.group_arn.s3_sink]
  }

  statement {
    sid       = "ListLakePrefix"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [var.lake_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.lake_prefix, "${var.lake_prefix}/*"]
    }
  }

  statement {
    sid    = "WriteLakePrefix"
    effect = "Allow"
    actions = [
      "s3:PutObject",
      "s3:GetObject",
      "s3:AbortMultipartUpload",
    ]
    resources = [
      "${var.lake_bucket_arn}/${var.lake_prefix}/*", # wildcard-exception: S3 object ARNs can only be scoped by key prefix; this is the lake prefix.
    ]
  }

  statement {
    sid    = "EncryptLakeObjects"
    effect = "Allow"
    actions = [
      "kms:GenerateDataKey",
      "kms:Decrypt",
    ]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

# Postgres sink: read the clean ops topic, upsert into RDS (IAM token login
# as the writer role), dead-letter what it cannot write.
data "aws_iam_policy_document" "postgres_sink_task" {
  statement {
    sid    = "ConnectIdempotentProducer"
    effect = "Allow"
    actions = [
      "kafka-cluster:Connect",
      "kafka-cluster:DescribeCluster",
      "kafka-cluster:WriteDataIdempotently",
    ]
    resources = [local.cluster_arn]
  }

  statement {
    sid    = "ReadCleanOps"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:ReadData",
    ]
    resources = [local.topic_arn.clean_ops]
  }

  statement {
    sid    = "WriteDeadLetter"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:WriteData",
    ]
    resources = [local.topic_arn.dlq]
  }

  statement {
    sid    = "ConsumerGroup"
    effect = "Allow"
    actions = [
      "kafka-cluster:AlterGroup",
      "kafka-cluster:DescribeGroup",
    ]
    resources = [local.group_arn.postgres_sink]
  }

  statement {
    sid       = "IamDatabaseLogin"
    effect    = "Allow"
    actions   = ["rds-db:connect"]
    resources = [local.rds_writer_arn]
  }
}

# Alerts sink: read the alerts topic, upsert surveillance_alerts in RDS as the
# writer role, dead-letter an alert it cannot write.
data "aws_iam_policy_document" "alerts_sink_task" {
  statement {
    sid    = "ConnectIdempotentProducer"
    effect = "Allow"
    actions = [
      "kafka-cluster:Connect",
      "kafka-cluster:DescribeCluster",
      "kafka-cluster:WriteDataIdempotently",
    ]
    resources = [local.cluster_arn]
  }

  statement {
    sid    = "ReadAlerts"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:ReadData",
    ]
    resources = [local.topic_arn.surveillance_alerts]
  }

  statement {
    sid    = "WriteDeadLetter"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:WriteData",
    ]
    resources = [local.topic_arn.dlq]
  }

  statement {
    sid    = "ConsumerGroup"
    effect = "Allow"
    actions = [
      "kafka-cluster:AlterGroup",
      "kafka-cluster:DescribeGroup",
    ]
    resources = [local.group_arn.alerts_sink]
  }

  statement {
    sid       = "IamDatabaseLogin"
    effect    = "Allow"
    actions   = ["rds-db:connect"]
    resources = [local.rds_writer_arn]
  }
}

# Dead-letters sink: read the dead-letter topic (its dlq.* headers only) and
# insert dead_letters rows in RDS as the writer role. It never dead-letters,
# so it never writes to its own input: no topic write at all.
data "aws_iam_policy_document" "dead_letters_sink_task" {
  statement {
    sid    = "ConnectIdempotentProducer"
    effect = "Allow"
    actions = [
      "kafka-cluster:Connect",
      "kafka-cluster:DescribeCluster",
      "kafka-cluster:WriteDataIdempotently",
    ]
    resources = [local.cluster_arn]
  }

  statement {
    sid    = "ReadDeadLetters"
    effect = "Allow"
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:ReadData",
    ]
    resources = [local.topic_arn.dlq]
  }

  statement {
    sid    = "ConsumerGroup"
    effect = "Allow"
    actions = [
      "kafka-cluster:AlterGroup",
      "kafka-cluster:DescribeGroup",
    ]
    resources = [local.group_arn.dead_letters_sink]
  }

  statement {
    sid       = "IamDatabaseLogin"
    effect    = "Allow"
    actions   = ["rds-db:connect"]
    resources = [local.rds_writer_arn]
  }
}

# Topic admin (one-off task): creates and configures the declared topics;
# it cannot read or write records.
data "aws_iam_policy_document" "topic_admin_task" {
  statement {
    sid    = "Connect"
    effect = "Allow"
    actions = [
      "kafka-cluster:Connect",
      "kafka-cluster:DescribeCluster",
    ]
    resources = [local.cluster_arn]
  }

  statement {
    sid    = "ManageDeclaredTopics"
    effect = "Allow"
    actions = [
      "kafka-cluster:CreateTopic",
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:AlterTopic",
      "kafka-cluster:DescribeTopicDynamicConfiguration",
      "kafka-cluster:AlterTopicDynamicConfiguration",
    ]
    resources = [
      local.topic_arn.raw_simuhealth,
      local.topic_arn.raw_gsheet,
      local.topic_arn.clean_lake,
      local.topic_arn.clean_ops,
      local.topic_arn.dlq,
      local.topic_arn.surveillance_cases,
      local.topic_arn.surveillance_counts,
      local.topic_arn.surveillance_alerts,
    ]
  }
}
