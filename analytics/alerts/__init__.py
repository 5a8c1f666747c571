"""The alert engine: threshold rules and pluggable detectors evaluated on the MQTT stream.

Public surface (contract C4 in TEAM.md): the types detectors exchange with the engine and
``apply_findings``, through which every alert is opened, re-graded or resolved. Detectors of
other packages register a factory ``fn(settings, conn) -> Detector`` in the entry-point group
``ioc.detectors``; the engine loads them without importing those packages.
"""

from analytics.alerts.model import SEVERITIES, AlertChange, Detector, Finding, Reading
from analytics.alerts.store import apply_findings

DETECTORS_GROUP = "ioc.detectors"

__all__ = [
    "DETECTORS_GROUP",
    "SEVERITIES",
    "AlertChange",
    "Detector",
    "Finding",
    "Reading",
    "apply_findings",
]
