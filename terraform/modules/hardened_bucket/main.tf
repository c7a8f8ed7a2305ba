# One private S3 bucket hardened to the estate's baseline: owner-enforced,
# every public access path blocked, versioned, SSE-KMS with a bucket key,
# access-logged, TLS-only, and rid of old versions and failed uploads.
#
# The access-log bucket itself cannot use this module: it may not log into
# itself and S3 only delivers access logs to SSE-S3 buckets (see data_lake).

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Callers keep their data in one region (data residency for the lake); contents are rebuilt from Kafka replay or from git, so replication would add nothing. Revisit before using this module for a bucket that is neither.
  #checkov:skip=CKV2_AWS_62:No caller consumes object events: lake loads are driven by the sink's manifests through Airflow, and MWAA polls its DAG bucket itself.
  bucket = var.name
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "this" {
  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket_name
  target_prefix = var.access_log_prefix
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  dynamic "rule" {
    for_each = var.transition_rules
    content {
      id     = rule.value.id
      status = "Enabled"
      filter {
        and {
          prefix                   = rule.value.prefix
          object_size_greater_than = rule.value.object_size_greater_than
        }
      }
      transition {
        days          = rule.value.days
        storage_class = rule.value.storage_class
      }
    }
  }

  dynamic "rule" {
    for_each = var.expiration_rules
    content {
      id     = rule.value.id
      status = "Enabled"
      filter {
        prefix = rule.value.prefix
      }
      expiration {
        days = rule.value.days
      }
    }
  }

  # Every bucket gets this rule, last. It is a one-element dynamic block only
  # because checkov replaces static blocks with the dynamic ones of the same
  # name and would otherwise not see it (CKV_AWS_300).
  dynamic "rule" {
    for_each = [var.cleanup_rule_id]
    content {
      id     = rule.value
      status = "Enabled"
      filter {}
      noncurrent_version_expiration {
        noncurrent_days = var.noncurrent_version_expiration_days
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "this" {
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
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*", # wildcard-exception: the deny applies to every object in the bucket.
    ]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  dynamic "statement" {
    for_each = var.deny_tls_below_1_2 ? [1] : []
    content {
      sid    = "DenyOutdatedTls"
      effect = "Deny"
      principals {
        type        = "*"
        identifiers = ["*"]
      }
      actions = [
        "s3:*", # wildcard-exception: a TLS-version deny must cover every S3 action.
      ]
      resources = [
        aws_s3_bucket.this.arn,
        "${aws_s3_bucket.this.arn}/*", # wildcard-exception: the deny applies to every object in the bucket.
      ]
      condition {
        test     = "NumericLessThan"
        variable = "s3:TlsVersion"
        values   = ["1.2"]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
