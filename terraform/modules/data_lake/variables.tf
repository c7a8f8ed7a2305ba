variable "name_prefix" {
  description = "Prefix for resource names, e.g. daas-prod."
  type        = string
}

variable "lake_prefix" {
  description = "Key prefix under which the S3 sink writes Parquet objects and manifests (no leading or trailing slash)."
  type        = string
  default     = "encounters"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_/-]*[a-z0-9]$", var.lake_prefix))
    error_message = "lake_prefix must be a relative key prefix without leading or trailing slash."
  }
}

variable "airbyte_staging_prefix" {
  description = "Key prefix where Airbyte stages files before its Redshift COPY."
  type        = string
  default     = "airbyte-staging"
}

variable "kms_key_arn" {
  description = "KMS key that encrypts every object in the lake bucket."
  type        = string
}

variable "transition_to_ia_after_days" {
  description = "Age in days after which Parquet objects move to STANDARD_IA (loads read recent batches; older ones are only re-read on replay)."
  type        = number
  default     = 30

  validation {
    condition     = var.transition_to_ia_after_days >= 30
    error_message = "S3 requires objects to be at least 30 days old before STANDARD_IA."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept (undo window for a bad rewrite)."
  type        = number
  default     = 90
}

variable "access_log_retention_days" {
  description = "Days the S3 server access logs are kept."
  type        = number
  default     = 365
}
