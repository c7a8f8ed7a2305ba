"""SimuHealth: synthetic clinic EHR traffic for demos, load tests and surveillance tests.

This package generates the records (:class:`SimuHealthGenerator`, with
:class:`Outbreak` to inject outbreaks); the Kafka producer wraps it.
"""

from producers.simuhealth.generator import SimuHealthGenerator
from producers.simuhealth.outbreak import Outbreak

__all__ = ["Outbreak", "SimuHealthGenerator"]
