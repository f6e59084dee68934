"""Fault risk against the baselines a planner would otherwise use, in one run.

    .venv/bin/python bench/bench_risk.py [--seeds 7 11] [--size city]

For each demo seed: the city is generated (or its files read from data/), loaded into a scratch
database, and read back through the store's own readers (gis.risk); then, with the cut-off six
months before the last fault and a three-month horizon, the model is trained on the faults
before the cut-off, predicts the horizon after it, and is scored with planning.risk_eval against
what happened: mean Poisson deviance, precision at the 100 riskiest, the faults those 100 had,
and the precision among the assets whose trend changes (the planted worsening and fading
hotspots are of them), for boxes and for trunk and distribution cables, beside the baselines
(last 3 months, last 12 months scaled, age alone, the Gi* class), and for boxes the bound no
forecast beats on average: the generator's own rates (bench/risk_oracle.py; the city is generated
again to read them). Boxes also at cut-offs 9 and 3 months before the last fault, with the storm
days each horizon had. Timings: features, training and prediction. Prints Markdown tables; writes bench/results/risk.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.services import risk as svc  # noqa: E402
from gis import db, store  # noqa: E402
from gis.demo import DemoCity, generate  # noqa: E402
from planning import risk, risk_eval  # noqa: E402
from sklearn.metrics import mean_poisson_deviance  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import risk_oracle  # noqa: E402


def city_of(size: str, seed: int) -> DemoCity:
    folder = ROOT / "data" / f"demo-{size}-{seed}"
    if (folder / "manifest.json").is_file():
        return DemoCity.read(folder)
    city = generate(size=size, seed=seed)
    city.write(folder)
    return city


def one(size: str, seed: int) -> dict:
    t0 = time.perf_counter()
    city = city_of(size, seed)
    city_id = str(city.layers["cities"]["id"].iat[0])
    with db.scratch_database("pianqu_bench_risk") as url:
        db.upgrade(url)
        eng = db.engine(url)
        with eng.begin() as conn:
            store.bulk_load(conn, city.layers)
        ready = time.perf_counter() - t0
        with eng.connect() as conn:
            last = pd.Timestamp(conn.exec_driver_sql("SELECT max(reported_at) FROM fault_tickets").scalar())
            cut = svc.cut_off(conn, city_id, (last.tz_convert("Asia/Shanghai") - pd.DateOffset(months=6)).date())
            t1 = time.perf_counter()
            data = svc.inputs(conn, city_id, cut)
            read = time.perf_counter() - t1
            # The same for boxes at other cut-offs: how much one horizon's luck (a quarter with
            # no storm, say) moves the figures.
            others = {}
            for months in (9, 3):
                c = svc.cut_off(conn, city_id, (last.tz_convert("Asia/Shanghai") - pd.DateOffset(months=months)).date())
                others[months] = (c, svc.inputs(conn, city_id, c)["boxes"])
        eng.dispose()
    out = {"seed": seed, "cut_off": cut.isoformat(), "setup_s": round(ready, 1), "read_s": round(read, 2)}
    for layer, (assets, events) in data.items():
        table, info = risk_eval.evaluate(assets, events, cut, 3)
        out[layer] = {"scores": table.to_dict("records"), **info}
    out["cut_offs"] = []
    bound = risk_oracle.rates(size, seed)
    for months, (c, (assets, events)) in sorted({**others, 6: (cut, data["boxes"])}.items(), reverse=True):
        table, info = risk_eval.evaluate(assets, events, c, 3)
        storms = _storm_days(events, c)
        out["cut_offs"].append({"months_before_last": months, "cut_off": c.isoformat(), "storm_days_after": storms,
                                "scores": table.to_dict("records"), "bound": _bound(bound, assets, events, c)})
    out["boxes"]["scores"].append({**next(x for x in out["cut_offs"] if x["months_before_last"] == 6)["bound"],
                                   "precision_changing": float("nan"), "faults_top_changing": float("nan")})
    return out


def _bound(expected, assets, events, cut) -> dict:
    """The generator's own rates scored like a forecast (bench/risk_oracle.py)."""
    pred = expected(cut).reindex(assets.index, fill_value=0.0).to_numpy()
    actual = risk.target(assets, events, cut, 3).to_numpy(float)
    prec, caught = risk_eval.precision_at(pred, actual)
    return {"method": "bound: the demo generator's own rates", "poisson_deviance":
            mean_poisson_deviance(actual, np.maximum(pred, risk_eval.FLOOR)),
            "precision_at_100": prec, "faults_top_100": caught}


def _storm_days(events: pd.DataFrame, cut) -> int:
    """Storm days (planning.risk's rule) in the three months after the cut-off."""
    from planning import risk
    day = pd.to_datetime(events["at"], utc=True).dt.floor("D")
    daily = day.value_counts()
    after = daily[(daily.index >= cut) & (daily.index < cut + 3 * risk.MONTH)]
    return int((after >= risk.STORM_FACTOR * daily.median()).sum())


def report(res: dict) -> None:
    for layer in ("boxes", "cables"):
        r = res[layer]
        scores = r["scores"]
        best = min(s["poisson_deviance"] for s in scores[1:] if not s["method"].startswith("bound"))
        print(f"\n**Seed {res['seed']}, {layer}** ({r['assets']:,} assets, cut-off {res['cut_off'][:10]}, "
              f"{r['faults_in_horizon']:,.0f} faults in the 3 months after; {r['changing']} with a changing trend; "
              f"features {r['features_s']:.1f} s, training {r['training_s']:.1f} s on {r['training_rows']:,} rows, "
              f"prediction {r['prediction_s']:.2f} s)\n")
        print("| method | Poisson deviance | vs best baseline | precision@100 | faults in top 100 | "
              "precision@100, changing trend | their faults |\n|---|---:|---:|---:|---:|---:|---:|")
        for s in scores:
            gap = s["poisson_deviance"] / best - 1
            pc = "" if s["precision_changing"] != s["precision_changing"] else f"{s['precision_changing']:.2f}"
            fc = "" if s["faults_top_changing"] != s["faults_top_changing"] else f"{s['faults_top_changing']:,.0f}"
            print(f"| {s['method']} | {s['poisson_deviance']:.3f} | {gap:+.0%} | {s['precision_at_100']:.2f} | "
                  f"{s['faults_top_100']:,.0f} | {pc} | {fc} |")


def report_cut_offs(results: list[dict]) -> None:
    print("\n**Boxes at three cut-offs** (3-month horizon; deviance against the best baseline's)\n")
    print("| seed | cut-off | storm days in the horizon | Pianqu deviance | best baseline | vs best | "
          "bound (generator's rates) | bound vs best | precision@100 (Pianqu / best baseline / bound) | "
          "precision@100 on changing trends (Pianqu / best baseline) |\n|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    for res in results:
        for c in res["cut_offs"]:
            sc = c["scores"]
            best = min(sc[1:], key=lambda s: s["poisson_deviance"])
            top = max(s["precision_at_100"] for s in sc[1:])
            chg = max(s["precision_changing"] for s in sc[1:])
            b = c["bound"]
            print(f"| {res['seed']} | {c['cut_off'][:10]} ({c['months_before_last']} months before the last fault) | "
                  f"{c['storm_days_after']} | {sc[0]['poisson_deviance']:.3f} | {best['poisson_deviance']:.3f} "
                  f"({best['method']}) | {sc[0]['poisson_deviance'] / best['poisson_deviance'] - 1:+.0%} | "
                  f"{b['poisson_deviance']:.3f} | {b['poisson_deviance'] / best['poisson_deviance'] - 1:+.0%} | "
                  f"{sc[0]['precision_at_100']:.2f} / {top:.2f} / {b['precision_at_100']:.2f} | "
                  f"{sc[0]['precision_changing']:.2f} / {chg:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="city")
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 11])
    a = ap.parse_args()
    results = []
    for seed in a.seeds:
        res = one(a.size, seed)
        report(res)
        results.append(res)
    report_cut_offs(results)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "risk.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
