# Values of this environment (terraform.tfvars) and secrets (TF_VAR_*).
# Their meaning is documented in ../../modules/platform/variables.tf;
# aws_region, aws_account_id, owner, data_classification and the airbyte_
# server/client values configure the providers (providers.tf).

variable "aws_region" { type = string }
variable "aws_account_id" { type = string }
variable "owner" { type = string }
variable "data_classification" {
  type    = string
  default = "restricted-health-pii"
}
variable "vpc_cidr" { type = string }
variable "availability_zones" { type = list(string) }
variable "single_nat_gateway" { type = bool }
variable "msk_broker_count" { type = number }
variable "msk_broker_instance_type" { type = string }
variable "msk_broker_volume_size_gib" { type = number }
variable "msk_replication_factor" { type = number }
variable "msk_min_insync_replicas" { type = number }
variable "rds_instance_class" { type = string }
variable "rds_allocated_storage_gib" { type = number }
variable "rds_multi_az" { type = bool }
variable "rds_deletion_protection" { type = bool }
variable "rds_backup_retention_days" { type = number }
variable "redshift_node_type" { type = string }
variable "redshift_number_of_nodes" { type = number }
variable "redshift_scheduled_resize_enabled" { type = bool }
variable "redshift_resize_number_of_nodes" { type = number }
variable "redshift_node_hourly_price_usd" { type = number }
variable "image_tag" { type = string }
variable "service_sizing" { type = map(object({ cpu = number, memory = number, min_count = number, max_count = number })) }
variable "gsheet_spreadsheet_id" { type = string }
variable "consumer_lag_target" { type = number }
variable "mwaa_airflow_version" { type = string }
variable "mwaa_environment_class" { type = string }
variable "mwaa_min_workers" { type = number }
variable "mwaa_max_workers" { type = number }
variable "airbyte_server_url" { type = string }
variable "airbyte_workspace_id" { type = string }
variable "airbyte_source_connector_version" { type = string }
variable "airbyte_destination_connector_version" { type = string }
variable "airbyte_client_id" {
  type      = string
  sensitive = true
}
variable "airbyte_client_secret" {
  type      = string
  sensitive = true
}
variable "airbyte_source_password" {
  type      = string
  sensitive = true
}
variable "airbyte_destination_password" {
  type      = string
  sensitive = true
}
variable "airbyte_staging_access_key_id" {
  type      = string
  sensitive = true
}
variable "airbyte_staging_secret_access_key" {
  type      = string
  sensitive = true
}
