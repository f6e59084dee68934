"""Values as plain JSON, for every door that answers JSON (the HTTP routers, the CLI's --json)."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd


def jsonable(v):
    """Plain JSON values all the way down: numpy scalars as Python ones, NaN/NA/NaT as None,
    days and instants ISO 8601, months 'YYYY-MM'."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [jsonable(x) for x in v]
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, pd.Period):
        return str(v)
    return v
