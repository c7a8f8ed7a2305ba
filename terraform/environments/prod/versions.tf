terraform {
  # Exact pins: a plan is reproducible only with the same Terraform and
  # provider versions. Bump deliberately, dev first.
  required_version = "1.11.4"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
    airbyte = {
      source  = "airbytehq/airbyte"
      version = "1.3.0"
    }
  }

  # Partial configuration: terraform init -backend-config=backend.hcl
  backend "s3" {}
}
