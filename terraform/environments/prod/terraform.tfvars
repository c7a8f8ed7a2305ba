# prod: zone-redundant everywhere, deletion-protected, sized for all clinics.
# Secrets are never here: pass them as TF_VAR_* from the deploy pipeline.

aws_region     = "af-south-1"
aws_account_id = "222222222222" # replace with the prod account ID
owner          = "data-platform"

vpc_cidr           = "10.41.0.0/16"
availability_zones = ["af-south-1a", "af-south-1b"]
single_nat_gateway = false

msk_broker_count           = 4
msk_broker_instance_type   = "kafka.m7g.large"
msk_broker_volume_size_gib = 500
msk_replication_factor     = 3
msk_min_insync_replicas    = 2

rds_instance_class        = "db.r7g.large"
rds_allocated_storage_gib = 100
rds_multi_az              = true
rds_deletion_protection   = true
rds_backup_retention_days = 14

redshift_node_type                = "ra3.xlplus"
redshift_number_of_nodes          = 2
redshift_scheduled_resize_enabled = true
redshift_resize_number_of_nodes   = 4
redshift_node_hourly_price_usd    = 1.086 # example on-demand price; use the af-south-1 list price

image_tag = "0.1.0" # the deploy pipeline passes -var image_tag=<git sha tag>

service_sizing = {
  simuhealth_producer = { cpu = 256, memory = 512, min_count = 1, max_count = 3 }
  sheet_poller        = { cpu = 256, memory = 512, min_count = 1, max_count = 1 }
  processor           = { cpu = 1024, memory = 2048, min_count = 2, max_count = 6 }
  surveillance        = { cpu = 512, memory = 1024, min_count = 2, max_count = 3 }
  s3_sink             = { cpu = 1024, memory = 2048, min_count = 2, max_count = 6 }
  postgres_sink       = { cpu = 512, memory = 1024, min_count = 2, max_count = 6 }
  alerts_sink         = { cpu = 256, memory = 512, min_count = 1, max_count = 2 }
  dead_letters_sink   = { cpu = 256, memory = 512, min_count = 1, max_count = 2 }
}
gsheet_spreadsheet_id = "replace-with-the-prod-spreadsheet-id"
consumer_lag_target   = 10000

mwaa_airflow_version   = "3.0.6"
mwaa_environment_class = "mw1.medium"
mwaa_min_workers       = 2
mwaa_max_workers       = 5

airbyte_server_url                    = "http://airbyte.daas-prod.internal:8000/api/public/v1"
airbyte_workspace_id                  = "00000000-0000-0000-0000-000000000000" # replace with the prod workspace ID
airbyte_source_connector_version      = "3.6.28"
airbyte_destination_connector_version = "3.5.3"
