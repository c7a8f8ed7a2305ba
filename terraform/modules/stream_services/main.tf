# The stream services on ECS Fargate: one service per stage, each with its own
# task role (what the code may do), execution role (what ECS may do to start
# it), KMS-encrypted log group, and security group. Tasks run in private
# subnets without public IPs. Consuming stages scale out by adding tasks to
# the same consumer group, bounded by the topic's partition count.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  services     = keys(var.sizing)                        # long-running ECS services
  task_kinds   = concat(local.services, ["topic_admin"]) # plus the one-off admin task
  service_name = { for k in local.task_kinds : k => "${var.name_prefix}-${replace(k, "_", "-")}" }

  # Services whose desired count target tracking may change.
  scalable = { for k, s in var.sizing : k => s if s.max_count > s.min_count }

  # The processor reads each raw topic in a consumer group of its own,
  # "<app id>-<source>" (stream_processors.worker.processor_group).
  processor_groups = { for source in ["simuhealth", "gsheet"] : source => "${var.consumer_groups.processor}-${source}" }

  # Input topic and group of each consumer (for lag scaling); SimuHealth
  # carries the processor's load.
  lag_source = {
    processor         = { group = local.processor_groups.simuhealth, topic = var.topics.raw_simuhealth }
    surveillance      = { group = var.consumer_groups.surveillance, topic = var.topics.surveillance_cases }
    s3_sink           = { group = var.consumer_groups.s3_sink, topic = var.topics.clean_lake }
    postgres_sink     = { group = var.consumer_groups.postgres_sink, topic = var.topics.clean_ops }
    alerts_sink       = { group = var.consumer_groups.alerts_sink, topic = var.topics.surveillance_alerts }
    dead_letters_sink = { group = var.consumer_groups.dead_letters_sink, topic = var.topics.dlq }
  }
  lag_scaled = var.consumer_lag_target > 0 ? { for k, v in local.lag_source : k => v if contains(keys(local.scalable), k) } : {}

  # Secrets created here, wired to the service that needs them.
  module_secrets = {
    processor = { (var.secret_env_names.pseudonymisation_key) = aws_secretsmanager_secret.pseudonymisation_key.arn }
    sheet_poller = {
      (var.secret_env_names.gsheet_credentials)   = aws_secretsmanager_secret.gsheet_credentials.arn
      (var.secret_env_names.pseudonymisation_key) = aws_secretsmanager_secret.pseudonymisation_key.arn # row keys
    }
  }
  secrets = {
    for k in local.task_kinds : k => merge(lookup(local.module_secrets, k, {}), lookup(var.service_secrets, k, {}))
  }

  # The application ids the IAM grants are built on (consumer groups, created
  # topics, transactional ids), given to the stages last, so no other variable
  # can make the two differ: change them through var.consumer_groups.
  module_environment = {
    processor    = { DAAS_PROCESSOR_APP_ID = var.consumer_groups.processor }
    surveillance = { DAAS_SURVEILLANCE_APP_ID = var.consumer_groups.surveillance }
  }
  environment = {
    for k in local.task_kinds : k => merge(var.common_environment, lookup(var.service_environment, k, {}), lookup(local.module_environment, k, {}))
  }

  image = "${var.image_repository_url}:${var.image_tag}"
}

# ---------------------------------------------------------------- secrets

# Values are put by an operator after the first apply; never in state.
resource "aws_secretsmanager_secret" "pseudonymisation_key" {
  #checkov:skip=CKV2_AWS_57:Rotating the HMAC key changes every patient_key; rotation is a planned re-keying, not an automatic Lambda rotation.
  name                    = "${var.name_prefix}/processor/pseudonymisation-key"
  description             = "HMAC-SHA256 key that derives patient_key in the processors and row keys in the sheet poller."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret" "gsheet_credentials" {
  #checkov:skip=CKV2_AWS_57:A Google service-account key is rotated in Google Cloud, which AWS rotation Lambdas cannot do.
  name                    = "${var.name_prefix}/sheet-poller/google-service-account"
  description             = "Google service-account JSON the sheet poller uses for the Sheets API (read-only scope)."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 30
}

# ---------------------------------------------------------------- cluster

resource "aws_cloudwatch_log_group" "exec" {
  name              = "/daas/${var.name_prefix}/ecs/exec"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
}

resource "aws_ecs_cluster" "this" {
  name = "${var.name_prefix}-stream"

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  # ECS Exec stays disabled on the services; should an operator enable it for
  # a debugging session, the session is encrypted and logged.
  configuration {
    execute_command_configuration {
      kms_key_id = var.kms_key_arn
      logging    = "OVERRIDE"
      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.exec.name
      }
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "service" {
  for_each = toset(local.task_kinds)

  name              = "/daas/${var.name_prefix}/ecs/${replace(each.key, "_", "-")}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
}

# ------------------------------------------------------- task definitions

resource "aws_ecs_task_definition" "this" {
  for_each = toset(local.task_kinds)

  family                   = local.service_name[each.key]
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.key == "topic_admin" ? 256 : var.sizing[each.key].cpu
  memory                   = each.key == "topic_admin" ? 512 : var.sizing[each.key].memory
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  task_role_arn            = aws_iam_role.task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # The only writable paths (task ephemeral storage): Faust table state and
  # temporary files such as Parquet row groups before upload.
  volume {
    name = "state"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name                   = replace(each.key, "_", "-")
      image                  = local.image
      essential              = true
      command                = var.commands[each.key]
      readonlyRootFilesystem = true
      privileged             = false
      # SIGTERM first: the stage flushes, then commits offsets (commit only
      # after durable); give it time before SIGKILL.
      stopTimeout = 120
      linuxParameters = {
        initProcessEnabled = true
      }
      # `daas healthcheck` asks the stage's own /healthz (DAAS_METRICS_PORT); a
      # stage that stops consuming or producing is replaced. The one-off topic
      # admin task exits instead.
      healthCheck = each.key == "topic_admin" ? null : {
        command     = ["CMD", "daas", "healthcheck"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 60
      }
      mountPoints = [
        { sourceVolume = "state", containerPath = "/var/lib/daas", readOnly = false },
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]
      environment = [
        for name, value in local.environment[each.key] : { name = name, value = value }
      ]
      secrets = [
        for name, arn in local.secrets[each.key] : { name = name, valueFrom = arn }
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = "ecs"
        }
      }
    }
  ])
}

# ---------------------------------------------------------------- services

resource "aws_ecs_service" "this" {
  for_each = var.sizing

  name             = local.service_name[each.key]
  cluster          = aws_ecs_cluster.this.arn
  task_definition  = aws_ecs_task_definition.this[each.key].arn
  desired_count    = each.value.min_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  # A single-task service (the sheet poller) is stopped before its
  # replacement starts, so two pollers never read the sheet at once.
  deployment_minimum_healthy_percent = each.value.max_count == 1 ? 0 : 50
  deployment_maximum_percent         = each.value.max_count == 1 ? 100 : 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_ids[each.key]]
    assign_public_ip = false
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  lifecycle {
    # Application Auto Scaling owns the running count.
    ignore_changes = [desired_count]

    precondition {
      condition     = each.value.max_count <= var.topic_partitions
      error_message = "max_count of ${each.key} exceeds topic_partitions: extra consumers in the group would sit idle."
    }
  }

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

# -------------------------------------------------------------- autoscaling

resource "aws_appautoscaling_target" "this" {
  for_each = local.scalable

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this[each.key].name}"
  min_capacity       = each.value.min_count
  max_capacity       = each.value.max_count
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each = local.scalable

  name               = "${local.service_name[each.key]}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    target_value = var.cpu_target_percent
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
    # Scale in slowly: every rebalance pauses the whole consumer group.
    scale_in_cooldown  = 600
    scale_out_cooldown = 120
  }
}

resource "aws_appautoscaling_policy" "consumer_lag" {
  for_each = local.lag_scaled

  name               = "${local.service_name[each.key]}-consumer-lag"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    target_value = var.consumer_lag_target

    customized_metric_specification {
      namespace   = "AWS/Kafka"
      metric_name = "SumOffsetLag"
      statistic   = "Maximum"

      dimensions {
        name  = "Cluster Name"
        value = var.kafka_cluster_name
      }
      dimensions {
        name  = "Consumer Group"
        value = each.value.group
      }
      dimensions {
        name  = "Topic"
        value = each.value.topic
      }
    }

    scale_in_cooldown  = 600
    scale_out_cooldown = 120
  }
}
