"""The ``ioc`` command imports a package's sub-commands only when they are named: every
process ``ioc demo`` starts, and every ``ioc stack status``, would otherwise pay seconds of
CPU for the API's and forecasts' imports."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

PROBE = """
import json, sys
import typer
from ioc_core.cli.main import app
group = typer.main.get_command(app)
names = group.list_commands(None)
try:
    app([*sys.argv[1:]], standalone_mode=False)
finally:
    heavy = [m for m in ("ioc_api.app", "sklearn", "ioc_dashboard.app", "ingest.worker")
             if m in sys.modules]
    print(json.dumps({"names": names, "heavy": heavy}))
"""


def _probe(*args: str) -> tuple[str, dict]:
    run = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    *text, last = run.stdout.strip().splitlines()
    return "\n".join(text), json.loads(last)


def test_a_core_command_imports_no_plugin_yet_every_plugin_is_listed():
    text, seen = _probe("stack", "--help")
    assert "status" in text
    assert seen["heavy"] == []
    plugins = {ep.name for ep in entry_points(group="ioc.commands")}
    assert plugins and plugins | {"stack", "db", "demo", "bench"} == set(seen["names"])


def test_a_named_plugin_is_imported_alone_and_works():
    text, seen = _probe("ingest", "--help")
    assert "run" in text and "control" in text
    assert seen["heavy"] == ["ingest.worker"]
