# A customer-managed KMS key with yearly rotation and an explicit key policy.
#
# Access is granted through IAM: the key policy delegates to the account (the
# AWS-recommended default), so each role's own least-privilege policy decides
# who may use the key. The only service principal named here is CloudWatch
# Logs, which cannot use IAM and must be allowed in the key policy itself,
# restricted by encryption context to the given log groups.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_root_arn = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
}

data "aws_iam_policy_document" "key_policy" {
  #checkov:skip=CKV_AWS_109:Key policy, not an identity policy: "*" is this key, and delegating to the account root is AWS's default that lets IAM grant use.
  #checkov:skip=CKV_AWS_111:Key policy, not an identity policy: "*" is this key, and delegating to the account root is AWS's default that lets IAM grant use.
  #checkov:skip=CKV_AWS_356:Key policy, not an identity policy: in a key policy the resource "*" can only mean this key.
  statement {
    sid    = "DelegateKeyAccessToAccountIam"
    effect = "Allow"
    principals {
      type        = "AWS"
      identifiers = [local.account_root_arn]
    }
    actions = [
      "kms:*", # wildcard-exception: AWS default key policy; without it the key can become unmanageable and IAM policies cannot grant use.
    ]
    resources = [
      "*", # wildcard-exception: in a key policy "*" means this key only.
    ]
  }

  dynamic "statement" {
    for_each = length(var.cloudwatch_log_group_arn_patterns) > 0 ? [1] : []
    content {
      sid    = "AllowCloudWatchLogsForNamedLogGroups"
      effect = "Allow"
      principals {
        type        = "Service"
        identifiers = ["logs.${data.aws_region.current.name}.amazonaws.com"]
      }
      actions = [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:DescribeKey",
      ]
      resources = [
        "*", # wildcard-exception: in a key policy "*" means this key only.
      ]
      condition {
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values   = var.cloudwatch_log_group_arn_patterns
      }
    }
  }
}

resource "aws_kms_key" "this" {
  description             = var.description
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key_policy.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
