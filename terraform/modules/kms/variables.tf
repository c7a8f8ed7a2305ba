variable "name" {
  description = "Short name of the key, used in the alias (alias/<name>)."
  type        = string
}

variable "description" {
  description = "What the key protects."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion takes effect."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "cloudwatch_log_group_arn_patterns" {
  description = "Log group ARN patterns (ArnLike) whose CloudWatch Logs encryption may use this key. Empty: the logs service gets no access."
  type        = list(string)
  default     = []
}
