# terraform init -backend-config=backend.hcl
# The state bucket (versioned, SSE-KMS, public access blocked) is created once
# per account by the platform bootstrap, outside this configuration.
bucket       = "daas-terraform-state-222222222222-af-south-1"
key          = "daas-health-pipeline/prod/terraform.tfstate"
region       = "af-south-1"
encrypt      = true
use_lockfile = true
