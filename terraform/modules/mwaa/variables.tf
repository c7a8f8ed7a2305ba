variable "name_prefix" {
  description = "Prefix for resource names, e.g. daas-prod."
  type        = string
}

variable "airflow_version" {
  description = "Airflow version offered by MWAA. MWAA lags upstream: the DAGs must run on this version, not only on the locally pinned one."
  type        = string
  default     = "3.0.6"
}

variable "environment_class" {
  description = "MWAA environment class."
  type        = string
  default     = "mw1.small"
}

variable "min_workers" {
  description = "Minimum Celery workers."
  type        = number
  default     = 1
}

variable "max_workers" {
  description = "Maximum Celery workers."
  type        = number
  default     = 2
}

variable "requirements_s3_object_version" {
  description = "S3 object version of requirements.txt in the DAG bucket; null until the first upload."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Exactly two private subnets in different zones."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) == 2
    error_message = "MWAA needs exactly two private subnets."
  }
}

variable "security_group_id" {
  description = "Security group of the environment (self-referencing, egress to Redshift, Airbyte and HTTPS)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for the environment (metadata DB, logs, queues) and the DAG bucket."
  type        = string
}

variable "access_log_bucket_name" {
  description = "Bucket receiving the DAG bucket's server access logs."
  type        = string
}

variable "access_log_prefix_root" {
  description = "Key prefix for access logs in that bucket."
  type        = string
}

variable "redshift_cluster_arn" {
  description = "Cluster the lifecycle DAG pauses, resumes and resizes."
  type        = string
}

variable "warehouse_dsn_secret_arn" {
  description = "Secret with the warehouse loader DSN (the COPY + MERGE DAG)."
  type        = string
}

variable "lake_bucket_arn" {
  description = "Lake bucket whose manifests the warehouse-load DAG lists and reads."
  type        = string
}

variable "lake_prefix" {
  description = "Lake key prefix."
  type        = string
}
