"""The application layer: the `daas` console command, the demo, status and the report.

It sits above every stage and imports them; nothing below imports it. The shared
plumbing (``daas``) imports no stage at all.
"""
