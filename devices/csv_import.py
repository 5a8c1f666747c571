"""Bulk registration from a CSV file: every row is checked first, then all rows go in or none.

A half-imported spreadsheet is the worst outcome: the operator cannot tell which rows to send
again. So the whole file is read and checked with the same rules as ``POST /devices``
(:func:`devices.registry_validation.check_device`), every problem is collected with the line
number an editor shows (the header is line 1; a quoted value spanning lines counts from where
its row starts), and only a clean file is written, in one transaction.

Ids already registered are errors, unless ``update`` is set: then their rows change those
devices, and only the columns present in the file (an empty cell clears a field, an absent
column keeps it), so a file with just ``id,firmware`` rolls out a firmware version.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from psycopg import Connection
from psycopg.rows import dict_row
from pydantic import BaseModel, ValidationError

from devices.errors import CsvImportError, Problem, RowProblem
from devices.registry import insert_devices
from devices.registry_models import DeviceIn
from devices.registry_validation import RegistryContext, check_device, problems_from_pydantic

__all__ = ["COLUMNS", "LEVEL_COLUMNS", "ImportReport", "import_csv"]

LEVEL_COLUMNS = ("reference_level", "alert_level", "danger_level")
COLUMNS = ("id", "kind", "tenant", "commune", "lat", "lon", "address", "install_date",
           "firmware", "tags", *LEVEL_COLUMNS)  # fmt: skip
_REQUIRED_NEW = ("id", "kind", "tenant", "lat", "lon")
_FIELD = {"tenant": "tenant_id"}  # column -> DeviceIn field where they differ
_ROW = "(row)"  # the column named for problems of a whole row


class ImportReport(BaseModel):
    created: int
    updated: int


def _text(source: str | bytes | Path) -> str:
    data = source.read_bytes() if isinstance(source, Path) else source
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        msg = f"not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8 CSV"
        raise CsvImportError([RowProblem(line, _ROW, msg)]) from exc


def _header(row: list[str] | None, update: bool) -> list[str]:
    if row is None:
        raise CsvImportError([RowProblem(1, _ROW, f"empty file; line 1 must name the columns, "
                                                  f"from: {', '.join(COLUMNS)}")])  # fmt: skip
    names = [name.strip().lower() for name in row]
    if len(names) == 1 and ";" in names[0]:
        msg = "columns are separated by ';'; save the file as CSV with ',' between columns"
        raise CsvImportError([RowProblem(1, _ROW, msg)])
    problems = [RowProblem(1, name or "(blank)", f"unknown column (known: {', '.join(COLUMNS)})")
                for name in names if name not in COLUMNS]  # fmt: skip
    problems += [RowProblem(1, name, "column appears twice") for name in sorted(set(names))
                 if names.count(name) > 1]  # fmt: skip
    required = ("id",) if update else _REQUIRED_NEW
    problems += [RowProblem(1, name, "required column is missing")
                 for name in required if name not in names]  # fmt: skip
    if problems:
        raise CsvImportError(problems)
    return names


def _values(cells: dict[str, str]) -> dict[str, object]:
    """DeviceIn fields from the row's cells; an empty cell is None (or no tags)."""
    values: dict[str, object] = {}
    for column, cell in cells.items():
        if column == "tags":
            values["tags"] = [tag for tag in cell.split(";") if tag.strip()]
        elif column not in LEVEL_COLUMNS:
            values[_FIELD.get(column, column)] = cell or None
    if "commune" in values or {"lat", "lon"} & values.keys():
        values["commune_code"] = None  # re-derived or re-checked from the new values
    return values


def _levels(cells: dict[str, str], stored: object) -> dict[str, object] | None:
    levels = stored if isinstance(stored, dict) else {}
    levels = {k: v for k, v in levels.items() if k != "unit"}
    levels.update({k: cells[k] or None for k in LEVEL_COLUMNS if k in cells})
    return levels if any(v is not None for v in levels.values()) else None


def _stored(conn: Connection, ids: list[str]) -> dict[str, dict[str, object]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT id, kind, tenant_id, commune_code, lat, lon, address, install_date,
                      firmware, tags, attributes -> 'levels' AS levels, retired_at
               FROM devices WHERE id = ANY(%s)""",
            (ids,),
        ).fetchall()
    return {str(row["id"]): row for row in rows}


def _column(field: str, header: list[str]) -> str:
    if field == "levels":
        return "/".join(c for c in LEVEL_COLUMNS if c in header) or "levels"
    return field.removeprefix("levels.").split(".")[0]


def _rows(
    text: str, update: bool
) -> tuple[list[str], list[tuple[int, dict[str, str]]], list[RowProblem]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _header(next(reader, None), update)
    rows, problems, end = [], [], reader.line_num
    for cells in reader:
        line, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, and the ",,,," rows spreadsheets leave at the end
        if len(cells) != len(header):
            msg = f"{len(cells)} values where the header has {len(header)} columns"
            problems.append(RowProblem(line, _ROW, msg))
            continue
        rows.append((line, {h: c.strip() for h, c in zip(header, cells, strict=True)}))
    return header, rows, problems


def _id_problems(
    cells: dict[str, str], old: dict[str, object] | None, update: bool
) -> list[Problem]:
    device_id = cells["id"]
    if old is None:
        return []
    if not update:
        return [
            Problem("id", f"{device_id!r} is already registered (import with update to change it)")
        ]
    if old["retired_at"] is not None:
        return [Problem("id", f"{device_id!r} belongs to a retired device; its id is not reused")]
    if cells.get("kind", old["kind"]) != old["kind"]:
        return [Problem("kind", f"cannot change from {old['kind']}: readings are stored per kind")]
    return []


def _check_row(
    cells: dict[str, str], old: dict[str, object] | None, ctx: RegistryContext, update: bool
) -> tuple[DeviceIn | None, list[Problem]]:
    """The device a row describes (merged over the stored one when updating), or its problems."""
    found = _id_problems(cells, old, update)
    base = {k: v for k, v in old.items() if k != "retired_at"} if old and update else {}
    raw = {**base, **_values(cells), "levels": _levels(cells, base.get("levels"))}
    try:
        device, more = check_device(DeviceIn.model_validate(raw), ctx)
    except ValidationError as exc:
        return None, found + problems_from_pydantic(exc)
    found += more
    return (None if found else device), found


def import_csv(
    conn: Connection, source: str | bytes | Path, *, update: bool = False
) -> ImportReport:
    """Check every row, then register all of them in one transaction, or raise
    CsvImportError listing every problem (line, column, reason) and write nothing.
    ``source`` is CSV text, raw bytes (UTF-8, BOM or not) or a file path."""
    header, rows, problems = _rows(_text(source), update)
    stored = _stored(conn, [cells["id"] for _, cells in rows])
    ctx = RegistryContext.load(conn)
    first_line: dict[str, int] = {}
    new: list[DeviceIn] = []
    changed: list[DeviceIn] = []
    for line, cells in rows:
        old = stored.get(cells["id"])
        device, found = _check_row(cells, old, ctx, update)
        if cells["id"] in first_line:
            found.insert(
                0, Problem("id", f"{cells['id']!r} is also on line {first_line[cells['id']]}")
            )
        elif cells["id"]:
            first_line[cells["id"]] = line
        problems += [RowProblem(line, _column(p.field, header), p.message) for p in found]
        if device is not None and not found:
            (changed if old is not None else new).append(device)
    if problems:
        raise CsvImportError(sorted(problems, key=lambda p: p.line))
    with conn.transaction():
        insert_devices(conn, new)
        insert_devices(conn, changed, update=True)
    return ImportReport(created=len(new), updated=len(changed))
