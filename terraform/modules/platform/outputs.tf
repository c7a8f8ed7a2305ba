# Outputs named exactly like the application settings (DAAS_* environment
# variables), so a deployment is wired without guessing:
#   terraform output -json application_settings
# The *_SECRET_ARN outputs name the secret that holds the setting's value
# (ECS injects it as DAAS_RDS_DSN / DAAS_WAREHOUSE_DSN).

output "DAAS_KAFKA_BOOTSTRAP_SERVERS" {
  description = "MSK bootstrap servers for IAM auth over TLS (port 9098)."
  value       = module.msk.bootstrap_brokers_sasl_iam
}

output "DAAS_S3_BUCKET" {
  description = "Data lake bucket."
  value       = module.data_lake.bucket_name
}

output "DAAS_S3_PREFIX" {
  description = "Key prefix of the Parquet batches and manifests."
  value       = module.data_lake.lake_prefix
}

output "DAAS_RDS_DSN_SECRET_ARN" {
  description = "Secret holding DAAS_RDS_DSN (the Postgres sink's writer DSN)."
  value       = module.rds.dsn_secret_arn
}

output "DAAS_WAREHOUSE_DSN_SECRET_ARN" {
  description = "Secret holding DAAS_WAREHOUSE_DSN (the warehouse loader's DSN)."
  value       = module.redshift.dsn_secret_arn
}

output "DAAS_REDSHIFT_CLUSTER_ID" {
  description = "Redshift cluster identifier (lifecycle DAG)."
  value       = module.redshift.cluster_identifier
}

output "DAAS_REDSHIFT_COPY_ROLE_ARN" {
  description = "IAM role for COPY ... IAM_ROLE."
  value       = module.redshift.copy_role_arn
}

output "DAAS_AIRBYTE_CONNECTION_ID" {
  description = "Airbyte connection Airflow triggers (RDS ops tables to Redshift)."
  value       = module.airbyte.connection_id
}

output "application_settings" {
  description = "All of the above as one map, for templating an env file or an Airflow variable."
  value = {
    DAAS_KAFKA_BOOTSTRAP_SERVERS  = module.msk.bootstrap_brokers_sasl_iam
    DAAS_S3_BUCKET                = module.data_lake.bucket_name
    DAAS_S3_PREFIX                = module.data_lake.lake_prefix
    DAAS_RDS_DSN_SECRET_ARN       = module.rds.dsn_secret_arn
    DAAS_WAREHOUSE_DSN_SECRET_ARN = module.redshift.dsn_secret_arn
    DAAS_REDSHIFT_CLUSTER_ID      = module.redshift.cluster_identifier
    DAAS_REDSHIFT_COPY_ROLE_ARN   = module.redshift.copy_role_arn
    DAAS_AIRBYTE_CONNECTION_ID    = module.airbyte.connection_id
  }
}

# ---------------------------------------------------- operator outputs

output "ecr_repository_url" {
  description = "Push the pipeline image here (immutable tags)."
  value       = module.ecr.repository_url
}

output "ecs_cluster_name" {
  description = "ECS cluster of the stream services."
  value       = module.stream_services.cluster_name
}

output "ecs_service_names" {
  description = "ECS service per stage."
  value       = module.stream_services.service_names
}

output "topic_admin_task_definition_arn" {
  description = "Run once per deploy to create the declared topics."
  value       = module.stream_services.topic_admin_task_definition_arn
}

output "secrets_to_populate" {
  description = "Secrets Terraform creates empty; an operator puts their values after the first apply."
  value = {
    rds_dsn              = module.rds.dsn_secret_arn
    warehouse_dsn        = module.redshift.dsn_secret_arn
    pseudonymisation_key = module.stream_services.pseudonymisation_key_secret_arn
    gsheet_credentials   = module.stream_services.gsheet_credentials_secret_arn
    airflow_airbyte_conn = module.mwaa.airbyte_connection_secret_arn
  }
}

output "rds_master_user_secret_arn" {
  description = "RDS-managed master credentials (break-glass only)."
  value       = module.rds.master_user_secret_arn
}

output "redshift_master_password_secret_arn" {
  description = "Redshift-managed admin credentials (break-glass only)."
  value       = module.redshift.master_password_secret_arn
}

output "mwaa_dag_bucket" {
  description = "MWAA's bucket: DAGs, project code, requirements.txt and startup.sh, uploaded by Terraform."
  value       = module.mwaa.dag_bucket_name
}

output "mwaa_webserver_url" {
  description = "Private Airflow UI URL (from inside the VPC)."
  value       = module.mwaa.webserver_url
}

output "airbyte_staging_user_name" {
  description = "IAM user whose access key Airbyte stages with."
  value       = module.airbyte.staging_user_name
}

output "redshift_paused_hours_per_week" {
  description = "Hours per week the schedule keeps the cluster paused."
  value       = module.redshift.paused_hours_per_week
}

output "redshift_net_node_hours_saved_per_week" {
  description = "Node-hours saved per week, net of the heavy window."
  value       = module.redshift.net_node_hours_saved_per_week
}

output "redshift_estimated_weekly_savings_usd" {
  description = "Estimated weekly compute saving at redshift_node_hourly_price_usd."
  value       = module.redshift.estimated_weekly_savings_usd
}
