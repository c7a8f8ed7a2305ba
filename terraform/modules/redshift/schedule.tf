# Scheduled pause, resume and resize, run by the Redshift scheduler.
#
# Default week (UTC): running Monday-Friday 06:00-20:00, paused every weekday
# night and from Friday 20:00 to Monday 06:00; on Monday 07:00-12:00 the
# cluster scales out for the weekly surveillance build, then back.
# terraform/README.md works through the hours and cost this saves; the
# outputs below compute the same figures for the chosen variables.

locals {
  weekdays = "MON-FRI"

  # Paused hours per week: four weekday nights plus the long weekend night.
  night_hours           = 24 - var.pause_hour_utc + var.resume_hour_utc
  paused_hours_per_week = 4 * local.night_hours + (local.night_hours + 48)

  resize_extra_node_hours = var.scheduled_resize_enabled ? (var.resize_number_of_nodes - var.number_of_nodes) * (var.resize_end_hour_utc - var.resize_start_hour_utc) : 0
  net_node_hours_saved    = local.paused_hours_per_week * var.number_of_nodes - local.resize_extra_node_hours
}

data "aws_iam_policy_document" "scheduler_trust" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.redshift.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${local.cluster_identifier}-scheduler"
  description        = "Assumed by the Redshift scheduler to pause, resume and resize ${local.cluster_identifier}"
  assume_role_policy = data.aws_iam_policy_document.scheduler_trust.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid    = "LifecycleOfThisClusterOnly"
    effect = "Allow"
    actions = [
      "redshift:PauseCluster",
      "redshift:ResumeCluster",
      "redshift:ResizeCluster",
    ]
    resources = [aws_redshift_cluster.this.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "pause-resume-resize"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_redshift_scheduled_action" "pause" {
  name        = "${local.cluster_identifier}-pause"
  description = "Pause at ${var.pause_hour_utc}:00 UTC on weekdays; stays paused over the weekend."
  enable      = var.schedule_enabled
  schedule    = "cron(0 ${var.pause_hour_utc} ? * ${local.weekdays} *)"
  iam_role    = aws_iam_role.scheduler.arn

  target_action {
    pause_cluster {
      cluster_identifier = aws_redshift_cluster.this.cluster_identifier
    }
  }
}

resource "aws_redshift_scheduled_action" "resume" {
  name        = "${local.cluster_identifier}-resume"
  description = "Resume at ${var.resume_hour_utc}:00 UTC on weekdays."
  enable      = var.schedule_enabled
  schedule    = "cron(0 ${var.resume_hour_utc} ? * ${local.weekdays} *)"
  iam_role    = aws_iam_role.scheduler.arn

  target_action {
    resume_cluster {
      cluster_identifier = aws_redshift_cluster.this.cluster_identifier
    }
  }
}

# A resize is a pair: out at the start of the heavy window, back at its end.
resource "aws_redshift_scheduled_action" "resize" {
  for_each = var.scheduled_resize_enabled ? {
    out  = { hour = var.resize_start_hour_utc, nodes = var.resize_number_of_nodes }
    back = { hour = var.resize_end_hour_utc, nodes = var.number_of_nodes }
  } : {}

  name        = "${local.cluster_identifier}-resize-${each.key}"
  description = "Elastic resize to ${each.value.nodes} nodes at ${each.value.hour}:00 UTC on ${var.resize_day}."
  enable      = var.schedule_enabled
  schedule    = "cron(0 ${each.value.hour} ? * ${var.resize_day} *)"
  iam_role    = aws_iam_role.scheduler.arn

  target_action {
    resize_cluster {
      cluster_identifier = aws_redshift_cluster.this.cluster_identifier
      cluster_type       = each.value.nodes > 1 ? "multi-node" : "single-node"
      node_type          = var.node_type
      number_of_nodes    = each.value.nodes
      classic            = false
    }
  }
}
