variable "name_prefix" {
  description = "Prefix for resource names, e.g. daas-prod."
  type        = string
}

variable "workspace_id" {
  description = "Airbyte workspace that owns the source, destination and connection."
  type        = string
}

# ------------------------------------------------------------- Postgres

variable "source_connector_version" {
  description = "Pinned version of the source-postgres connector (must be published in the Airbyte instance's connector registry)."
  type        = string
}

variable "source_host" {
  description = "RDS endpoint address."
  type        = string
}

variable "source_port" {
  description = "RDS port."
  type        = number
  default     = 5432
}

variable "source_database" {
  description = "Ops database."
  type        = string
}

variable "source_schema" {
  description = "Schema holding the ops tables written by the Postgres sink."
  type        = string
  default     = "public"
}

variable "source_username" {
  description = "Read-only replication role Airbyte logs in as."
  type        = string
  default     = "airbyte_reader"
}

variable "source_password" {
  description = "Password of source_username (from the deploy pipeline's secret store, e.g. TF_VAR_airbyte_source_password)."
  type        = string
  sensitive   = true
}

variable "source_ca_certificate_pem" {
  description = "RDS CA bundle (PEM). When set, Airbyte verifies the server certificate (verify-full); otherwise TLS is required without verification."
  type        = string
  default     = null
}

variable "replication_method" {
  description = "\"Standard\": incremental by the user-defined cursor (updated_at). \"CDC\": logical decoding of the WAL through publication/slot (rds.logical_replication is on)."
  type        = string
  default     = "Standard"

  validation {
    condition     = contains(["Standard", "CDC"], var.replication_method)
    error_message = "replication_method must be Standard or CDC."
  }
}

variable "cdc_publication" {
  description = "Publication used when replication_method is CDC."
  type        = string
  default     = "airbyte_ops"
}

variable "cdc_replication_slot" {
  description = "Logical replication slot used when replication_method is CDC."
  type        = string
  default     = "airbyte_ops"
}

# ------------------------------------------------------------- Redshift

variable "destination_connector_version" {
  description = "Pinned version of the destination-redshift connector (must be published in the Airbyte instance's connector registry)."
  type        = string
}

variable "destination_host" {
  description = "Redshift endpoint address."
  type        = string
}

variable "destination_port" {
  description = "Redshift port."
  type        = number
  default     = 5439
}

variable "destination_database" {
  description = "Warehouse database."
  type        = string
}

variable "destination_schema" {
  description = "Warehouse schema the replicated ops tables land in: the warehouse reads them as <rds_schema>.encounters (warehouse.config, default rds)."
  type        = string
  default     = "rds"
}

variable "destination_username" {
  description = "Warehouse user Airbyte loads as."
  type        = string
  default     = "airbyte_loader"
}

variable "destination_password" {
  description = "Password of destination_username (from the deploy pipeline's secret store)."
  type        = string
  sensitive   = true
}

variable "staging_bucket_name" {
  description = "Bucket where Airbyte stages files for its COPY (the lake bucket, under staging_prefix)."
  type        = string
}

variable "staging_bucket_arn" {
  description = "ARN of the staging bucket."
  type        = string
}

variable "staging_prefix" {
  description = "Key prefix for staged files (expired after 7 days by the lake lifecycle)."
  type        = string
}

variable "staging_kms_key_arn" {
  description = "KMS key that encrypts the staging bucket."
  type        = string
}

variable "staging_access_key_id" {
  description = "Access key of the Airbyte staging user (created out of band, see README)."
  type        = string
  sensitive   = true
}

variable "staging_secret_access_key" {
  description = "Secret of that access key."
  type        = string
  sensitive   = true
}

# ----------------------------------------------------------- connection

variable "streams" {
  description = "Ops tables replicated to the warehouse (incremental append + deduped), each with the columns the destination deduplicates on and its update-time cursor: encounters (Postgres sink), surveillance_alerts and dead_letters (events sinks, sinks/event_tables.py). The local replicator syncs the same list (warehouse/replicator.py streams())."
  type = map(object({
    primary_key  = list(string)
    cursor_field = optional(string, "updated_at")
  }))
  default = {
    encounters          = { primary_key = ["record_id"] }
    surveillance_alerts = { primary_key = ["alert_id"] }
    dead_letters        = { primary_key = ["dlq_topic", "dlq_partition", "dlq_offset"] }
  }

  validation {
    condition     = alltrue([for table in values(var.streams) : length(table.primary_key) > 0])
    error_message = "Every stream needs at least one primary_key column to deduplicate on."
  }
}
