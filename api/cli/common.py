"""What every command group shares: the consoles, the engine, a progress spinner, the parsing of
options that need more than a type (dates, months, KEY=VALUE lists), and how results are shown.

Options are parsed and checked here, once, before any work: a bad value ends the command with
one line naming the option and the form it accepts (exit 2), never a traceback.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import sys
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gis.errors import InputError

# Tables keep their columns whole when the output is a file or a pipe, not a terminal.
out = Console() if Console().is_terminal else Console(width=220)
err = Console(stderr=True)

CityOpt = Annotated[Optional[str], typer.Option("--city", help="City id (default: the only city in the store).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (the default when the output is not a terminal).")]


def engine():
    from gis.db import engine as _engine
    return _engine()


def progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


def wants_json(flag: bool) -> bool:
    """JSON when asked for, or when stdout is a pipe or a file (scripts read it there)."""
    return flag or not sys.stdout.isatty()


def print_json(obj: Any) -> None:
    print(json.dumps(obj, default=_json_default, ensure_ascii=False))


def _json_default(v):
    import numpy as np
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.bool_):
        return bool(v)
    return float(v) if hasattr(v, "__float__") else str(v)


# ---- dates and months -------------------------------------------------------------------------

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


def parse_day(value: str | None, option: str) -> dt.date | None:
    """A calendar day YYYY-MM-DD (a real one: not 2026-02-30), or None when not given."""
    if value is None:
        return None
    try:
        if not _DAY.match(value.strip()):
            raise ValueError
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{option} {value!r} is not a day: expected YYYY-MM-DD, e.g. 2026-01-31") from None


def parse_month(value: str | None, option: str = "--month") -> str | None:
    """A month YYYY-MM with a month 01-12, returned as given; None when not given."""
    if value is None:
        return None
    v = value.strip()
    if not _MONTH.match(v) or not 1 <= int(v[5:]) <= 12:
        raise InputError(f"{option} {value!r} is not a month: expected YYYY-MM, e.g. 2026-10")
    return v


def parse_window(start: str | None, end: str | None) -> tuple[dt.date | None, dt.date | None]:
    a, b = parse_day(start, "--from"), parse_day(end, "--to")
    if a is not None and b is not None and b <= a:
        raise InputError(f"the window is empty: --to {b} is not after --from {a}")
    return a, b


# ---- KEY=VALUE options ------------------------------------------------------------------------

def limits(items: list[str] | None) -> dict | None:
    """--limit revenue=0.05 (within 5 % of the mean) or --limit revenue=250000:320000 (bounds)."""
    if not items:
        return None
    res: dict = {}
    for it in items:
        col, _, val = it.partition("=")
        try:
            if ":" in val:
                lo, hi = val.split(":")
                res[col.strip()] = (float(lo), float(hi))
            else:
                res[col.strip()] = float(val)
        except ValueError:
            raise InputError(f"--limit {it!r}: expected COLUMN=SHARE (e.g. revenue=0.05) or COLUMN=MIN:MAX") from None
    return res


def counts(items: list[str] | None) -> dict | None:
    """--parent-count WEST=3 ... : districts per parent area, set rather than derived."""
    if not items:
        return None
    res = {}
    for it in items:
        name, _, n = it.rpartition("=")
        if not name or not n.strip().isdigit() or int(n) < 1:
            raise InputError(f"--parent-count {it!r}: expected PARENT=NUMBER (1 or more), e.g. west=3")
        res[name] = int(n)
    return res


def weights(items: list[str] | None) -> dict[str, float] | None:
    if not items:
        return None
    res = {}
    for it in items:
        col, _, coef = it.partition("=")
        try:
            res[col.strip()] = float(coef) if coef else 1.0
        except ValueError:
            raise InputError(f"--weight {it!r}: expected COLUMN or COLUMN=COEFFICIENT") from None
    return res


def shown_of(shown: int, total: int, what: str) -> str:
    """The line under a list: '50 of 736 alerts (--all or --limit N for more)'."""
    if shown >= total:
        return f"{total:,} {what}"
    return f"{shown:,} of {total:,} {what} (--all or --limit N for more)"
