"""Fault risk of a city's boxes and cables (planning.risk over what gis.risk reads): the expected
faults over the next months, the rank and the drivers, and the evaluation against the
baselines. The same for `pianqu faults risk`, `GET /risk` and the consumers (the rebuild
alerts, the inspection rounds, the map's risk layer).

The cut-off (`as_of`) defaults to the day after the city's last fault: the store knows nothing
later, so a later cut-off would read months with no faults as months without faults.
A fitted model is kept per process for the city, layer, cut-off and horizon: it answers
`GET /risk` while the tickets are unchanged (gis.tickets.month_kpi_version); the consumers (the
rounds, the alerts) take it for ten minutes while new tickets keep arriving, so they do not
refit it for each new ticket.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection

from gis import risk as store, store as city_store
from gis import tickets as tickets_store
from gis.errors import InputError
from planning import risk, risk_eval

LAYERS = ("boxes", "cables")
ID = {"boxes": "box_id", "cables": "cable_id"}
KEEP = 8                      # fitted results kept per process
FRESH_S = 600.0               # a consumer's fit serves this long while new tickets arrive
_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


def check(layer: str | None = None, horizon=3, limit: int | None = None) -> None:
    """Cheap parameters, before any data is read."""
    if layer is not None and layer not in LAYERS:
        raise InputError(f"risk is of {' or '.join(LAYERS)}, not of {layer!r}")
    risk.check(horizon)
    if limit is not None and not 1 <= limit <= 100_000:
        raise InputError(f"limit {limit!r} must be 1 to 100,000")


def cut_off(conn: Connection, city: str, as_of: dt.date | None) -> pd.Timestamp:
    """The cut-off instant: local midnight of `as_of` (default: the day after the last fault)."""
    last = store.last_fault(conn, city)
    if last is None:
        raise InputError(f"city {city} has no fault tickets: no risk to learn from")
    tz = tickets_store.city_timezone(conn, city)
    first = conn.exec_driver_sql("SELECT min(reported_at) FROM fault_tickets WHERE city_id = %(c)s AND kind = 'fault'",
                                 {"c": city}).scalar()
    day = as_of or (pd.Timestamp(last).tz_convert(tz).date() + dt.timedelta(days=1))
    cut = tickets_store.local_start(day, tz, "the cut-off")
    if cut <= pd.Timestamp(first) + pd.DateOffset(months=6):
        raise InputError(f"the cut-off {day} leaves less than six months of faults before it "
                         f"(they start {pd.Timestamp(first).tz_convert(tz).date()})")
    return cut


def inputs(conn: Connection, city: str, cut: pd.Timestamp) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each layer's assets and fault events (planning.risk's inputs)."""
    b = store.boxes(conn, city)
    f = store.faults(conn, city, b["feeder_cable_id"])
    return {"boxes": (store.box_assets(b, cut.year), store.as_events(f, "boxes")),
            "cables": (store.cables(conn, city), store.as_events(f, "cables"))}


def _fit(assets, events, cut, horizon) -> dict:
    t0 = time.perf_counter()
    X, y, storm = risk.training_set(assets, events, cut, horizon)
    model = risk.FaultRisk(horizon=horizon).fit(X, y, storm)
    t1 = time.perf_counter()
    now = risk.features(assets, events, cut)
    pred = model.predict(now)
    return {"model": model, "now": now, "expected": pd.Series(pred, index=now.index),
            "timing": {"training_rows": len(X), "training_s": round(t1 - t0, 2),
                       "prediction_s": round(time.perf_counter() - t1, 2)}}


def _fitted(conn: Connection, city: str, layers, cut: pd.Timestamp, horizon: int,
            fresh_s: float = 0.0) -> dict[str, dict]:
    """Each layer's fitted model, features now and expected faults, from the cache or fitted.
    `fresh_s`: a fit on older tickets still serves for this long (the consumers' FRESH_S)."""
    version = tickets_store.month_kpi_version(conn, city)
    keys = {layer: (city, layer, cut, horizon) for layer in layers}
    now = time.monotonic()
    with _lock:
        held = {layer: _cache.get(k) for layer, k in keys.items()}
    # A fit serves while the tickets are as they were, or for `fresh_s` while they keep coming in
    # (a risk over months does not move with each new ticket, and a refit costs seconds).
    held = {layer: h if h is not None and (h["version"] == version or now - h["fitted_at"] < fresh_s) else None
            for layer, h in held.items()}
    todo = [layer for layer, h in held.items() if h is None]
    if todo:
        data = inputs(conn, city, cut)
        for layer in todo:
            held[layer] = {**_fit(*data[layer], cut, horizon), "version": version, "fitted_at": time.monotonic()}
            with _lock:
                _cache[keys[layer]] = held[layer]
                while len(_cache) > KEEP:
                    _cache.popitem(last=False)
    return held


def predict(conn: Connection, city: str | None, layers=LAYERS, *, as_of: dt.date | None = None,
            horizon: int = 3) -> dict:
    """{"city", "as_of", "horizon_months", layer: GeoDataFrame ranked (id, expected_faults,
    rank, drivers, geometry), "timings"}."""
    for layer in layers:
        check(layer, horizon)
    city = city_store.resolve_city(conn, city)
    cut = cut_off(conn, city, as_of)
    out = {"city": city, "as_of": cut.isoformat(), "horizon_months": horizon, "timings": {}}
    for layer, fit in _fitted(conn, city, layers, cut, horizon).items():
        if "drivers" not in fit:        # the words take longer than the numbers: only when asked
            t0 = time.perf_counter()
            fit["drivers"] = fit["model"].explain(fit["now"])
            fit["timing"]["explain_s"] = round(time.perf_counter() - t0, 2)
        table = risk.ranked(fit["now"], fit["expected"].to_numpy(), fit["drivers"])
        geoms = city_store.read_layer(conn, layer, city, ["id"]).set_index("id").geometry
        g = gpd.GeoDataFrame(table.rename_axis(ID[layer]).reset_index(), geometry=geoms.reindex(table.index).to_numpy(),
                             crs=geoms.crs)
        out[layer], out["timings"][layer] = g[[ID[layer], "expected_faults", "rank", "drivers", "geometry"]], fit["timing"]
    return out


def expected_faults(conn: Connection, city: str, layer: str, *, horizon: int = 3) -> pd.Series | None:
    """The latest expected faults per asset over `horizon` months, by asset id (None: too few
    tickets to learn from): what the rebuild alerts and the inspection rounds read."""
    check(layer, horizon)
    try:
        cut = cut_off(conn, city, None)
    except InputError:
        return None
    return _fitted(conn, city, (layer,), cut, horizon, FRESH_S)[layer]["expected"]


def evaluate(conn: Connection, city: str | None, *, as_of: dt.date | None = None, horizon: int = 3,
             layers=LAYERS) -> dict:
    """Train up to the cut-off (default: twice the horizon before the last fault, six months for
    three, so the horizon after it is whole), predict the horizon, score it with the baselines
    (planning.risk_eval)."""
    for layer in layers:
        check(layer, horizon)
    city = city_store.resolve_city(conn, city)
    if as_of is None:
        last = pd.Timestamp(store.last_fault(conn, city) or pd.Timestamp.now(tz="UTC"))
        as_of = (last.tz_convert(tickets_store.city_timezone(conn, city)) - pd.DateOffset(months=2 * horizon)).date()
    cut = cut_off(conn, city, as_of)
    last = pd.Timestamp(store.last_fault(conn, city))
    if cut + horizon * risk.MONTH > last + pd.Timedelta(days=1):
        raise InputError(f"the horizon after {as_of} ({horizon} months) runs past the last fault "
                         f"({last.date()}): nothing to score it against")
    data = inputs(conn, city, cut)
    out = {"city": city, "as_of": cut.isoformat(), "horizon_months": horizon}
    for layer in layers:
        table, info = risk_eval.evaluate(*data[layer], cut, horizon)
        out[layer] = {"scores": table.round(4).to_dict("records"), **{k: (round(v, 2) if isinstance(v, float) else v)
                                                                      for k, v in info.items()}}
    return out
