"""Build ``devices/data/communes.csv`` from the shared commune list and the 2025 boundaries.

The product must run without the shared data directory, so the merged table is committed; this
script is how it was made, and re-running it must give the same bytes (rows in NQ order, source
number formatting kept). Run:

    .venv/bin/python scripts/build_communes.py --shared-dir /work/shared/data

The join key is the full name ("Phường An Dương"), compared after Unicode NFC normalisation:
the two sources come from different tool chains, and a name typed on macOS arrives decomposed
(NFD) and would otherwise look different while printing the same.
"""

from __future__ import annotations

import argparse
import csv
import sys
import unicodedata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED_DIR = REPO_ROOT / ".." / "shared" / "data"
OUTPUT = REPO_ROOT / "devices" / "data" / "communes.csv"
COLUMNS = ("code", "no", "kind", "name", "full_name", "lat", "lon", "area_km2")
EXPECTED = 114
# The geo layer labels types in Vietnamese; the commune list uses ASCII codes.
GEO_KIND = {"phường": "phuong", "xã": "xa", "đặc khu": "dac_khu"}


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip())


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def merge(shared_dir: Path) -> tuple[list[dict[str, str]], list[str]]:
    """Merged rows in NQ order, and notes on everything that needed normalising."""
    communes = _read(shared_dir / "haiphong_communes.csv")
    geo = _read(shared_dir / "geo" / "haiphong_communes_2025_centroids.csv")
    notes: list[str] = []
    for label, rows, key in (("list", communes, "full_name"), ("geo", geo, "ten")):
        changed = [row[key] for row in rows if _nfc(row[key]) != row[key]]
        if changed:
            notes.append(f"{label}: {len(changed)} names not in NFC: {changed}")
    by_name = {_nfc(row["ten"]): row for row in geo}
    if len(by_name) != len(geo):
        raise SystemExit("geo layer has duplicate names after NFC normalisation")
    merged: list[dict[str, str]] = []
    missing: list[str] = []
    for row in sorted(communes, key=lambda r: int(r["no"])):
        full_name = _nfc(row["full_name"])
        match = by_name.pop(full_name, None)
        if match is None:
            missing.append(full_name)
            continue
        geo_kind = GEO_KIND.get(_nfc(match["loai"]))
        if geo_kind != row["kind"]:
            notes.append(f"{full_name}: kind {row['kind']!r} in the list, {match['loai']!r} in geo")
        merged.append(
            {
                "code": match["ma_xa"].strip(),
                "no": row["no"].strip(),
                "kind": row["kind"].strip(),
                "name": _nfc(row["name"]),
                "full_name": full_name,
                "lat": match["centroid_lat"].strip(),
                "lon": match["centroid_lon"].strip(),
                "area_km2": match["dien_tich_km2_tinh_tu_hinh"].strip(),
            }
        )
    if missing or by_name:
        raise SystemExit(f"unmatched: list only {missing}, geo only {sorted(by_name)}")
    if len(merged) != EXPECTED:
        raise SystemExit(f"expected {EXPECTED} communes, got {len(merged)}")
    return merged, notes


def write(rows: list[dict[str, str]], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-dir", type=Path, default=DEFAULT_SHARED_DIR)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    rows, notes = merge(args.shared_dir.resolve())
    write(rows, args.output)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {len(rows)} communes to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
