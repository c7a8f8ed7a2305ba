# The pause/resume/resize schedule, and what it saves.
#
# Airflow's redshift_lifecycle DAG is the only controller of the cluster's state:
# it skips what is already done and never pauses or resizes under a warehouse
# load or an Airbyte sync, which a Redshift scheduled action cannot know about.
# So Terraform schedules no Redshift action itself: it hands this schedule to
# MWAA as the [daas] Airflow options the DAG reads (lifecycle_airflow_options).
#
# Default week (UTC): running Monday-Friday 06:00-20:00, paused every weekday
# night and from Friday 20:00 to Monday 06:00; on Monday 07:00-12:00 the
# cluster scales out for the weekly surveillance build, then back.
# terraform/README.md works through the hours and cost this saves; the
# outputs compute the same figures for the chosen variables.

locals {
  weekdays = "1-5" # Monday to Friday, in Airflow's (Unix) cron
  cron_day = { MON = 1, TUE = 2, WED = 3, THU = 4, FRI = 5 }

  lifecycle_crons = {
    redshift_pause_cron        = var.schedule_enabled ? "0 ${var.pause_hour_utc} * * ${local.weekdays}" : "off"
    redshift_resume_cron       = var.schedule_enabled ? "0 ${var.resume_hour_utc} * * ${local.weekdays}" : "off"
    redshift_resize_up_cron    = var.schedule_enabled && var.scheduled_resize_enabled ? "0 ${var.resize_start_hour_utc} * * ${local.cron_day[var.resize_day]}" : "off"
    redshift_resize_down_cron  = var.schedule_enabled && var.scheduled_resize_enabled ? "0 ${var.resize_end_hour_utc} * * ${local.cron_day[var.resize_day]}" : "off"
    redshift_schedule_timezone = "UTC"
  }

  # Paused hours per week: four weekday nights plus the long weekend night.
  night_hours           = 24 - var.pause_hour_utc + var.resume_hour_utc
  paused_hours_per_week = 4 * local.night_hours + (local.night_hours + 48)

  resize_extra_node_hours = var.scheduled_resize_enabled ? (var.resize_number_of_nodes - var.number_of_nodes) * (var.resize_end_hour_utc - var.resize_start_hour_utc) : 0
  net_node_hours_saved    = local.paused_hours_per_week * var.number_of_nodes - local.resize_extra_node_hours
}
