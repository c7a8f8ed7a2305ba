variable "name_prefix" {
  description = "Prefix for resource names, e.g. daas-prod."
  type        = string
}

variable "kafka_version" {
  description = "Apache Kafka version of the MSK cluster."
  type        = string
  default     = "3.8.x"
}

variable "broker_count" {
  description = "Number of brokers; a multiple of the number of subnets (two zones)."
  type        = number
  default     = 2

  validation {
    condition     = var.broker_count >= 2 && var.broker_count % 2 == 0
    error_message = "broker_count must be an even number of at least 2 (brokers are spread evenly over two zones)."
  }
}

variable "broker_instance_type" {
  description = "Broker instance type."
  type        = string
  default     = "kafka.t3.small"
}

variable "broker_volume_size_gib" {
  description = "EBS volume per broker; size for 30 days of raw-topic retention (the replay window) times replication."
  type        = number
  default     = 100
}

variable "replication_factor" {
  description = "Default replication factor of new topics."
  type        = number
  default     = 2
}

variable "min_insync_replicas" {
  description = "Replicas that must acknowledge an acks=all write."
  type        = number
  default     = 1
}

variable "enhanced_monitoring" {
  description = "MSK CloudWatch metric level. Consumer-lag metrics (SumOffsetLag, used for lag scaling) are published at every level."
  type        = string
  default     = "PER_TOPIC_PER_BROKER"
}

variable "subnet_ids" {
  description = "Private subnets, one per zone."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the brokers (ingress 9098 from the stream services only)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for data at rest on the brokers."
  type        = string
}

variable "log_kms_key_arn" {
  description = "KMS key of the broker log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the broker log group."
  type        = number
  default     = 365
}
