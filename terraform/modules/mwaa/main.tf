# Amazon MWAA: DAG bucket (versioned, KMS, TLS-only, access-logged), an
# environment in the private subnets whose web server is reachable only from
# inside the VPC, and an execution role limited to what MWAA itself needs plus
# what the DAGs do (warehouse load and publish through the Redshift Data API,
# Airbyte trigger via its connection, Redshift lifecycle).
#
# Terraform also publishes what the environment runs, from this repository:
# the DAG files and the project packages they import (under dags/, which
# Airflow puts on sys.path; .airflowignore keeps the packages out of DAG
# parsing), requirements.txt, and a startup script exporting the DAAS_*
# settings of this deployment. The DAGs' run-time configuration is the
# Variable daas_warehouse, written to Secrets Manager below.

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

  # What the DAGs import from this repository (dags/ itself, plus these packages).
  repo             = abspath("${path.module}/../../..")
  project_packages = ["daas", "reference", "schemas", "sinks", "warehouse"]
  bundle = merge(
    { for f in fileset(local.repo, "dags/*.py") : trimprefix(f, "dags/") => f },
    { for f in flatten([for p in local.project_packages : tolist(fileset(local.repo, "${p}/**"))]) : f => f
    if !strcontains(f, "__pycache__") },
  )

  # The Airflow Variable daas_warehouse (warehouse.config.WarehouseConfig): ids and
  # names only, no credentials (the Data API signs with the execution role).
  warehouse_variable = {
    target                = "redshift"
    rds_sync              = "airbyte"
    airbyte_connection_id = var.airbyte_connection_id
    rds_schema            = var.rds_schema
    published_readers     = var.published_readers
    redshift = {
      cluster_identifier = var.redshift_cluster_identifier
      database           = var.redshift_database
      db_user            = var.redshift_db_user
      iam_role_arn       = var.redshift_copy_role_arn
      aws_conn_id        = "aws_default" # the execution role
      region_name        = local.region
      base               = var.redshift_sizes.base
      heavy              = var.redshift_sizes.heavy
    }
  }
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
    ]
  }

  # COPY + MERGE, publish and the load-lease check run as Redshift Data API
  # statement batches on the cluster (warehouse.redshift.RedshiftDataApi).
  statement {
    sid    = "RunWarehouseStatements"
    effect = "Allow"
    actions = [
      "redshift-data:BatchExecuteStatement",
      "redshift-data:ExecuteStatement",
    ]
    resources = [var.redshift_cluster_arn]
  }

  statement {
    sid    = "FollowOwnWarehouseStatements"
    effect = "Allow"
    actions = [
      "redshift-data:DescribeStatement",
      "redshift-data:GetStatementResult",
      "redshift-data:CancelStatement",
      "redshift-data:ListStatements",
    ]
    resources = [
      "*", # wildcard-exception: statement ids have no ARN; the condition limits these to statements this role started.
    ]
    condition {
      test     = "StringEquals"
      variable = "redshift-data:statement-owner-iam-userid"
      values   = ["$${aws:userid}"]
    }
  }

  # The Data API logs in as the loader user with temporary credentials (db_user).
  statement {
    sid     = "WarehouseLoaderCredentials"
    effect  = "Allow"
    actions = ["redshift:GetClusterCredentials"]
    resources = [
      "arn:${local.partition}:redshift:${local.region}:${local.account}:dbuser:${var.redshift_cluster_identifier}/${var.redshift_db_user}",
      "arn:${local.partition}:redshift:${local.region}:${local.account}:dbname:${var.redshift_cluster_identifier}/${var.redshift_database}",
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

  execution_role_arn               = aws_iam_role.execution.arn
  source_bucket_arn                = module.dags.arn
  dag_s3_path                      = "dags/"
  requirements_s3_path             = aws_s3_object.requirements.key
  requirements_s3_object_version   = aws_s3_object.requirements.version_id
  startup_script_s3_path           = aws_s3_object.startup.key
  startup_script_s3_object_version = aws_s3_object.startup.version_id
  kms_key                          = var.kms_key_arn

  webserver_access_mode           = "PRIVATE_ONLY"
  weekly_maintenance_window_start = "SUN:04:00"

  network_configuration {
    security_group_ids = [var.security_group_id]
    subnet_ids         = var.subnet_ids
  }

  airflow_configuration_options = merge({
    "secrets.backend"         = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
    "secrets.backend_kwargs"  = jsonencode({ connections_prefix = "${local.secrets_prefix}/connections", variables_prefix = "${local.secrets_prefix}/variables" })
    "core.default_timezone"   = "utc"
    "daas.airbyte_conn_id"    = "airbyte_default"
    "daas.lake_manifests_uri" = "s3://${var.lake_bucket_name}/${var.lake_prefix}/_manifests/"
  }, var.airflow_options)

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
  depends_on = [aws_iam_role_policy.execution, module.dags, aws_s3_object.dags, aws_s3_object.airflowignore]
}

# ------------------------------------------------- what the environment runs

resource "aws_s3_object" "dags" {
  for_each = local.bundle

  bucket      = module.dags.id
  key         = "dags/${each.key}"
  source      = "${local.repo}/${each.value}"
  source_hash = filemd5("${local.repo}/${each.value}")
  kms_key_id  = var.kms_key_arn
}

# The project packages sit beside the DAG files for import, not for parsing.
resource "aws_s3_object" "airflowignore" {
  bucket     = module.dags.id
  key        = "dags/.airflowignore"
  content    = join("\n", [for p in local.project_packages : "${p}/"])
  kms_key_id = var.kms_key_arn
}

resource "aws_s3_object" "requirements" {
  bucket      = module.dags.id
  key         = "requirements.txt"
  source      = "${path.module}/requirements.txt"
  source_hash = filemd5("${path.module}/requirements.txt")
  kms_key_id  = var.kms_key_arn
}

resource "aws_s3_object" "startup" {
  bucket = module.dags.id
  key    = "startup.sh"
  content = templatefile("${path.module}/startup.sh.tftpl", {
    bucket = var.lake_bucket_name
    prefix = var.lake_prefix
    region = local.region
  })
  kms_key_id = var.kms_key_arn
}

# --------------------------------------------- run-time config and connections

# The Variable daas_warehouse, read by the DAGs through the secrets backend.
resource "aws_secretsmanager_secret" "warehouse_variable" {
  #checkov:skip=CKV2_AWS_57:Holds identifiers (cluster, role, connection ids), no credential to rotate; Terraform rewrites it on every change.
  name                    = "${local.secrets_prefix}/variables/daas_warehouse"
  description             = "Airflow Variable daas_warehouse of ${local.env_name} (warehouse.config.WarehouseConfig)."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "warehouse_variable" {
  secret_id     = aws_secretsmanager_secret.warehouse_variable.id
  secret_string = jsonencode(local.warehouse_variable)
}

# The Airflow connection airbyte_default (Airbyte API URL, client id and secret).
# Terraform creates it empty: an operator stores its value, keeping the client
# secret out of state.
resource "aws_secretsmanager_secret" "airbyte_connection" {
  #checkov:skip=CKV2_AWS_57:An Airbyte application's client credentials, rotated in Airbyte, not by a Lambda rotator.
  name                    = "${local.secrets_prefix}/connections/airbyte_default"
  description             = "Airflow connection airbyte_default of ${local.env_name}: JSON {conn_type: airbyte, host, login, password}."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 30
}
