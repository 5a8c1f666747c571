"""Convert the real reference series to the long form ``time,device,metric,value``.

    python scripts/real_to_long.py airnow HANOI.csv hanoi-embassy out.csv   # Asia/Ho_Chi_Minh
    python scripts/real_to_long.py i94 METRO.csv i94-westbound out.csv      # America/Chicago
    python scripts/real_to_long.py tide VLISSINGEN.csv vlissingen out.csv [FROM_YEAR]  # UTC+1

The I-94 file (UCI) repeats some hours with different weather rows: the first is kept. Its
volume is an hourly count; the times are local Minneapolis time, converted with daylight saving.
Temperatures of 0 K and rain above 100 mm in an hour are sensor faults and are left out of the
weather metrics (the volume of those hours is kept).
"""

from __future__ import annotations

import csv
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from analytics.history.airnow import read_airnow


def airnow(src: Path, device: str, out: Path) -> int:
    read = read_airnow(src, ZoneInfo("Asia/Ho_Chi_Minh"))
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "device", "metric", "value"])
        for _line, moment, metric, value in read.readings:
            writer.writerow([moment.isoformat(), device, metric, value])
    return len(read.readings)


def i94(src: Path, device: str, out: Path) -> int:
    zone = ZoneInfo("America/Chicago")
    seen: set[str] = set()
    rows = 0
    with src.open(newline="") as handle, out.open("w", newline="") as dst:
        writer = csv.writer(dst)
        writer.writerow(["time", "device", "metric", "value"])
        for row in csv.DictReader(handle):
            stamp = row["date_time"]
            if stamp in seen:
                continue
            seen.add(stamp)
            moment = datetime.fromisoformat(stamp).replace(tzinfo=zone).isoformat()
            writer.writerow([moment, device, "traffic_volume", row["traffic_volume"]])
            temp_k = float(row["temp"])
            if temp_k > 200:
                writer.writerow([moment, device, "temperature", round(temp_k - 273.15, 2)])
            rain = float(row["rain_1h"])
            if rain <= 100:
                writer.writerow([moment, device, "rain_1h", rain])
            rows += 1
    return rows


def tide(src: Path, device: str, out: Path, from_year: int = 0) -> int:
    """Hourly water level (cm) with its quality flag: rows flagged non-zero are left out."""
    zone = timezone(timedelta(hours=1))
    rows = 0
    with src.open(newline="") as handle, out.open("w", newline="") as dst:
        writer = csv.writer(dst)
        writer.writerow(["time", "device", "metric", "value"])
        for row in csv.DictReader(handle):
            moment = datetime.fromisoformat(row["time_met_utc+1"]).replace(tzinfo=zone)
            if moment.year < from_year or row["qc"].strip() != "0":
                continue
            writer.writerow([moment.isoformat(), device, "water_level", row["water_level_cm_nap"]])
            rows += 1
    return rows


if __name__ == "__main__":
    kind, src, device, out = sys.argv[1:5]
    if kind == "tide":
        count = tide(Path(src), device, Path(out), int(sys.argv[5]) if len(sys.argv) > 5 else 0)
    else:
        count = {"airnow": airnow, "i94": i94}[kind](Path(src), device, Path(out))
    print(f"{count} hours written to {out}")
