# The Redshift destination stages files in S3 and COPYs them with a static
# access key (the connector accepts no IAM role). The key belongs to this
# user, whose only permissions are the staging prefix of the lake bucket and
# the lake key. Terraform does not create the access key (it would land in
# state): an operator creates it, stores it in Secrets Manager, and the
# deploy pipeline passes it in as TF_VAR_airbyte_staging_* (see README).

resource "aws_iam_user" "staging" {
  #checkov:skip=CKV_AWS_273:The Airbyte Redshift destination only accepts static access keys for S3 staging; this user has no console login and only the staging prefix.
  name = "${var.name_prefix}-airbyte-staging"
  path = "/service/"
}

resource "aws_iam_group" "staging" {
  name = "${var.name_prefix}-airbyte-staging"
  path = "/service/"
}

resource "aws_iam_user_group_membership" "staging" {
  user   = aws_iam_user.staging.name
  groups = [aws_iam_group.staging.name]
}

data "aws_iam_policy_document" "staging" {
  statement {
    sid       = "ListStagingPrefix"
    effect    = "Allow"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.staging_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.staging_prefix, "${var.staging_prefix}/*"]
    }
  }

  statement {
    sid    = "ReadWriteStagingPrefix"
    effect = "Allow"
    actions = [
      "s3:PutObject",
      "s3:GetObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
    ]
    resources = [
      "${var.staging_bucket_arn}/${var.staging_prefix}/*", # wildcard-exception: S3 object ARNs can only be scoped by key prefix; this is the staging prefix.
    ]
  }

  statement {
    sid    = "UseLakeKeyViaS3"
    effect = "Allow"
    actions = [
      "kms:GenerateDataKey",
      "kms:Decrypt",
    ]
    resources = [var.staging_kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

resource "aws_iam_group_policy" "staging" {
  name   = "airbyte-s3-staging"
  group  = aws_iam_group.staging.name
  policy = data.aws_iam_policy_document.staging.json
}
