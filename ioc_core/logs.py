"""Logging set-up shared by every ``ioc`` process: plain text for people, JSON for collectors.

``IOC_LOG_FORMAT=json`` makes each record one JSON object per line (time, level, logger,
message and any ``extra`` fields), which the city's SOC log pipeline can ingest as is.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        doc.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


def configure_logging(*, verbose: bool = False, fmt: str | None = None) -> None:
    fmt = (fmt or os.environ.get("IOC_LOG_FORMAT", "text")).lower()
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # One INFO line per HTTP request (httpx) drowns what the operator needs to see.
    logging.getLogger("httpx").setLevel(logging.WARNING)
