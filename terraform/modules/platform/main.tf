# The whole daas estate of one environment: every module and its wiring.
# terraform/environments/<env> call this once with the environment's values
# and configure the providers (which must stay in the root).

locals {
  name_prefix = "daas-${var.environment}"

  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  logs_arn   = "arn:${data.aws_partition.current.partition}:logs:${local.region}:${local.account_id}:log-group"
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# ------------------------------------------------------------------- keys

module "kms_data" {
  source = "../kms"

  name        = "${local.name_prefix}-data"
  description = "daas ${var.environment}: lake objects, Kafka, RDS, Redshift, secrets, images, MWAA"
  # MWAA encrypts its own log groups with the environment key.
  cloudwatch_log_group_arn_patterns = ["${local.logs_arn}:airflow-${local.name_prefix}-airflow-*"]
}

module "kms_logs" {
  source = "../kms"

  name        = "${local.name_prefix}-logs"
  description = "daas ${var.environment}: CloudWatch log groups"
  cloudwatch_log_group_arn_patterns = [
    "${local.logs_arn}:/daas/${local.name_prefix}/*",
    "${local.logs_arn}:/aws/rds/instance/${local.name_prefix}-*",
    "${local.logs_arn}:/aws/redshift/cluster/${local.name_prefix}-*",
  ]
}

# ---------------------------------------------------------------- network

module "network" {
  source = "../network"

  name_prefix          = local.name_prefix
  vpc_cidr             = var.vpc_cidr
  availability_zones   = var.availability_zones
  single_nat_gateway   = var.single_nat_gateway
  flow_log_kms_key_arn = module.kms_logs.key_arn
  log_retention_days   = var.log_retention_days
}

# ----------------------------------------------------------------- stores

module "data_lake" {
  source = "../data_lake"

  name_prefix = local.name_prefix
  lake_prefix = var.lake_prefix
  kms_key_arn = module.kms_data.key_arn
}

module "msk" {
  source = "../msk"

  name_prefix            = local.name_prefix
  kafka_version          = var.kafka_version
  broker_count           = var.msk_broker_count
  broker_instance_type   = var.msk_broker_instance_type
  broker_volume_size_gib = var.msk_broker_volume_size_gib
  replication_factor     = var.msk_replication_factor
  min_insync_replicas    = var.msk_min_insync_replicas
  subnet_ids             = module.network.private_subnet_ids
  security_group_id      = module.network.security_group_ids["msk"]
  kms_key_arn            = module.kms_data.key_arn
  log_kms_key_arn        = module.kms_logs.key_arn
  log_retention_days     = var.log_retention_days
}

module "rds" {
  source = "../rds_postgres"

  name_prefix           = local.name_prefix
  instance_class        = var.rds_instance_class
  allocated_storage_gib = var.rds_allocated_storage_gib
  multi_az              = var.rds_multi_az
  deletion_protection   = var.rds_deletion_protection
  backup_retention_days = var.rds_backup_retention_days
  subnet_ids            = module.network.private_subnet_ids
  security_group_id     = module.network.security_group_ids["rds"]
  kms_key_arn           = module.kms_data.key_arn
  log_kms_key_arn       = module.kms_logs.key_arn
  log_retention_days    = var.log_retention_days
}

module "redshift" {
  source = "../redshift"

  name_prefix              = local.name_prefix
  node_type                = var.redshift_node_type
  number_of_nodes          = var.redshift_number_of_nodes
  subnet_ids               = module.network.private_subnet_ids
  security_group_id        = module.network.security_group_ids["redshift"]
  kms_key_arn              = module.kms_data.key_arn
  log_kms_key_arn          = module.kms_logs.key_arn
  log_retention_days       = var.log_retention_days
  lake_bucket_arn          = module.data_lake.bucket_arn
  lake_prefix              = module.data_lake.lake_prefix
  lake_kms_key_arn         = module.kms_data.key_arn
  schedule_enabled         = var.redshift_schedule_enabled
  pause_hour_utc           = var.redshift_pause_hour_utc
  resume_hour_utc          = var.redshift_resume_hour_utc
  scheduled_resize_enabled = var.redshift_scheduled_resize_enabled
  resize_number_of_nodes   = var.redshift_resize_number_of_nodes
  node_hourly_price_usd    = var.redshift_node_hourly_price_usd
}

# ---------------------------------------------------------- stream services

module "ecr" {
  source = "../ecr"

  name        = "${local.name_prefix}-pipeline"
  kms_key_arn = module.kms_data.key_arn
}

module "stream_services" {
  source = "../stream_services"

  name_prefix          = local.name_prefix
  image_repository_url = module.ecr.repository_url
  image_repository_arn = module.ecr.repository_arn
  image_tag            = var.image_tag
  sizing               = var.service_sizing
  topic_partitions     = var.kafka_topic_partitions
  consumer_lag_target  = var.consumer_lag_target

  # Application settings shared by every stage: names are fields of
  # daas.settings.Settings, which rejects unknown DAAS_* variables.
  common_environment = {
    DAAS_LOCAL_MODE               = "false"
    DAAS_RUNTIME_DIR              = "/var/lib/daas" # the task's writable volume
    DAAS_KAFKA_BOOTSTRAP_SERVERS  = module.msk.bootstrap_brokers_sasl_iam
    DAAS_KAFKA_SECURITY_PROTOCOL  = "SASL_SSL"
    DAAS_KAFKA_AUTH               = "aws_msk_iam" # tokens signed with the task role
    DAAS_KAFKA_AWS_REGION         = local.region
    DAAS_KAFKA_PARTITIONS         = tostring(var.kafka_topic_partitions)
    DAAS_KAFKA_REPLICATION_FACTOR = tostring(var.msk_replication_factor)
    DAAS_S3_ENDPOINT_URL          = "https://s3.${local.region}.amazonaws.com"
    DAAS_S3_REGION                = local.region
    DAAS_S3_BUCKET                = module.data_lake.bucket_name
    DAAS_S3_PREFIX                = module.data_lake.lake_prefix
    DAAS_METRICS_PORT             = "9100" # /healthz and /metrics of every stage
  }
  service_environment = {
    sheet_poller = { DAAS_GSHEET_ID = var.gsheet_spreadsheet_id }
  }
  # The three RDS sinks write as the one ops writer role, whose DSN is this secret.
  service_secrets = {
    postgres_sink     = { DAAS_RDS_DSN = module.rds.dsn_secret_arn }
    alerts_sink       = { DAAS_RDS_DSN = module.rds.dsn_secret_arn }
    dead_letters_sink = { DAAS_RDS_DSN = module.rds.dsn_secret_arn }
  }

  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = module.network.security_group_ids
  kms_key_arn        = module.kms_data.key_arn
  log_kms_key_arn    = module.kms_logs.key_arn
  log_retention_days = var.log_retention_days

  kafka_cluster_arn      = module.msk.cluster_arn
  kafka_cluster_name     = module.msk.cluster_name
  kafka_topic_arn_prefix = module.msk.topic_arn_prefix
  kafka_group_arn_prefix = module.msk.group_arn_prefix

  kafka_transactional_id_arn_prefix = module.msk.transactional_id_arn_prefix

  lake_bucket_arn          = module.data_lake.bucket_arn
  lake_prefix              = module.data_lake.lake_prefix
  rds_instance_resource_id = module.rds.instance_resource_id
}

# ------------------------------------------------------------- batch side

module "mwaa" {
  source = "../mwaa"

  name_prefix            = local.name_prefix
  airflow_version        = var.mwaa_airflow_version
  environment_class      = var.mwaa_environment_class
  min_workers            = var.mwaa_min_workers
  max_workers            = var.mwaa_max_workers
  subnet_ids             = module.network.private_subnet_ids
  security_group_id      = module.network.security_group_ids["mwaa"]
  kms_key_arn            = module.kms_data.key_arn
  access_log_bucket_name = module.data_lake.access_log_bucket_name
  access_log_prefix_root = module.data_lake.access_log_prefix_root
  lake_bucket_arn        = module.data_lake.bucket_arn
  lake_bucket_name       = module.data_lake.bucket_name
  lake_prefix            = module.data_lake.lake_prefix

  # The DAGs' Variable daas_warehouse and the lifecycle schedule: Airflow is the
  # only controller of the cluster's pause, resume and resize.
  redshift_cluster_arn        = module.redshift.cluster_arn
  redshift_cluster_identifier = module.redshift.cluster_identifier
  redshift_database           = module.redshift.database_name
  redshift_copy_role_arn      = module.redshift.copy_role_arn
  redshift_sizes              = module.redshift.resize_sizes
  airflow_options             = module.redshift.lifecycle_airflow_options
  airbyte_connection_id       = module.airbyte.connection_id
  rds_schema                  = module.airbyte.destination_schema
}

module "airbyte" {
  source = "../airbyte"

  name_prefix  = local.name_prefix
  workspace_id = var.airbyte_workspace_id

  source_connector_version = var.airbyte_source_connector_version
  source_host              = module.rds.address
  source_port              = module.rds.port
  source_database          = module.rds.database_name
  source_password          = var.airbyte_source_password

  destination_connector_version = var.airbyte_destination_connector_version
  destination_host              = module.redshift.endpoint_address
  destination_port              = module.redshift.port
  destination_database          = module.redshift.database_name
  destination_password          = var.airbyte_destination_password

  staging_bucket_name       = module.data_lake.bucket_name
  staging_bucket_arn        = module.data_lake.bucket_arn
  staging_prefix            = module.data_lake.airbyte_staging_prefix
  staging_kms_key_arn       = module.kms_data.key_arn
  staging_access_key_id     = var.airbyte_staging_access_key_id
  staging_secret_access_key = var.airbyte_staging_secret_access_key
}
