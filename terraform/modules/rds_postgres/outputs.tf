output "instance_identifier" {
  description = "Identifier of the DB instance."
  value       = aws_db_instance.this.identifier
}

output "instance_resource_id" {
  description = "Resource ID of the DB instance (used in rds-db:connect ARNs for IAM authentication)."
  value       = aws_db_instance.this.resource_id
}

output "address" {
  description = "Private DNS name of the instance."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the instance."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Name of the ops database."
  value       = aws_db_instance.this.db_name
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret holding the RDS-managed master credentials."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "dsn_secret_arn" {
  description = "Secrets Manager secret holding the sink's DSN (DAAS_RDS_DSN)."
  value       = aws_secretsmanager_secret.dsn.arn
}
