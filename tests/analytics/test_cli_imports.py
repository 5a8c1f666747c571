"""The alert engine's process does not import scikit-learn.

``ioc analytics alerts run`` builds the whole ``ioc analytics`` command line first, and that
once imported the forecast model (scikit-learn, about 1.5 s of CPU) for a process that never
forecasts; ``ioc demo`` starts several of them on a two-core machine. Each probe runs in a
fresh interpreter, since this test process may have imported sklearn already.
"""

from __future__ import annotations

import json
import subprocess
import sys

# The command path as `ioc analytics alerts run` takes it: the lazy `ioc` group loads the
# analytics plugin and resolves the command (--help stops short of connecting to anything),
# then the modules the command's body imports, detectors included.
ALERTS_PROBE = """
import json, sys
from importlib.metadata import entry_points
from ioc_core.cli.main import app
try:
    app(["analytics", "alerts", "run", "--help"], standalone_mode=False)
finally:
    import analytics.alerts.runner
    for ep in entry_points(group="ioc.detectors"):
        ep.load()
    print(json.dumps({"sklearn": "sklearn" in sys.modules,
                      "forecast": sorted(m for m in sys.modules if "forecast" in m)}))
"""


def _probe(code: str) -> tuple[str, dict]:
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    *text, last = run.stdout.strip().splitlines()
    return "\n".join(text), json.loads(last)


def test_the_alert_engine_command_imports_no_sklearn():
    text, seen = _probe(ALERTS_PROBE)
    assert "SIGINT/SIGTERM" in text  # the help of the right command
    assert seen["sklearn"] is False, seen["forecast"]


def test_the_forecast_commands_keep_their_options_without_importing_the_model():
    text, seen = _probe(ALERTS_PROBE.replace('"alerts", "run", "--help"', '"backtest", "--help"'))
    assert "--target" in text and "Rolling-origin backtest" in text
    assert seen["sklearn"] is False  # help only: the model comes with the command's run
