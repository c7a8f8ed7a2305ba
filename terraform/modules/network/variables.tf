variable "name_prefix" {
  description = "Prefix for resource names, e.g. daas-prod."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Exactly two availability zones; every subnet tier gets one subnet per zone."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 2
    error_message = "availability_zones must list exactly two zones (MWAA and the subnet groups need two)."
  }
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway (cheaper, dev) instead of one per zone (zone-failure tolerant, prod)."
  type        = bool
  default     = false
}

variable "interface_endpoint_services" {
  description = "AWS services reached through interface endpoints from the private subnets, so that image pulls, logs, secrets and STS never leave the VPC."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "sts", "kms", "monitoring"]
}

variable "airbyte_api_port" {
  description = "Port of the self-managed Airbyte API that Airflow calls to trigger syncs."
  type        = number
  default     = 8000
}

variable "flow_log_kms_key_arn" {
  description = "KMS key for the VPC flow log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the VPC flow log group."
  type        = number
  default     = 365
}
