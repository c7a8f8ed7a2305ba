# Modules state a floor only; each environment pins the exact provider versions.
terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
    airbyte = {
      source  = "airbytehq/airbyte"
      version = ">= 1.3.0, < 2.0.0"
    }
  }
}
