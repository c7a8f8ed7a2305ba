# The data lake bucket (Parquet batches and manifests written by the S3 sink,
# read by the Redshift COPY) and the bucket receiving its access logs.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  suffix          = "${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  lake_bucket     = "${var.name_prefix}-lake-${local.suffix}"
  log_bucket      = "${var.name_prefix}-s3-access-logs-${local.suffix}"
  log_prefix_root = "s3-access/"
}

# ---------------------------------------------------------------- lake bucket

module "lake" {
  source = "../hardened_bucket"

  name                   = local.lake_bucket
  kms_key_arn            = var.kms_key_arn
  access_log_bucket_name = aws_s3_bucket.logs.id
  access_log_prefix      = "${local.log_prefix_root}${local.lake_bucket}/"
  deny_tls_below_1_2     = true

  transition_rules = [{
    id     = "parquet-to-standard-ia"
    prefix = "${var.lake_prefix}/"
    # Objects below 128 KiB cost more in IA than in STANDARD.
    object_size_greater_than = 131072
    days                     = var.transition_to_ia_after_days
    storage_class            = "STANDARD_IA"
  }]
  expiration_rules = [{
    id     = "expire-airbyte-staging"
    prefix = "${var.airbyte_staging_prefix}/"
    days   = 7
  }]
  cleanup_rule_id                    = "noncurrent-versions-and-incomplete-uploads"
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
}

# ------------------------------------------------------- access-log bucket

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:This is the access-log target; logging it into itself would loop.
  #checkov:skip=CKV_AWS_144:Logs stay in the region of the data they describe (data residency).
  #checkov:skip=CKV_AWS_145:S3 server access logging only delivers to SSE-S3 (AES256) buckets; SSE-KMS targets are not supported.
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events on the access-log bucket.
  bucket = local.log_bucket
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

data "aws_iam_policy_document" "logs" {
  statement {
    sid    = "AllowS3ServerAccessLogDelivery"
    effect = "Allow"
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    actions = ["s3:PutObject"]
    resources = [
      "${aws_s3_bucket.logs.arn}/${local.log_prefix_root}*", # wildcard-exception: the log service names each log object itself.
    ]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values = [
        "arn:aws:s3:::${var.name_prefix}-*", # wildcard-exception: any bucket of this deployment may log here (lake, MWAA DAGs).
      ]
    }
  }

  statement {
    sid    = "DenyInsecureTransport"
    effect = "Deny"
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    actions = [
      "s3:*", # wildcard-exception: a TLS-only deny must cover every S3 action.
    ]
    resources = [
      aws_s3_bucket.logs.arn,
      "${aws_s3_bucket.logs.arn}/*", # wildcard-exception: the deny applies to every object in the bucket.
    ]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = data.aws_iam_policy_document.logs.json

  depends_on = [aws_s3_bucket_public_access_block.logs]
}
