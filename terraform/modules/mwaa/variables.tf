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

variable "redshift_cluster_identifier" {
  description = "Cluster the loads run on (Data API) and the lifecycle DAG controls."
  type        = string
}

variable "redshift_database" {
  description = "Warehouse database."
  type        = string
}

variable "redshift_db_user" {
  description = "Warehouse user the DAGs' Data API statements run as (temporary credentials); created by an operator."
  type        = string
  default     = "daas_loader"
}

variable "redshift_copy_role_arn" {
  description = "Role named in COPY ... IAM_ROLE."
  type        = string
}

variable "redshift_sizes" {
  description = "Cluster sizes outside (base) and during (heavy) the weekly heavy window."
  type = object({
    base  = object({ node_type = string, nodes = number })
    heavy = object({ node_type = string, nodes = number })
  })
}

variable "airbyte_connection_id" {
  description = "Airbyte connection the rds_to_redshift_sync DAG triggers."
  type        = string
}

variable "rds_schema" {
  description = "Warehouse schema the Airbyte connection writes the RDS tables to (the destination's schema)."
  type        = string
}

variable "published_readers" {
  description = "Warehouse users or roles granted the published views on every publish."
  type        = list(string)
  default     = []
}

variable "airflow_options" {
  description = "More Airflow configuration options, e.g. the [daas] lifecycle schedule from the redshift module."
  type        = map(string)
  default     = {}
}

variable "lake_bucket_name" {
  description = "Lake bucket (DAAS_S3_BUCKET of the DAGs' project code)."
  type        = string
}

variable "lake_bucket_arn" {
  description = "Lake bucket whose manifests the warehouse-load DAG lists and reads."
  type        = string
}

variable "lake_prefix" {
  description = "Lake key prefix (DAAS_S3_PREFIX)."
  type        = string
}
