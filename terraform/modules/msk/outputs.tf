output "cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = aws_msk_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the MSK cluster (the 'Cluster Name' dimension of its CloudWatch metrics)."
  value       = aws_msk_cluster.this.cluster_name
}

output "bootstrap_brokers_sasl_iam" {
  description = "Bootstrap servers for IAM-authenticated TLS clients (port 9098)."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_iam
}

output "topic_arn_prefix" {
  description = "Prefix of topic ARNs in IAM policies; append '/<topic name>'."
  value       = "${local.arn_base}:topic/${local.scope}"
}

output "group_arn_prefix" {
  description = "Prefix of consumer group ARNs in IAM policies; append '/<group id>'."
  value       = "${local.arn_base}:group/${local.scope}"
}

output "transactional_id_arn_prefix" {
  description = "Prefix of transactional-id ARNs in IAM policies; append '/<transactional id>' (the processor's exactly-once producers)."
  value       = "${local.arn_base}:transactional-id/${local.scope}"
}
