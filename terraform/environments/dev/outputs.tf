# Re-exported from modules/platform, where each output is described. The
# DAAS_* names are the application settings deployments read:
#   terraform output -json application_settings

output "DAAS_KAFKA_BOOTSTRAP_SERVERS" { value = module.platform.DAAS_KAFKA_BOOTSTRAP_SERVERS }
output "DAAS_S3_BUCKET" { value = module.platform.DAAS_S3_BUCKET }
output "DAAS_S3_PREFIX" { value = module.platform.DAAS_S3_PREFIX }
output "DAAS_RDS_DSN_SECRET_ARN" { value = module.platform.DAAS_RDS_DSN_SECRET_ARN }
output "DAAS_WAREHOUSE_DSN_SECRET_ARN" { value = module.platform.DAAS_WAREHOUSE_DSN_SECRET_ARN }
output "DAAS_REDSHIFT_CLUSTER_ID" { value = module.platform.DAAS_REDSHIFT_CLUSTER_ID }
output "DAAS_REDSHIFT_COPY_ROLE_ARN" { value = module.platform.DAAS_REDSHIFT_COPY_ROLE_ARN }
output "DAAS_AIRBYTE_CONNECTION_ID" { value = module.platform.DAAS_AIRBYTE_CONNECTION_ID }

output "application_settings" {
  value = {
    DAAS_KAFKA_BOOTSTRAP_SERVERS  = module.platform.DAAS_KAFKA_BOOTSTRAP_SERVERS
    DAAS_S3_BUCKET                = module.platform.DAAS_S3_BUCKET
    DAAS_S3_PREFIX                = module.platform.DAAS_S3_PREFIX
    DAAS_RDS_DSN_SECRET_ARN       = module.platform.DAAS_RDS_DSN_SECRET_ARN
    DAAS_WAREHOUSE_DSN_SECRET_ARN = module.platform.DAAS_WAREHOUSE_DSN_SECRET_ARN
    DAAS_REDSHIFT_CLUSTER_ID      = module.platform.DAAS_REDSHIFT_CLUSTER_ID
    DAAS_REDSHIFT_COPY_ROLE_ARN   = module.platform.DAAS_REDSHIFT_COPY_ROLE_ARN
    DAAS_AIRBYTE_CONNECTION_ID    = module.platform.DAAS_AIRBYTE_CONNECTION_ID
  }
}

# operator outputs
output "ecr_repository_url" { value = module.platform.ecr_repository_url }
output "ecs_cluster_name" { value = module.platform.ecs_cluster_name }
output "ecs_service_names" { value = module.platform.ecs_service_names }
output "topic_admin_task_definition_arn" { value = module.platform.topic_admin_task_definition_arn }
output "secrets_to_populate" { value = module.platform.secrets_to_populate }
output "rds_master_user_secret_arn" { value = module.platform.rds_master_user_secret_arn }
output "redshift_master_password_secret_arn" { value = module.platform.redshift_master_password_secret_arn }
output "mwaa_dag_bucket" { value = module.platform.mwaa_dag_bucket }
output "mwaa_webserver_url" { value = module.platform.mwaa_webserver_url }
output "airbyte_staging_user_name" { value = module.platform.airbyte_staging_user_name }
output "redshift_paused_hours_per_week" { value = module.platform.redshift_paused_hours_per_week }
output "redshift_net_node_hours_saved_per_week" { value = module.platform.redshift_net_node_hours_saved_per_week }
output "redshift_estimated_weekly_savings_usd" { value = module.platform.redshift_estimated_weekly_savings_usd }
