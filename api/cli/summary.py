"""`pianqu summary`: a city's network at a glance."""
from __future__ import annotations

from rich.table import Table

from .common import CityOpt, engine, out


def summary(city: CityOpt = None) -> None:
    """Print a summary of a city's network."""
    from gis import store, summary as summ
    with engine().connect() as conn:
        city_id = store.resolve_city(conn, city)
        s = summ.network_summary(conn, city_id)
    t = Table(title=f"Pianqu · {s['name']} ({city_id}) · metric CRS EPSG:{s['metric_crs']}")
    t.add_column("layer")
    t.add_column("rows", justify="right")
    for k, v in s["counts"].items():
        t.add_row(k, f"{v:,}")
    out.print(t)
    k = Table(title="network")
    k.add_column("figure")
    k.add_column("value", justify="right")
    for name, value in s["figures"].items():
        k.add_row(name, value)
    out.print(k)
