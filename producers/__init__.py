"""Producers: SimuHealth (synthetic EHR) and the Google Sheets poller, both to raw topics."""
