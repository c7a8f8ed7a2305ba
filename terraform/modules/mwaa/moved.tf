# The DAG bucket moved into modules/hardened_bucket; these keep the existing
# resources in state instead of destroying and recreating the bucket.

moved {
  from = aws_s3_bucket.dags
  to   = module.dags.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_ownership_controls.dags
  to   = module.dags.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_public_access_block.dags
  to   = module.dags.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_versioning.dags
  to   = module.dags.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.dags
  to   = module.dags.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_logging.dags
  to   = module.dags.aws_s3_bucket_logging.this
}

moved {
  from = aws_s3_bucket_policy.dags
  to   = module.dags.aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.dags
  to   = module.dags.aws_s3_bucket_lifecycle_configuration.this
}
