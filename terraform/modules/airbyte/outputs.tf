output "connection_id" {
  description = "ID of the ops-to-warehouse connection (Airflow triggers it)."
  value       = airbyte_connection.ops_to_warehouse.connection_id
}

output "source_id" {
  description = "ID of the Postgres source."
  value       = airbyte_source.postgres.source_id
}

output "destination_id" {
  description = "ID of the Redshift destination."
  value       = airbyte_destination.redshift.destination_id
}

output "staging_user_name" {
  description = "IAM user whose access key the Redshift destination stages with."
  value       = aws_iam_user.staging.name
}

output "destination_schema" {
  description = "Warehouse schema the connection writes to (the DAGs' rds_schema)."
  value       = var.destination_schema
}
