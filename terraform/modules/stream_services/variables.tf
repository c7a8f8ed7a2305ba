variable "name_prefix" {
  description = "Prefix for resource names, e.g. daas-prod."
  type        = string
}

# ------------------------------------------------------------------ runtime

variable "image_repository_url" {
  description = "ECR repository URL of the pipeline image."
  type        = string
}

variable "image_repository_arn" {
  description = "ECR repository ARN (execution roles may pull from it only)."
  type        = string
}

variable "image_tag" {
  description = "Immutable tag of the pipeline image to run."
  type        = string
}

variable "cpu_architecture" {
  description = "CPU architecture the image is built for (X86_64 or ARM64)."
  type        = string
  default     = "X86_64"
}

variable "commands" {
  description = "Container command per service: arguments of the pipeline image's ENTRYPOINT (`daas`), the same commands docker-compose.yaml runs. Keys: the keys of sizing, and topic_admin."
  type        = map(list(string))
  default = {
    simuhealth_producer = ["produce", "simuhealth"]
    sheet_poller        = ["produce", "gsheet"]
    processor           = ["process"]
    surveillance        = ["surveil"]
    s3_sink             = ["sink", "s3"]
    postgres_sink       = ["sink", "postgres"]
    alerts_sink         = ["sink", "alerts"]
    dead_letters_sink   = ["sink", "dead-letters"]
    # Idempotent: creates the missing pipeline topics with their retention
    # and compaction settings, nothing else.
    topic_admin = ["topics", "create"]
  }

  validation {
    condition     = toset(keys(var.commands)) == toset(["simuhealth_producer", "sheet_poller", "processor", "surveillance", "s3_sink", "postgres_sink", "alerts_sink", "dead_letters_sink", "topic_admin"])
    error_message = "commands must have exactly the keys simuhealth_producer, sheet_poller, processor, surveillance, s3_sink, postgres_sink, alerts_sink, dead_letters_sink, topic_admin."
  }
}

variable "sizing" {
  description = "Fargate size and task-count bounds per long-running service. Scaling out adds consumers to the same consumer group, so max_count is capped by topic_partitions."
  type = map(object({
    cpu       = number
    memory    = number
    min_count = number
    max_count = number
  }))
  default = {
    simuhealth_producer = { cpu = 256, memory = 512, min_count = 1, max_count = 3 }
    sheet_poller        = { cpu = 256, memory = 512, min_count = 1, max_count = 1 }
    processor           = { cpu = 1024, memory = 2048, min_count = 2, max_count = 6 }
    surveillance        = { cpu = 512, memory = 1024, min_count = 1, max_count = 3 }
    s3_sink             = { cpu = 512, memory = 1024, min_count = 1, max_count = 6 }
    postgres_sink       = { cpu = 512, memory = 1024, min_count = 1, max_count = 6 }
    alerts_sink         = { cpu = 256, memory = 512, min_count = 1, max_count = 2 }
    dead_letters_sink   = { cpu = 256, memory = 512, min_count = 1, max_count = 2 }
  }

  validation {
    condition     = toset(keys(var.sizing)) == toset(["simuhealth_producer", "sheet_poller", "processor", "surveillance", "s3_sink", "postgres_sink", "alerts_sink", "dead_letters_sink"])
    error_message = "sizing must have exactly the keys simuhealth_producer, sheet_poller, processor, surveillance, s3_sink, postgres_sink, alerts_sink, dead_letters_sink."
  }

  validation {
    condition     = var.sizing["sheet_poller"].max_count == 1
    error_message = "The sheet poller must run as a single task: two pollers would race on the same sheet."
  }
}

variable "common_environment" {
  description = "Environment variables (application settings, DAAS_*) given to every container. The application rejects unknown DAAS_* names, so only real settings belong here."
  type        = map(string)
}

variable "service_environment" {
  description = "Extra environment variables per service key."
  type        = map(map(string))
  default     = {}
}

variable "service_secrets" {
  description = "Extra secrets per service key: environment variable name => Secrets Manager secret ARN (injected by ECS at start)."
  type        = map(map(string))
  default     = {}
}

variable "secret_env_names" {
  description = "Environment variable names under which the secrets created here reach the containers."
  type = object({
    pseudonymisation_key = string
    gsheet_credentials   = string
  })
  default = {
    pseudonymisation_key = "DAAS_PATIENT_KEY_SECRET"
    gsheet_credentials   = "DAAS_GSHEET_CREDENTIALS_JSON"
  }
}

# ---------------------------------------------------------------- network

variable "subnet_ids" {
  description = "Private subnets the tasks run in."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security group ID per workload key (from the network module)."
  type        = map(string)
}

# ------------------------------------------------------------- encryption

variable "kms_key_arn" {
  description = "Data KMS key: secrets created here and the lake objects."
  type        = string
}

variable "log_kms_key_arn" {
  description = "KMS key of the service log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the service log groups."
  type        = number
  default     = 365
}

# ------------------------------------------------------------------ Kafka

variable "kafka_cluster_arn" {
  description = "ARN of the MSK cluster."
  type        = string
}

variable "kafka_cluster_name" {
  description = "Name of the MSK cluster (CloudWatch dimension for lag scaling)."
  type        = string
}

variable "kafka_topic_arn_prefix" {
  description = "Topic ARN prefix from the msk module."
  type        = string
}

variable "kafka_group_arn_prefix" {
  description = "Consumer group ARN prefix from the msk module."
  type        = string
}

variable "kafka_transactional_id_arn_prefix" {
  description = "Transactional-id ARN prefix from the msk module (the processor's exactly-once producers)."
  type        = string
}

variable "topics" {
  description = "Topic names: the application's defaults (daas.settings.Topics, DESIGN.md section 3). The keys are the Topics fields, so DAAS_TOPIC_<KEY> names the same topic."
  type = object({
    raw_simuhealth      = string
    raw_gsheet          = string
    clean_lake          = string
    clean_ops           = string
    dlq                 = string
    surveillance_cases  = string
    surveillance_counts = string
    surveillance_alerts = string
    gsheet_checkpoints  = string
  })
  default = {
    raw_simuhealth      = "health.raw.simuhealth.v1"
    raw_gsheet          = "health.raw.gsheet.v1"
    clean_lake          = "health.clean.lake.v1"
    clean_ops           = "health.clean.ops.v1"
    dlq                 = "health.dlq.v1"
    surveillance_cases  = "health.surveillance.cases.v1"
    surveillance_counts = "health.surveillance.counts.v1"
    surveillance_alerts = "health.surveillance.alerts.v1"
    # The sheet poller's own compacted topic of emitted-row hashes
    # (DAAS_TOPIC_GSHEET_CHECKPOINTS); it creates the topic itself.
    gsheet_checkpoints = "health.gsheet.checkpoints.v1"
  }
}

variable "topic_partitions" {
  description = "Partitions per pipeline topic (the application's DAAS_KAFKA_PARTITIONS): the upper bound of useful consumers in one group."
  type        = number
  default     = 6
}

variable "consumer_groups" {
  description = <<-EOT
    Consumer group per consuming service. The processor's and the surveillance
    service's groups are their application ids (DAAS_PROCESSOR_APP_ID,
    DAAS_SURVEILLANCE_APP_ID, set from here), which also prefix the topics they
    create: the processor's de-duplication changelogs "<id>-dedup-<input topic>"
    and its exactly-once transactional ids "<id>-<instance id>", Faust's changelog
    and leader topics "<id>-...". The sinks' are `daas sink`'s defaults
    (daas-<kind>-sink); the sheet poller's restores its checkpoints.
  EOT
  type = object({
    processor            = string
    surveillance         = string
    s3_sink              = string
    postgres_sink        = string
    alerts_sink          = string
    dead_letters_sink    = string
    sheet_poller_restore = string
  })
  default = {
    processor            = "daas-processor"
    surveillance         = "daas-surveillance"
    s3_sink              = "daas-s3-sink"
    postgres_sink        = "daas-postgres-sink"
    alerts_sink          = "daas-alerts-sink"
    dead_letters_sink    = "daas-dead-letters-sink"
    sheet_poller_restore = "daas-gsheet-checkpoint-restore"
  }
}

# ---------------------------------------------------------------- storage

variable "lake_bucket_arn" {
  description = "ARN of the lake bucket."
  type        = string
}

variable "lake_prefix" {
  description = "Key prefix the S3 sink writes under."
  type        = string
}

variable "rds_instance_resource_id" {
  description = "Resource ID of the ops database (for rds-db:connect)."
  type        = string
}

variable "rds_iam_db_user" {
  description = "Database role the RDS sinks (Postgres, alerts, dead letters) may log in as with an IAM token."
  type        = string
  default     = "daas_ops_writer"
}

# ---------------------------------------------------------------- scaling

variable "cpu_target_percent" {
  description = "Average CPU utilisation that target tracking keeps each scalable service at."
  type        = number
  default     = 60
}

variable "consumer_lag_target" {
  description = <<-EOT
    Consumer-lag scaling: the summed offset lag (MSK metric SumOffsetLag of the
    service's consumer group on its input topic) that target tracking keeps
    each consuming service at, alongside CPU tracking. Lag is the better signal
    for I/O-bound sinks, whose CPU stays low while they fall behind.
    0 disables it (CPU tracking only).
  EOT
  type        = number
  default     = 0
}
