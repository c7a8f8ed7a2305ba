"""The batch side: lake loads into the warehouse, the RDS sync, analytics, lifecycle.

- ``loader`` — manifests the S3 sink committed → staging → MERGE, audited once;
  ``targets`` is the warehouse interface, ``postgres`` (local) and ``redshift`` (AWS,
  Data API) implement it; ``statements`` writes their SQL; ``manifests`` reads the lake.
- ``replicator`` — the local stand-in for the Airbyte RDS → Redshift connection.
- ``analytics`` — weekly cases and incidence views, small cells suppressed;
  ``analyst`` — the top-five-diagnoses query the README shows.
- ``lifecycle`` — Redshift pause / resume / resize decisions; ``alerts`` — failure
  webhooks; ``config`` — the run-time Airflow Variable; ``jobs`` and ``orchestration``
  — what the DAGs in ``dags/`` call.

Importable without Kafka or Faust, so the Airflow environment can call it; Airflow
itself is imported only inside the functions that need it.
"""
