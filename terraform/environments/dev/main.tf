locals {
  environment = "dev"
}

# Everything is in modules/platform; this root only supplies the values of
# the environment (terraform.tfvars, TF_VAR_* secrets).
module "platform" {
  source = "../../modules/platform"

  environment                           = local.environment
  vpc_cidr                              = var.vpc_cidr
  availability_zones                    = var.availability_zones
  single_nat_gateway                    = var.single_nat_gateway
  msk_broker_count                      = var.msk_broker_count
  msk_broker_instance_type              = var.msk_broker_instance_type
  msk_broker_volume_size_gib            = var.msk_broker_volume_size_gib
  msk_replication_factor                = var.msk_replication_factor
  msk_min_insync_replicas               = var.msk_min_insync_replicas
  rds_instance_class                    = var.rds_instance_class
  rds_allocated_storage_gib             = var.rds_allocated_storage_gib
  rds_multi_az                          = var.rds_multi_az
  rds_deletion_protection               = var.rds_deletion_protection
  rds_backup_retention_days             = var.rds_backup_retention_days
  redshift_node_type                    = var.redshift_node_type
  redshift_number_of_nodes              = var.redshift_number_of_nodes
  redshift_scheduled_resize_enabled     = var.redshift_scheduled_resize_enabled
  redshift_resize_number_of_nodes       = var.redshift_resize_number_of_nodes
  redshift_node_hourly_price_usd        = var.redshift_node_hourly_price_usd
  image_tag                             = var.image_tag
  service_sizing                        = var.service_sizing
  gsheet_spreadsheet_id                 = var.gsheet_spreadsheet_id
  consumer_lag_target                   = var.consumer_lag_target
  mwaa_airflow_version                  = var.mwaa_airflow_version
  mwaa_environment_class                = var.mwaa_environment_class
  mwaa_min_workers                      = var.mwaa_min_workers
  mwaa_max_workers                      = var.mwaa_max_workers
  airbyte_workspace_id                  = var.airbyte_workspace_id
  airbyte_source_connector_version      = var.airbyte_source_connector_version
  airbyte_destination_connector_version = var.airbyte_destination_connector_version
  airbyte_source_password               = var.airbyte_source_password
  airbyte_destination_password          = var.airbyte_destination_password
  airbyte_staging_access_key_id         = var.airbyte_staging_access_key_id
  airbyte_staging_secret_access_key     = var.airbyte_staging_secret_access_key
}
