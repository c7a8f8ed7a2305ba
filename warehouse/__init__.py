"""The batch side: warehouse loads from the lake and the RDS→warehouse replication.

Importable without Kafka or Faust, so the Airflow environment can call it.
"""
