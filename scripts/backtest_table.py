"""A backtest's JSON (the last line of `ioc analytics backtest --json`) as a Markdown table.

    ioc analytics backtest ... --json | tail -1 | python scripts/backtest_table.py [H,H,...]

The optional list picks the horizons (in hours) shown; by default every one up to 48.
"""

from __future__ import annotations

import json
import sys

METHODS = ("model", "persistence", "seasonal_naive")


def table(result: dict, pick: list[float] | None) -> str:
    hours = result["horizons"]
    rows = [i for i, h in enumerate(hours) if pick is None or h in pick]
    head = "| h | " + " | ".join(f"{m} MASE | rel. MAE | cov." for m in METHODS) + " |"
    lines = [head, "|" + "---|" * (1 + 3 * len(METHODS))]
    for i in rows:
        cells = []
        for m in METHODS:
            r = result[m]
            cov = r["coverage"][i]
            cells += [f"{r['mase'][i]:.3f}", f"{r['relative_mae'][i]:.3f}",
                      f"{100 * cov:.1f} %" if cov is not None else "-"]  # fmt: skip
        lines.append(f"| {hours[i]:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    pick = [float(h) for h in sys.argv[1].split(",")] if len(sys.argv) > 1 else None
    print(table(json.loads(sys.stdin.read().strip().splitlines()[-1]), pick))
