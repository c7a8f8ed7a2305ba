variable "name" {
  description = "Repository name."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the image layers."
  type        = string
}

variable "keep_tagged_images" {
  description = "Number of most recent tagged images kept (rollback depth)."
  type        = number
  default     = 50
}
