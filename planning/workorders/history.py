"""A history for tickets that arrived with their times but no log (a file of past faults, the
demo's two years): the events the loop would have written, built for all tickets at once.

    events, rows = adopted(tickets, now)

Each event's `details` is its fields as JSON text.

tickets: one row per ticket with id, reported_at, first_contact_at, cleared_at (NaT where it did
not happen), vip, cause, manager_id, queue_id, district_id, contact_s and clear_s (its policy,
around the clock). Events follow the life cycle (planning.workorders.lifecycle): create,
contact, arrive (half-way from contact to clearing), clear, a call-back on a sample of the
cleared ones, and the escalations and breaches their clocks crossed (planning.workorders.clocks:
at half, three quarters and all of each clock). `rows` is each ticket's replayed state: status,
holder, dues and breaches. A test replays every demo ticket's log with the life cycle itself
and finds the same rows.

Only tickets on the 24x7 calendar are built here (a working calendar needs the per-ticket clock,
planning.workorders.clocks); their clocks are plain sums.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .clocks import ESCALATION, uninterrupted

# What the sign-off says was done, by kind.
WORK_DONE = {"fault": "repaired", "complaint": "resolved", "install": "installed", "move": "moved",
             "enquiry": "answered"}
# The call centre calls back about one cleared ticket in five, a day after the clearing.
CALLBACK_SHARE = 0.2
CALLBACK_AFTER = pd.Timedelta(days=1)


def _pick(ids: pd.Series, share: float) -> np.ndarray:
    """A stable sample: the same tickets whatever order or process builds them."""
    h = pd.util.hash_pandas_object(ids.reset_index(drop=True), index=False).to_numpy()
    return (h % 1_000_000) < share * 1_000_000


def adopted(t: pd.DataFrame, now: pd.Timestamp, actor: str = "import") -> tuple[pd.DataFrame, pd.DataFrame]:
    now = pd.Timestamp(now).tz_convert("UTC") if pd.Timestamp(now).tzinfo else pd.Timestamp(now, tz="UTC")
    t = t.reset_index(drop=True)
    n = len(t)
    rep = pd.to_datetime(t["reported_at"], utc=True)
    contact = pd.to_datetime(t["first_contact_at"], utc=True)
    cleared = pd.to_datetime(t["cleared_at"], utc=True)
    # A clearing with no contact recorded had one at the clearing at the latest (a ticket is
    # contacted before it is cleared).
    contact = contact.where(contact.notna() | cleared.isna(), cleared)
    contact = contact.where(contact.isna() | cleared.isna() | (contact <= cleared), cleared)
    arrive = contact + (cleared - contact) / 2
    callback = _pick(t["id"], CALLBACK_SHARE) & cleared.notna() & (cleared + CALLBACK_AFTER <= now)
    holder = t["manager_id"].where(t["manager_id"].notna(), None)
    actor_of = holder.fillna(actor)

    frames = []
    ids, holders = t["id"].to_numpy(object), holder.to_numpy(object)

    def add(mask, action, at, who, status, details):
        """One kind of event for the tickets in `mask`; `details`: its JSON text, one for all of
        them or one per ticket in the mask (built from whole columns: 1.7 million events)."""
        m = np.asarray(mask, bool)
        if not m.any():
            return
        frames.append(pd.DataFrame({"ticket_id": ids[m], "at": pd.DatetimeIndex(at)[m],
                                    "action": action, "actor": np.asarray(who, object)[m] if not isinstance(who, str)
                                    else who, "status": status, "manager_id": holders[m],
                                    "details": details, "order": len(frames)}))

    everyone = np.ones(n, bool)
    add(everyone, "create", rep, actor, "new",
        [json.dumps({"manager_id": h, "district_id": d, "queue_id": q, "reason": "adopted"})
         for h, d, q in zip(holders, t["district_id"].to_numpy(object), t["queue_id"].to_numpy(object))])
    add(contact.notna(), "contact", contact, actor_of, "contacted", None)
    add(cleared.notna(), "arrive", arrive, actor_of, "on_site", None)
    found = t["cause"].where(t["cause"].map(lambda c: isinstance(c, str) and c != ""), "other")
    kind = t["kind"] if "kind" in t.columns else pd.Series("fault", index=t.index)
    done = kind.map(WORK_DONE).fillna("done")
    said = (found + "\0" + done).map(lambda k: json.dumps(dict(zip(("cause_found", "work_done"), k.split("\0")))))
    add(cleared.notna(), "clear", cleared, actor_of, "cleared", said[cleared.notna()].to_numpy(object))
    h = pd.util.hash_pandas_object(t["id"], index=False).to_numpy()
    sat = 3 + (h % 3)
    # The call-back's "contacted within 20 minutes" is the contact clock kept (its policy's target).
    # The survey's other answers: cleared within its clock; the badge worn and shoe covers used
    # by most (a stable draw from the ticket's id); the fault fixed.
    cb = callback.to_numpy()
    kept = uninterrupted(rep, cleared, t["clear_s"].to_numpy(float), now)[1].isna().to_numpy()
    quick = (contact.notna() & uninterrupted(rep, contact, t["contact_s"].to_numpy(float), now)[1].isna()).to_numpy()
    add(callback, "verify", cleared + CALLBACK_AFTER, "callcentre", "verified",
        [json.dumps({"reached": True, "satisfaction": int(s), "checks": {
            "contacted_20min": bool(q), "on_time": bool(o), "badge": bool(x % 11), "shoe_covers": bool(x % 7),
            "fixed": True}})
         for s, q, o, x in zip(sat[cb], quick[cb], kept[cb], (h // 3)[cb])])
    # Escalations: each threshold crossed before the clock stopped (or before now, if it runs).
    for clock, stop, target in (("contact", contact, t["contact_s"]), ("clear", cleared, t["clear_s"])):
        end = stop.fillna(now)
        for frac, level in ESCALATION:
            at = rep + pd.to_timedelta(frac * target.to_numpy(float), unit="s")
            crossed = (at <= end).to_numpy()
            add(crossed, "breach" if frac == 1.0 else "escalate", at, "pianqu clock", None,
                json.dumps({"clock": clock, "level": level, "fraction": frac}))
    ev = pd.concat(frames, ignore_index=True)
    # The log in time order; at one instant, in the order the loop writes them.
    ev = ev.sort_values(["ticket_id", "at", "order"], kind="stable").drop(columns="order")
    ev["seq"] = ev.groupby("ticket_id").cumcount() + 1
    # A system step leaves the status as the step before it left it.
    ev["status"] = ev.groupby("ticket_id")["status"].ffill()
    status = np.where(callback, "verified", np.where(cleared.notna(), "cleared",
                                                     np.where(contact.notna(), "contacted", "new")))
    rows = pd.DataFrame({"id": t["id"], "status": status, "manager_id": holder, "queue_id": t["queue_id"],
                         "community_id": t["community_id"],
                         "district_id": t["district_id"], "first_responsible": holder,
                         "first_contact_at": contact, "cleared_at": cleared,
                         "steps": ev.groupby("ticket_id").size().reindex(t["id"]).to_numpy()})
    for clock, stop, target in (("contact", contact, t["contact_s"]), ("clear", cleared, t["clear_s"])):
        rows[f"{clock}_due"], rows[f"{clock}_breached_at"] = uninterrupted(rep, stop, target.to_numpy(float), now)
    marks = ev[ev["action"].isin(["escalate", "breach"])]
    level = pd.Series(marks["details"].map(lambda d: json.loads(d)["level"]).to_numpy(), index=marks["ticket_id"])
    rows["escalation"] = rows["id"].map(level.groupby(level.index).last())
    return ev, rows
