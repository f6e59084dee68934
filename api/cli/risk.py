"""`pianqu faults risk`: which boxes and cables will fail next (api.services.risk), written to a
GeoPackage with a layer per kind of asset, or scored against what happened (--evaluate)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from gis.errors import InputError

from .common import CityOpt, JsonOpt, engine, err, out, parse_day, print_json, wants_json

OUT = (".gpkg",)


def risk(as_of: Annotated[Optional[str], typer.Option("--as-of", help="Cut-off day (YYYY-MM-DD, local): only faults "
                                                                      "before it are read. Default: the day after "
                                                                      "the last fault (with --evaluate: six months "
                                                                      "before it).")] = None,
         horizon: Annotated[int, typer.Option(help="Months ahead, 1 to 12.")] = 3,
         out_file: Annotated[Optional[Path], typer.Option("--out", help="A .gpkg: layers boxes and cables.")] = None,
         evaluate: Annotated[bool, typer.Option("--evaluate", help="Train up to the cut-off, predict the horizon "
                                                                    "after it and score against what happened, "
                                                                    "with the baselines.")] = False,
         city: CityOpt = None, json_: JsonOpt = False) -> None:
    """Expected faults of every box and trunk or distribution cable over the next months, the risk
    rank, and the three things that drive each prediction."""
    from api.services import risk as svc
    day = parse_day(as_of, "--as-of")
    svc.check(None, horizon)
    if not evaluate:
        if out_file is None:
            raise InputError("--out is needed: a .gpkg for the layers boxes and cables")
        if out_file.suffix.lower() not in OUT:
            raise InputError(f"--out {out_file.name}: expected a .gpkg (layers boxes and cables)")
    with engine().connect() as conn:
        if evaluate:
            res = svc.evaluate(conn, city, as_of=day, horizon=horizon)
        else:
            res = svc.predict(conn, city, as_of=day, horizon=horizon)
    if evaluate:
        if wants_json(json_):
            print_json(res)
            return
        for layer in svc.LAYERS:
            r = res[layer]
            t = Table("method", "Poisson deviance", "precision@100", "faults top 100", "precision (changing)",
                      title=f"{res['city']} {layer}: cut-off {res['as_of'][:10]}, {res['horizon_months']} months, "
                            f"{r['assets']:,} assets, {r['faults_in_horizon']:,.0f} faults after; "
                            f"trained in {r['training_s']} s")
            for s in r["scores"]:
                t.add_row(s["method"], f"{s['poisson_deviance']:.3f}", f"{s['precision_at_100']:.2f}",
                          f"{s['faults_top_100']:,.0f}", "" if s["precision_changing"] != s["precision_changing"]
                          else f"{s['precision_changing']:.2f}")
            out.print(t)
        return
    if out_file.exists():
        out_file.unlink()
    for layer in svc.LAYERS:
        res[layer].to_file(out_file, layer=layer, driver="GPKG")
    top = res["boxes"].head(3)
    for r in top.itertuples():
        err.print(f"#{r.rank} box {r.box_id}: {r.expected_faults:.1f} faults expected ({r.drivers})")
    print_json({"city": res["city"], "as_of": res["as_of"], "horizon_months": res["horizon_months"],
                "boxes": len(res["boxes"]), "cables": len(res["cables"]), "timings": res["timings"],
                "output": str(out_file)})
