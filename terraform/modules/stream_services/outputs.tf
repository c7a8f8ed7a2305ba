output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "ECS service name per stage."
  value       = { for k, s in aws_ecs_service.this : k => s.name }
}

output "task_role_arns" {
  description = "Task role ARN per stage (and topic_admin)."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}

output "topic_admin_task_definition_arn" {
  description = "Task definition to run once per deploy (aws ecs run-task) to create the declared topics."
  value       = aws_ecs_task_definition.this["topic_admin"].arn
}

output "pseudonymisation_key_secret_arn" {
  description = "Secret holding the processors' HMAC key (value put by an operator)."
  value       = aws_secretsmanager_secret.pseudonymisation_key.arn
}

output "gsheet_credentials_secret_arn" {
  description = "Secret holding the sheet poller's Google service-account JSON (value put by an operator)."
  value       = aws_secretsmanager_secret.gsheet_credentials.arn
}
