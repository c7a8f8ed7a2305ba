variable "environment" {
  description = "Environment name (dev, prod): part of every resource name (daas-<environment>-...)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group."
  type        = number
  default     = 365
}

# ---------------------------------------------------------------- network

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
}

variable "availability_zones" {
  description = "The two zones of the deployment."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per zone."
  type        = bool
}

# ------------------------------------------------------------------- lake

variable "lake_prefix" {
  description = "Key prefix of the Parquet batches (DAAS_S3_PREFIX)."
  type        = string
  default     = "encounters"
}

# ------------------------------------------------------------------ Kafka

variable "kafka_version" {
  description = "MSK Kafka version."
  type        = string
  default     = "3.8.x"
}

variable "kafka_topic_partitions" {
  description = "Partitions of every pipeline topic (DAAS_KAFKA_PARTITIONS); caps the tasks per consumer group."
  type        = number
  default     = 6
}

variable "msk_broker_count" {
  description = "Number of brokers (even: two zones)."
  type        = number
}

variable "msk_broker_instance_type" {
  description = "Broker instance type."
  type        = string
}

variable "msk_broker_volume_size_gib" {
  description = "EBS volume per broker."
  type        = number
}

variable "msk_replication_factor" {
  description = "Default replication factor."
  type        = number
}

variable "msk_min_insync_replicas" {
  description = "min.insync.replicas."
  type        = number
}

# ---------------------------------------------------------------- RDS

variable "rds_instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "rds_allocated_storage_gib" {
  description = "Initial RDS storage."
  type        = number
}

variable "rds_multi_az" {
  description = "Standby in the second zone."
  type        = bool
}

variable "rds_deletion_protection" {
  description = "Refuse deletion of the instance."
  type        = bool
}

variable "rds_backup_retention_days" {
  description = "Days of automated backups."
  type        = number
}

# ------------------------------------------------------------- Redshift

variable "redshift_node_type" {
  description = "Redshift node type."
  type        = string
}

variable "redshift_number_of_nodes" {
  description = "Nodes outside the heavy window."
  type        = number
}

variable "redshift_schedule_enabled" {
  description = "Run the scheduled pause/resume/resize."
  type        = bool
  default     = true
}

variable "redshift_pause_hour_utc" {
  description = "Weekday pause hour (UTC)."
  type        = number
  default     = 20
}

variable "redshift_resume_hour_utc" {
  description = "Weekday resume hour (UTC)."
  type        = number
  default     = 6
}

variable "redshift_scheduled_resize_enabled" {
  description = "Schedule the weekly heavy window."
  type        = bool
}

variable "redshift_resize_number_of_nodes" {
  description = "Nodes during the heavy window."
  type        = number
}

variable "redshift_node_hourly_price_usd" {
  description = "On-demand price of one node-hour of redshift_node_type in aws_region (savings estimate only)."
  type        = number
}

# ------------------------------------------------------- stream services

variable "image_tag" {
  description = "Immutable tag of the pipeline image (set by the deploy pipeline)."
  type        = string
}

variable "service_sizing" {
  description = "Fargate size and task-count bounds per stream service."
  type = map(object({
    cpu       = number
    memory    = number
    min_count = number
    max_count = number
  }))
}

variable "gsheet_spreadsheet_id" {
  description = "Google spreadsheet the sheet poller reads (DAAS_GSHEET_ID); shared with the poller's service account."
  type        = string
}

variable "consumer_lag_target" {
  description = "Summed consumer-group offset lag each consuming service scales to keep (0 = CPU scaling only)."
  type        = number
  default     = 0
}

# ------------------------------------------------------------------ MWAA

variable "mwaa_airflow_version" {
  description = "Airflow version of the MWAA environment."
  type        = string
}

variable "mwaa_environment_class" {
  description = "MWAA environment class."
  type        = string
}

variable "mwaa_min_workers" {
  description = "Minimum MWAA workers."
  type        = number
}

variable "mwaa_max_workers" {
  description = "Maximum MWAA workers."
  type        = number
}

# --------------------------------------------------------------- Airbyte

variable "airbyte_workspace_id" {
  description = "Airbyte workspace ID."
  type        = string
}

variable "airbyte_source_connector_version" {
  description = "Pinned source-postgres connector version."
  type        = string
}

variable "airbyte_destination_connector_version" {
  description = "Pinned destination-redshift connector version."
  type        = string
}

variable "airbyte_source_password" {
  description = "Password of the airbyte_reader role on RDS (TF_VAR_airbyte_source_password)."
  type        = string
  sensitive   = true
}

variable "airbyte_destination_password" {
  description = "Password of the airbyte_loader user on Redshift (TF_VAR_airbyte_destination_password)."
  type        = string
  sensitive   = true
}

variable "airbyte_staging_access_key_id" {
  description = "Access key ID of the Airbyte staging user (TF_VAR_airbyte_staging_access_key_id)."
  type        = string
  sensitive   = true
}

variable "airbyte_staging_secret_access_key" {
  description = "Secret access key of the Airbyte staging user (TF_VAR_airbyte_staging_secret_access_key)."
  type        = string
  sensitive   = true
}
