# Airbyte (self-managed, running in the VPC's private subnets with the
# `airbyte` security group) replicates the ops tables from RDS to Redshift.
# The connection has a manual schedule: Airflow triggers each sync, so the
# sync is ordered with the warehouse load and the Redshift pause/resume.
#
# Connectors are configured through the generic airbyte_source /
# airbyte_destination resources with airbyte_connector_configuration, which
# validates the configuration against the pinned connector's spec at plan
# time (the typed per-connector resources are deprecated in provider 1.x).

data "aws_region" "current" {}

locals {
  cdc = var.replication_method == "CDC"
}

# --------------------------------------------------------------- source

data "airbyte_connector_configuration" "postgres" {
  connector_name    = "source-postgres"
  connector_version = var.source_connector_version

  configuration = {
    host     = var.source_host
    port     = var.source_port
    database = var.source_database
    schemas  = [var.source_schema]
    username = var.source_username
    ssl_mode = merge(
      { mode = var.source_ca_certificate_pem == null ? "require" : "verify-full" },
      var.source_ca_certificate_pem == null ? {} : { ca_certificate = var.source_ca_certificate_pem },
    )
    replication_method = merge(
      { method = var.replication_method },
      local.cdc ? { plugin = "pgoutput", publication = var.cdc_publication, replication_slot = var.cdc_replication_slot } : {},
    )
    tunnel_method = { tunnel_method = "NO_TUNNEL" }
  }

  configuration_secrets = {
    password = var.source_password
  }
}

resource "airbyte_source" "postgres" {
  name          = "${var.name_prefix}-ops-postgres"
  workspace_id  = var.workspace_id
  definition_id = data.airbyte_connector_configuration.postgres.definition_id
  configuration = data.airbyte_connector_configuration.postgres.configuration_json
}

# ---------------------------------------------------------- destination

data "airbyte_connector_configuration" "redshift" {
  connector_name    = "destination-redshift"
  connector_version = var.destination_connector_version

  configuration = {
    host            = var.destination_host
    port            = var.destination_port
    database        = var.destination_database
    schema          = var.destination_schema
    username        = var.destination_username
    jdbc_url_params = "ssl=true"
    tunnel_method   = { tunnel_method = "NO_TUNNEL" }
    uploading_method = {
      method             = "S3 Staging"
      s3_bucket_name     = var.staging_bucket_name
      s3_bucket_path     = var.staging_prefix
      s3_bucket_region   = data.aws_region.current.name
      purge_staging_data = true
    }
  }

  configuration_secrets = {
    password = var.destination_password
    uploading_method = {
      access_key_id     = var.staging_access_key_id
      secret_access_key = var.staging_secret_access_key
    }
  }
}

resource "airbyte_destination" "redshift" {
  name          = "${var.name_prefix}-warehouse-redshift"
  workspace_id  = var.workspace_id
  definition_id = data.airbyte_connector_configuration.redshift.definition_id
  configuration = data.airbyte_connector_configuration.redshift.configuration_json
}

# ----------------------------------------------------------- connection

resource "airbyte_connection" "ops_to_warehouse" {
  name                                 = "${var.name_prefix}-ops-to-warehouse"
  source_id                            = airbyte_source.postgres.source_id
  destination_id                       = airbyte_destination.redshift.destination_id
  status                               = "active"
  namespace_definition                 = "destination"
  non_breaking_schema_updates_behavior = "propagate_columns"

  # Triggered by Airflow, never by Airbyte's own scheduler.
  schedule = {
    schedule_type = "manual"
  }

  configurations = {
    streams = [
      for table, stream in var.streams : {
        name         = table
        sync_mode    = "incremental_deduped_history"
        cursor_field = [stream.cursor_field]
        primary_key  = [for column in stream.primary_key : [column]]
      }
    ]
  }
}
