variable "name_prefix" {
  description = "Prefix for resource names, e.g. daas-prod."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major version; minor versions are applied in the maintenance window."
  type        = string
  default     = "16"
}

variable "parameter_group_family" {
  description = "Parameter group family matching engine_version."
  type        = string
  default     = "postgres16"
}

variable "instance_class" {
  description = "Instance class."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage_gib" {
  description = "Initial storage."
  type        = number
  default     = 50
}

variable "max_allocated_storage_gib" {
  description = "Storage autoscaling ceiling."
  type        = number
  default     = 200
}

variable "database_name" {
  description = "Database that holds the clean ops tables."
  type        = string
  default     = "daas_ops"
}

variable "master_username" {
  description = "Master user; its password is generated and rotated by RDS in Secrets Manager."
  type        = string
  default     = "daas_admin"
}

variable "multi_az" {
  description = "Standby in the second zone (prod)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Refuse deletion of the instance (prod)."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days of automated backups and point-in-time recovery."
  type        = number
  default     = 14

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 7 and 35."
  }
}

variable "max_slot_wal_keep_size_mb" {
  description = "WAL kept for a lagging logical replication slot before the slot is invalidated; protects the disk if Airbyte stops consuming."
  type        = number
  default     = 20480
}

variable "subnet_ids" {
  description = "Private subnets, one per zone."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the instance (ingress 5432 from the Postgres sink and Airbyte only)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for storage, Performance Insights, the master secret and the DSN secret."
  type        = string
}

variable "log_kms_key_arn" {
  description = "KMS key of the exported PostgreSQL log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL log groups."
  type        = number
  default     = 365
}
