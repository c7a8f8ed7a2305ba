output "cluster_identifier" {
  description = "Identifier of the cluster."
  value       = aws_redshift_cluster.this.cluster_identifier
}

output "cluster_arn" {
  description = "ARN of the cluster."
  value       = aws_redshift_cluster.this.arn
}

output "endpoint_address" {
  description = "Private DNS name of the cluster."
  value       = aws_redshift_cluster.this.dns_name
}

output "port" {
  description = "Port of the cluster."
  value       = aws_redshift_cluster.this.port
}

output "database_name" {
  description = "Warehouse database."
  value       = aws_redshift_cluster.this.database_name
}

output "copy_role_arn" {
  description = "IAM role named in COPY ... IAM_ROLE."
  value       = aws_iam_role.copy.arn
}

output "master_password_secret_arn" {
  description = "Secrets Manager secret holding the Redshift-managed admin credentials."
  value       = aws_redshift_cluster.this.master_password_secret_arn
}

output "dsn_secret_arn" {
  description = "Secrets Manager secret holding the loader's DSN (DAAS_WAREHOUSE_DSN)."
  value       = aws_secretsmanager_secret.dsn.arn
}

output "paused_hours_per_week" {
  description = "Hours per week the schedule keeps the cluster paused."
  value       = var.schedule_enabled ? local.paused_hours_per_week : 0
}

output "net_node_hours_saved_per_week" {
  description = "Node-hours saved per week: paused hours x nodes, minus the extra node-hours of the heavy window."
  value       = var.schedule_enabled ? local.net_node_hours_saved : 0
}

output "estimated_weekly_savings_usd" {
  description = "net_node_hours_saved_per_week x node_hourly_price_usd (compute only; managed storage is billed while paused)."
  value       = var.schedule_enabled ? local.net_node_hours_saved * var.node_hourly_price_usd : 0
}

output "lifecycle_airflow_options" {
  description = "The pause/resume/resize schedule as MWAA configuration options ([daas] section) for the redshift_lifecycle DAG, the cluster's only lifecycle controller."
  value       = { for key, value in local.lifecycle_crons : "daas.${key}" => value }
}

output "resize_sizes" {
  description = "Node type and count outside (base) and during (heavy) the weekly heavy window, for the DAG's Variable."
  value = {
    base  = { node_type = var.node_type, nodes = var.number_of_nodes }
    heavy = { node_type = var.node_type, nodes = var.resize_number_of_nodes }
  }
}
