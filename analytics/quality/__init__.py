"""Data-quality, lighting and traffic detectors for the alert engine (docs/quality.md).

Each module holds one family of detectors; each is an incremental, event-time object
(``observe(reading)``, ``tick(watermark)``) registered in the entry-point group
``ioc.detectors``, so the engine runs them without importing this package.
"""
