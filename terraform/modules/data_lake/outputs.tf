output "bucket_name" {
  description = "Name of the lake bucket."
  value       = module.lake.id
}

output "bucket_arn" {
  description = "ARN of the lake bucket."
  value       = module.lake.arn
}

output "lake_prefix" {
  description = "Key prefix of the Parquet batches and manifests."
  value       = var.lake_prefix
}

output "airbyte_staging_prefix" {
  description = "Key prefix where Airbyte stages files for its Redshift COPY."
  value       = var.airbyte_staging_prefix
}

output "access_log_bucket_name" {
  description = "Name of the S3 server access log bucket (other buckets of this deployment log here too)."
  value       = aws_s3_bucket.logs.id
}

output "access_log_prefix_root" {
  description = "Key prefix under which access logs are delivered; append '<bucket>/'."
  value       = local.log_prefix_root
}
