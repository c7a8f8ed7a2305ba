output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnet IDs, one per availability zone, in zone order."
  value       = [for az in var.availability_zones : aws_subnet.private[az].id]
}

output "s3_gateway_endpoint_id" {
  description = "ID of the S3 gateway endpoint."
  value       = aws_vpc_endpoint.s3.id
}

output "security_group_ids" {
  description = "Security group ID by workload or store name (simuhealth_producer, sheet_poller, processor, surveillance, s3_sink, postgres_sink, alerts_sink, dead_letters_sink, topic_admin, mwaa, airbyte, msk, rds, redshift, endpoints)."
  value       = local.sg_ids
}
