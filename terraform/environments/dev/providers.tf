provider "aws" {
  region              = var.aws_region
  allowed_account_ids = [var.aws_account_id]

  # Every taggable resource carries these tags (tests/terraform asserts the
  # keys); resources add only a Name or a tier where useful.
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

# Self-managed Airbyte inside the VPC; the deploy runner reaches its API
# through the VPC (see terraform/README.md). Credentials come from the
# deploy pipeline's secret store as TF_VAR_* variables.
provider "airbyte" {
  server_url    = var.airbyte_server_url
  client_id     = var.airbyte_client_id
  client_secret = var.airbyte_client_secret
}
