provider "aws" {
  region              = var.aws_region
  allowed_account_ids = [var.aws_account_id]

  # On every taggable resource (tests/terraform asserts the keys).
  default_tags {
    tags = {
      project               = "daas-health-pipeline"
      environment           = local.environment
      owner                 = var.owner
      "data-classification" = var.data_classification
      "managed-by"          = "terraform"
    }
  }
}

# Self-managed Airbyte in the VPC (see terraform/README.md); credentials are TF_VAR_*.
provider "airbyte" {
  server_url    = var.airbyte_server_url
  client_id     = var.airbyte_client_id
  client_secret = var.airbyte_client_secret
}
