output "environment_name" {
  description = "Name of the MWAA environment."
  value       = aws_mwaa_environment.this.name
}

output "webserver_url" {
  description = "Private web server URL (reachable from inside the VPC only)."
  value       = aws_mwaa_environment.this.webserver_url
}

output "dag_bucket_name" {
  description = "Bucket to sync dags/ into."
  value       = module.dags.id
}

output "execution_role_arn" {
  description = "Execution role of the environment."
  value       = aws_iam_role.execution.arn
}

output "log_group_arn_pattern" {
  description = "ARN pattern of the environment's log groups (for the KMS key policy)."
  value       = local.log_groups
}

output "airbyte_connection_secret_arn" {
  description = "Secret an operator fills with the Airflow connection airbyte_default (Airbyte API URL, client id and secret)."
  value       = aws_secretsmanager_secret.airbyte_connection.arn
}

output "warehouse_variable_secret_arn" {
  description = "Secret holding the Airflow Variable daas_warehouse (written by Terraform)."
  value       = aws_secretsmanager_secret.warehouse_variable.arn
}
