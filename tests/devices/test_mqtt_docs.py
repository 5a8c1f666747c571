"""docs/mqtt.md is checked against the contract so the page for device makers cannot drift.

The ```sh examples run here with ``mosquitto_pub`` replaced by a shell function that prints the
topic and payload, so they are checked without a broker; running them against a real broker is a
separate, ``broker``-marked test of the stack.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices import (
    MAX_PAYLOAD_BYTES,
    PAYLOAD_MODELS,
    Channel,
    Topic,
    check_timestamp_window,
    load_profiles,
)

DOC = Path(__file__).parents[2] / "docs" / "mqtt.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)

# Shell stand-ins: print what would be published, accept subscriptions as no-ops.
STUBS = r"""
mosquitto_pub() {
  local topic="" message=""
  while [ $# -gt 0 ]; do
    case "$1" in -t) topic="$2"; shift ;; -m) message="$2"; shift ;; esac
    shift
  done
  printf '%s\t%s\n' "$topic" "$message"
}
mosquitto_sub() { :; }
"""


def blocks(language: str) -> list[str]:
    return [
        body for lang, body in FENCE.findall(DOC.read_text(encoding="utf-8")) if lang == language
    ]


def model_for(body: dict[str, object]) -> Channel:
    for key, channel in (
        ("metrics", Channel.TELEMETRY),
        ("state", Channel.STATUS),
        ("severity", Channel.EVENT),
        ("status", Channel.COMMAND_ACK),
        ("name", Channel.COMMAND),
    ):
        if key in body:
            return channel
    raise AssertionError(f"no payload model fits {body}")


def test_json_examples_are_valid_payloads() -> None:
    examples = blocks("json")
    assert len(examples) >= 6
    for text in examples:
        channel = model_for(json.loads(text))
        PAYLOAD_MODELS[channel].model_validate_json(text)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_sh_examples_publish_valid_messages_on_valid_topics() -> None:
    scripts = blocks("sh")
    assert scripts
    now = datetime.now(UTC)
    published = 0
    for script in scripts:
        result = subprocess.run(
            ["bash", "-euc", STUBS + script],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        for line in result.stdout.splitlines():
            topic_text, payload = line.split("\t", 1)
            topic = Topic.parse(topic_text)
            assert topic.tenant == "sonnmt"
            assert len(payload.encode()) <= MAX_PAYLOAD_BYTES
            message = PAYLOAD_MODELS[topic.channel].model_validate_json(payload)
            check_timestamp_window(message.ts, now=now)
            published += 1
    assert published >= 5


def test_sh_examples_use_the_demo_port() -> None:
    for script in blocks("sh"):
        for line in script.splitlines():
            if line.startswith("mosquitto_"):
                assert '-p "${IOC_MQTT_PORT:-51883}"' in line


def test_python_example_is_valid_python() -> None:
    (example,) = blocks("python")
    ast.parse(example)


def test_air_quality_table_matches_the_profile() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("`air_quality_station` (per VN_AQI", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    profile = load_profiles()["air_quality_station"]
    documented = []
    for row in rows:
        name, unit, _symbol, plausible, interval = (
            cell.strip() for cell in row.strip("|").split("|")
        )
        low, high = (float(part) for part in plausible.split(" – "))
        documented.append(
            (name.strip("`"), unit.strip("`"), low, high, float(interval.removesuffix(" s")))
        )
    expected = [(m.name, m.unit, m.min, m.max, m.interval_s) for m in profile.metrics]
    assert documented == expected


def test_size_limit_matches_the_contract() -> None:
    assert f"{MAX_PAYLOAD_BYTES:,} bytes" in DOC.read_text(encoding="utf-8")
