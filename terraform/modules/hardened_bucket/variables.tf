variable "name" {
  description = "Bucket name."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts every object (SSE-KMS with an S3 bucket key)."
  type        = string
}

variable "access_log_bucket_name" {
  description = "Bucket receiving this bucket's server access logs."
  type        = string
}

variable "access_log_prefix" {
  description = "Key prefix of this bucket's access logs in the log bucket, ending in '/'."
  type        = string
}

variable "deny_tls_below_1_2" {
  description = "Also deny requests made over TLS older than 1.2 (on top of denying plain HTTP)."
  type        = bool
  default     = false
}

variable "transition_rules" {
  description = "Rules moving objects under prefix and larger than object_size_greater_than bytes to storage_class after days."
  type = list(object({
    id                       = string
    prefix                   = string
    object_size_greater_than = number
    days                     = number
    storage_class            = string
  }))
  default = []
}

variable "expiration_rules" {
  description = "Rules deleting objects under prefix after days."
  type = list(object({
    id     = string
    prefix = string
    days   = number
  }))
  default = []
}

variable "cleanup_rule_id" {
  description = "ID of the rule, applied to every object, that expires noncurrent versions and aborts incomplete multipart uploads."
  type        = string
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object version is kept."
  type        = number
}
