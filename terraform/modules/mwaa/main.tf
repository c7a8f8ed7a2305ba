# Amazon MWAA scaffold: DAG bucket (versioned, KMS, TLS-only, access-logged),
# an environment in the private subnets whose web server is reachable only
# from inside the VPC, and an execution role limited to what MWAA itself
# needs plus what the DAGs do (warehouse load, Airbyte trigger via its
# connection, Redshift lifecycle).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  env_name   = "${var.name_prefix}-airflow"
  bucket     = "${var.name_prefix}-airflow-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  account    = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  env_arn    = "arn:${local.partition}:airflow:${local.region}:${local.account}:environment/${local.env_name}"
  log_groups = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:airflow-${local.env_name}-*"
  # Airflow connections and variables live in Secrets Manager under this prefix.
  secrets_prefix = "${var.name_prefix}/airflow"
}

# ------------------------------------------------------------- DAG bucket

module "dags" {
  source = "../hardened_bucket"

  name                   = local.bucket
  kms_key_arn            = var.kms_key_arn
  access_log_bucket_name = var.access_log_bucket_name
  access_log_prefix      = "${var.access_log_prefix_root}${local.bucket}/"

  cleanup_rule_id                    = "old-dag-versions"
  noncurrent_version_expiration_days = 90
}

# --------------------------------------------------------- execution role

data "aws_iam_policy_document" "trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${local.env_name}-execution"
  description        = "MWAA execution role for ${local.env_name}"
  assume_role_policy = data.aws_iam_policy_document.trust.json
}

data "aws_iam_policy_document" "execution" {
  # --- what MWAA itself needs
  statement {
    sid       = "PublishMetrics"
    effect    = "Allow"
    actions   = ["airflow:PublishMetrics"]
    resources = [local.env_arn]
  }

  statement {
    sid    = "ReadDagBucket"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetBucketLocation",
      "s3:GetBucketVersioning",
      "s3:GetBucketPublicAccessBlock",
      "s3:GetEncryptionConfiguration",
      "s3:ListBucket",
    ]
    resources = [
      module.dags.arn,
      "${module.dags.arn}/*", # wildcard-exception: MWAA reads every DAG, plugin and requirements object in its own bucket.
    ]
  }

  statement {
    sid    = "CheckAccountPublicAccessBlock"
    effect = "Allow"
    actions = [
      "s3:GetAccountPublicAccessBlock",
    ]
    resources = [
      "*", # wildcard-exception: s3:GetAccountPublicAccessBlock supports no resource-level permissions.
    ]
  }

  statement {
    sid    = "WriteOwnLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:GetLogEvents",
      "logs:GetLogRecord",
      "logs:GetLogGroupFields",
      "logs:GetQueryResults",
    ]
    resources = [
      local.log_groups, # wildcard-exception: MWAA creates its log groups as airflow-<env>-<component>.
    ]
  }

  statement {
    sid     = "DescribeLogGroups"
    effect  = "Allow"
    actions = ["logs:DescribeLogGroups"]
    resources = [
      "*", # wildcard-exception: logs:DescribeLogGroups supports no resource-level permissions.
    ]
  }

  statement {
    sid     = "PutMetricData"
    effect  = "Allow"
    actions = ["cloudwatch:PutMetricData"]
    resources = [
      "*", # wildcard-exception: cloudwatch:PutMetricData supports no resource-level permissions.
    ]
  }

  statement {
    sid    = "CeleryQueue"
    effect = "Allow"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = [
      "arn:${local.partition}:sqs:${local.region}:*:airflow-celery-*", # wildcard-exception: the Celery queue lives in an AWS-owned account with a generated name.
    ]
  }

  statement {
    sid    = "UseKeyForQueueAndBucket"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:GenerateDataKey",
      "kms:Encrypt",
    ]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = [
        "sqs.${local.region}.amazonaws.com",
        "s3.${local.region}.amazonaws.com",
        "secretsmanager.${local.region}.amazonaws.com",
      ]
    }
  }

  # --- what the DAGs do
  statement {
    sid    = "ReadAirflowConnectionsAndVariables"
    effect = "Allow"
    actions = [
      "secretsmanager:GetSecretValue",
      "secretsmanager:DescribeSecret",
    ]
    resources = [
      "arn:${local.partition}:secretsmanager:${local.region}:${local.account}:secret:${local.secrets_prefix}/*", # wildcard-exception: the Airflow secrets backend looks connections up by name under this prefix; secret ARNs end in a random suffix.
      var.warehouse_dsn_secret_arn,
    ]
  }

  statement {
    sid       = "ListLakeManifests"
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
    sid     = "ReadLakeManifests"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${var.lake_bucket_arn}/${var.lake_prefix}/*", # wildcard-exception: S3 object ARNs can only be scoped by key prefix; this is the lake prefix.
    ]
  }

  statement {
    sid    = "RedshiftLifecycle"
    effect = "Allow"
    actions = [
      "redshift:DescribeClusters",
      "redshift:PauseCluster",
      "redshift:ResumeCluster",
      "redshift:ResizeCluster",
    ]
    resources = [var.redshift_cluster_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "mwaa-and-dags"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# ------------------------------------------------------------ environment

resource "aws_mwaa_environment" "this" {
  name              = local.env_name
  airflow_version   = var.airflow_version
  environment_class = var.environment_class
  min_workers       = var.min_workers
  max_workers       = var.max_workers

  execution_role_arn             = aws_iam_role.execution.arn
  source_bucket_arn              = module.dags.arn
  dag_s3_path                    = "dags/"
  requirements_s3_path           = var.requirements_s3_object_version == null ? null : "requirements.txt"
  requirements_s3_object_version = var.requirements_s3_object_version
  kms_key                        = var.kms_key_arn

  webserver_access_mode           = "PRIVATE_ONLY"
  weekly_maintenance_window_start = "SUN:04:00"

  network_configuration {
    security_group_ids = [var.security_group_id]
    subnet_ids         = var.subnet_ids
  }

  airflow_configuration_options = {
    "secrets.backend"        = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
    "secrets.backend_kwargs" = jsonencode({ connections_prefix = "${local.secrets_prefix}/connections", variables_prefix = "${local.secrets_prefix}/variables" })
    "core.default_timezone"  = "utc"
  }

  logging_configuration {
    dag_processing_logs {
      enabled   = true
      log_level = "INFO"
    }
    scheduler_logs {
      enabled   = true
      log_level = "INFO"
    }
    task_logs {
      enabled   = true
      log_level = "INFO"
    }
    webserver_logs {
      enabled   = true
      log_level = "WARNING"
    }
    worker_logs {
      enabled   = true
      log_level = "INFO"
    }
  }

  # MWAA rejects a source bucket whose public access is not blocked yet.
  depends_on = [aws_iam_role_policy.execution, module.dags]
}
