"""Device profiles: shipped files load, bad files say which file and which key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from devices import DeviceProfile, MetricSpec, ProfileError, load_profiles
from devices.profiles import DEFAULT_PROFILE_DIR

SHIPPED_KINDS = {
    "air_quality_station",
    "weather_station",
    "water_level_gauge",
    "traffic_camera",
    "street_light",
    "lighting_cabinet",
    "water_supply_sensor",
    "drainage_sensor",
}

VALID = {
    "kind": "noise_meter",
    "title": "Noise meter",
    "description": "Sound level meter.",
    "owner_hint": "Sở Nông nghiệp và Môi trường",
    "metrics": [
        {
            "name": "laeq",
            "unit": "dB",
            "min": 20,
            "max": 140,
            "interval_s": 60,
            "description": "A-weighted equivalent level.",
        }
    ],
}


def write(directory: Path, body: dict[str, object], name: str = "noise_meter.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def metric(**overrides: object) -> dict[str, object]:
    return {**VALID["metrics"][0], **overrides}  # type: ignore[index]


def load_error(tmp_path: Path, body: dict[str, object]) -> str:
    write(tmp_path, body)
    with pytest.raises(ProfileError) as caught:
        load_profiles(tmp_path)
    assert caught.value.path == tmp_path / "noise_meter.yaml"
    return str(caught.value)


def test_every_shipped_profile_loads() -> None:
    profiles = load_profiles()
    assert set(profiles) == SHIPPED_KINDS
    for kind, profile in profiles.items():
        assert profile.kind == kind
        assert profile.metrics


def test_air_quality_station_uses_vn_aqi_units() -> None:
    station = load_profiles()["air_quality_station"]
    for name in ("pm25", "pm10", "no2", "so2", "co", "o3"):
        assert station.metric(name).unit == "ug/m3"
        assert station.metric(name).interval_s == 60
    assert station.metric("temperature").unit == "Cel"
    assert station.metric("humidity").unit == "%"
    assert station.metric("pressure").unit == "hPa"


def test_traffic_camera_counts_each_class_and_direction() -> None:
    camera = load_profiles()["traffic_camera"]
    for vehicle in ("motorbike", "car", "bus_truck", "bicycle"):
        for direction in ("in", "out"):
            assert camera.metric(f"count_{vehicle}_{direction}").unit == "{vehicle}"


def test_callers_get_their_own_dict() -> None:
    load_profiles().clear()
    assert set(load_profiles()) == SHIPPED_KINDS


def test_unknown_metric_lookup_names_the_kind() -> None:
    with pytest.raises(KeyError, match=r"street_light.*'pm25'"):
        load_profiles()["street_light"].metric("pm25")


def test_a_new_kind_is_just_a_file(tmp_path: Path) -> None:
    shutil.copy(DEFAULT_PROFILE_DIR / "street_light.yaml", tmp_path)
    write(tmp_path, VALID)
    profiles = load_profiles(tmp_path)
    assert set(profiles) == {"street_light", "noise_meter"}
    assert profiles["noise_meter"].metric_names == frozenset({"laeq"})


def test_unknown_key_is_named_with_its_path(tmp_path: Path) -> None:
    message = load_error(tmp_path, {**VALID, "metrics": [metric(intreval_s=60)]})
    assert "noise_meter.yaml: metrics[0].intreval_s: unknown key" in message
    assert "interval_s" in message  # the allowed keys are listed


def test_unknown_top_level_key(tmp_path: Path) -> None:
    assert "noise_meter.yaml: colour: unknown key" in load_error(tmp_path, {**VALID, "colour": 1})


def test_bad_unit(tmp_path: Path) -> None:
    body = {**VALID, "metrics": [metric(), metric(name="lmax"), metric(name="l90", unit="ugm3")]}
    message = load_error(tmp_path, body)
    assert message == "noise_meter.yaml: metrics[2].unit: 'ugm3' is not a known UCUM unit"


def test_unquoted_dimensionless_unit_gets_a_hint(tmp_path: Path) -> None:
    message = load_error(tmp_path, {**VALID, "metrics": [metric(unit=1)]})
    assert "metrics[0].unit: 1 is not a string (quote it" in message


@pytest.mark.parametrize(("low", "high"), [(10, 10), (10, 5)])
def test_min_must_be_below_max(tmp_path: Path, low: float, high: float) -> None:
    message = load_error(tmp_path, {**VALID, "metrics": [metric(min=low, max=high)]})
    assert "noise_meter.yaml: metrics[0].max: max" in message
    assert "must be greater than min" in message


def test_duplicate_metric(tmp_path: Path) -> None:
    message = load_error(tmp_path, {**VALID, "metrics": [metric(), metric(unit="1")]})
    assert message == (
        "noise_meter.yaml: metrics: duplicate metric name 'laeq' (metrics[0] and metrics[1])"
    )


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"name": "LAeq"}, "metrics[0].name: String should match pattern"),
        ({"interval_s": 0}, "metrics[0].interval_s: Input should be greater than 0"),
        ({"min": "0"}, "metrics[0].min: Input should be a valid number (got '0')"),
        ({"max": float("inf")}, "metrics[0].max"),
    ],
)
def test_metric_field_rules(tmp_path: Path, overrides: dict[str, object], fragment: str) -> None:
    assert fragment in load_error(tmp_path, {**VALID, "metrics": [metric(**overrides)]})


def test_missing_keys_and_empty_metrics(tmp_path: Path) -> None:
    body = {key: value for key, value in VALID.items() if key != "title"}
    assert "noise_meter.yaml: title: required key is missing" in load_error(tmp_path, body)
    assert "metrics: " in load_error(tmp_path, {**VALID, "metrics": []})


def test_kind_must_match_the_file_name(tmp_path: Path) -> None:
    message = load_error(tmp_path, {**VALID, "kind": "noise"})
    assert "kind: 'noise' does not match the file name (expected 'noise_meter')" in message


def test_duplicate_yaml_keys_are_an_error(tmp_path: Path) -> None:
    text = yaml.safe_dump(VALID) + "title: Again\n"
    (tmp_path / "noise_meter.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match=r"noise_meter.yaml: line \d+: duplicate key 'title'"):
        load_profiles(tmp_path)


@pytest.mark.parametrize(
    ("text", "fragment"), [("", "file is empty"), ("- a\n", "must be a mapping"), ("a: [", "YAML")]
)
def test_unreadable_files(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / "noise_meter.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match=f"noise_meter.yaml: .*{fragment}"):
        load_profiles(tmp_path)


def test_models_are_strict_in_python_too() -> None:
    with pytest.raises(ValidationError):
        MetricSpec.model_validate({**metric(), "unit": "ppm"})
    profile = DeviceProfile.model_validate(VALID)
    with pytest.raises(ValidationError):
        profile.title = "changed"  # type: ignore[misc]
