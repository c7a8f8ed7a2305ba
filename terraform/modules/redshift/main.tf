# Redshift warehouse: private, KMS-encrypted, TLS-only, enhanced VPC routing
# (COPY traffic to S3 goes through the VPC's S3 gateway endpoint), with an
# IAM role for COPY that reads only the lake prefix, and the pause/resume/resize
# schedule (run by Airflow, see schedule.tf) to pay only for the hours used.

data "aws_caller_identity" "current" {}

locals {
  cluster_identifier = "${var.name_prefix}-warehouse"
  cluster_type       = var.number_of_nodes > 1 ? "multi-node" : "single-node"
  audit_logs         = ["connectionlog", "userlog", "useractivitylog"]
}

resource "aws_redshift_subnet_group" "this" {
  name       = local.cluster_identifier
  subnet_ids = var.subnet_ids
}

resource "aws_redshift_parameter_group" "this" {
  name   = "${local.cluster_identifier}-params"
  family = "redshift-1.0"

  parameter {
    name  = "require_ssl"
    value = "true"
  }

  parameter {
    name  = "enable_user_activity_logging"
    value = "true"
  }
}

resource "aws_cloudwatch_log_group" "audit" {
  for_each = toset(local.audit_logs)

  name              = "/aws/redshift/cluster/${local.cluster_identifier}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
}

resource "aws_redshift_cluster" "this" {
  #checkov:skip=CKV_AWS_71:Audit logging is configured by aws_redshift_logging below; the check only reads the deprecated inline logging block.
  cluster_identifier = local.cluster_identifier
  node_type          = var.node_type
  number_of_nodes    = var.number_of_nodes
  cluster_type       = local.cluster_type

  database_name                     = var.database_name
  master_username                   = var.master_username
  manage_master_password            = true
  master_password_secret_kms_key_id = var.kms_key_arn

  encrypted            = true
  kms_key_id           = var.kms_key_arn
  enhanced_vpc_routing = true
  publicly_accessible  = false

  cluster_subnet_group_name    = aws_redshift_subnet_group.this.name
  vpc_security_group_ids       = [var.security_group_id]
  cluster_parameter_group_name = aws_redshift_parameter_group.this.name

  iam_roles            = [aws_iam_role.copy.arn]
  default_iam_role_arn = aws_iam_role.copy.arn

  automated_snapshot_retention_period  = var.snapshot_retention_days
  preferred_maintenance_window         = "sun:03:00-sun:03:30"
  allow_version_upgrade                = true
  availability_zone_relocation_enabled = true
  skip_final_snapshot                  = false
  final_snapshot_identifier            = "${local.cluster_identifier}-final"

}

# Audit logging (connections, users, user activity) to the KMS-encrypted log
# groups above; the cluster's inline logging block is deprecated.
resource "aws_redshift_logging" "this" {
  cluster_identifier   = aws_redshift_cluster.this.cluster_identifier
  log_destination_type = "cloudwatch"
  log_exports          = local.audit_logs

  depends_on = [aws_cloudwatch_log_group.audit]
}

# The DSN the warehouse loader reads (DAAS_WAREHOUSE_DSN). Terraform creates
# the secret but never its value: an operator creates the loader user in the
# warehouse and stores its DSN here, keeping credentials out of state.
resource "aws_secretsmanager_secret" "dsn" {
  #checkov:skip=CKV2_AWS_57:The value is a DSN for a warehouse user managed outside Terraform; it is rotated with that user, not by a Lambda rotator.
  name                    = "${var.name_prefix}/redshift/loader-dsn"
  description             = "DSN of the warehouse loader user on ${local.cluster_identifier} (DAAS_WAREHOUSE_DSN)."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 30
}

# ------------------------------------------------------------------ COPY role

data "aws_iam_policy_document" "copy_trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["redshift.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "copy" {
  name               = "${local.cluster_identifier}-copy"
  description        = "Assumed by Redshift for COPY from the lake prefix"
  assume_role_policy = data.aws_iam_policy_document.copy_trust.json
}

data "aws_iam_policy_document" "copy" {
  statement {
    sid       = "ListLakePrefixOnly"
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
    sid     = "ReadLakePrefixOnly"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${var.lake_bucket_arn}/${var.lake_prefix}/*", # wildcard-exception: S3 object ARNs can only be scoped by key prefix; this is the lake prefix.
    ]
  }

  statement {
    sid       = "DecryptLakeObjects"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [var.lake_kms_key_arn]
  }
}

resource "aws_iam_role_policy" "copy" {
  name   = "copy-from-lake-prefix"
  role   = aws_iam_role.copy.id
  policy = data.aws_iam_policy_document.copy.json
}
