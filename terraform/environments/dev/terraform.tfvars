# dev: small, single-AZ where that is only a cost choice, disposable.
# Secrets are never here: pass them as TF_VAR_* from the deploy pipeline.

aws_region     = "af-south-1"
aws_account_id = "111111111111" # replace with the dev account ID
owner          = "data-platform"

vpc_cidr           = "10.40.0.0/16"
availability_zones = ["af-south-1a", "af-south-1b"]
single_nat_gateway = true

msk_broker_count           = 2
msk_broker_instance_type   = "kafka.t3.small"
msk_broker_volume_size_gib = 50
msk_replication_factor     = 2
msk_min_insync_replicas    = 1

rds_instance_class        = "db.t4g.medium"
rds_allocated_storage_gib = 20
rds_multi_az              = false
rds_deletion_protection   = false
rds_backup_retention_days = 7

redshift_node_type                = "ra3.xlplus"
redshift_number_of_nodes          = 1
redshift_scheduled_resize_enabled = false
redshift_resize_number_of_nodes   = 2
redshift_node_hourly_price_usd    = 1.086 # example on-demand price; use the af-south-1 list price

image_tag = "0.1.0" # the deploy pipeline passes -var image_tag=<git sha tag>

service_sizing = {
  simuhealth_producer = { cpu = 256, memory = 512, min_count = 1, max_count = 2 }
  sheet_poller        = { cpu = 256, memory = 512, min_count = 1, max_count = 1 }
  processor           = { cpu = 512, memory = 1024, min_count = 1, max_count = 3 }
  surveillance        = { cpu = 512, memory = 1024, min_count = 1, max_count = 2 }
  s3_sink             = { cpu = 512, memory = 1024, min_count = 1, max_count = 2 }
  postgres_sink       = { cpu = 256, memory = 512, min_count = 1, max_count = 2 }
  alerts_sink         = { cpu = 256, memory = 512, min_count = 1, max_count = 1 }
  dead_letters_sink   = { cpu = 256, memory = 512, min_count = 1, max_count = 1 }
}
gsheet_spreadsheet_id = "replace-with-the-dev-spreadsheet-id"
consumer_lag_target   = 0

mwaa_airflow_version   = "3.0.6"
mwaa_environment_class = "mw1.small"
mwaa_min_workers       = 1
mwaa_max_workers       = 2

airbyte_server_url                    = "http://airbyte.daas-dev.internal:8000/api/public/v1"
airbyte_workspace_id                  = "00000000-0000-0000-0000-000000000000" # replace with the dev workspace ID
airbyte_source_connector_version      = "3.6.28"
airbyte_destination_connector_version = "3.5.3"
