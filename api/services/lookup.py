"""The lookup service: who owns this place, for the call centre. A point, a subscriber id or
the address a caller gives -> the serving box, the district of the city's active plan and its
manager with phone (district and manager are null when the city has no active plan or the
district no manager now). One rule set for every door."""
from __future__ import annotations

import math

from sqlalchemy import Connection

from gis import lookup as store
from gis.errors import InputError, NotFound

MAX_DISTANCE_M = 500.0       # farther than this from every subscriber: nobody's place
CANDIDATES = 5               # how many addresses an address lookup offers
MAX_ADDRESS_CHARS = 200


def _answer(row: dict, **extra) -> dict:
    keys = ("box_id", "district_id", "district_code", "manager_id", "manager_name", "manager_phone",
            "subscriber_id", "address", "dp_id", "city", "plan_id", "lon", "lat")
    return {**{k: row[k] for k in keys}, **extra}


def by_point(conn: Connection, lon: float, lat: float, *, max_distance_m: float = MAX_DISTANCE_M) -> dict:
    if not (isinstance(lon, (int, float)) and math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise InputError(f"lon {lon!r}: expected a longitude from -180 to 180")
    if not (isinstance(lat, (int, float)) and math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise InputError(f"lat {lat!r}: expected a latitude from -90 to 90")
    row = store.nearest(conn, float(lon), float(lat))
    if row is None:
        raise NotFound("the store has no subscribers to look up")
    d = float(row["distance_m"])
    if d > max_distance_m:
        raise NotFound(f"no subscriber within {max_distance_m:,.0f} m of ({lon}, {lat}): the nearest, "
                       f"{row['subscriber_id']!r}, is {d:,.0f} m away")
    return _answer(row, distance_m=round(d, 1), match="point")


def by_subscriber(conn: Connection, subscriber_id: str) -> dict:
    sid = (subscriber_id or "").strip()
    if not sid:
        raise InputError("subscriber: expected a subscriber id, got an empty string")
    row = store.by_id(conn, sid)
    if row is None:
        raise NotFound(f"subscriber {sid!r} is not in the store")
    return _answer(row, match="subscriber")


def _bigrams(s: str) -> set[str]:
    return {s[i:i + 2] for i in range(len(s) - 1)} or {s}


def similarity(a: str, b: str) -> float:
    """Dice's coefficient of the two normalised addresses' character pairs (1 for the same)."""
    na, nb = store.normalise(a), store.normalise(b)
    if na == nb:
        return 1.0
    x, y = _bigrams(na), _bigrams(nb)
    return 2 * len(x & y) / (len(x) + len(y))


def by_address(conn: Connection, address: str, city: str | None = None, *, limit: int = CANDIDATES) -> dict:
    """The subscribers whose address resembles the caller's, best first (`candidates`, each with
    its similarity), and the owner of the first, answered at the top level."""
    given = (address or "").strip()
    if not store.address_tokens(given):
        raise InputError("address: expected the caller's address, e.g. 芙蓉路128号3栋502室, got an empty string")
    if len(given) > MAX_ADDRESS_CHARS:
        raise InputError(f"address: {len(given)} characters is too long for an address "
                         f"(at most {MAX_ADDRESS_CHARS})")
    rows = store.address_candidates(conn, given, city)
    if not rows:
        where = f" in city {city!r}" if city else ""
        raise NotFound(f"no subscriber's address{where} resembles {given!r}")
    for r in rows:
        r["similarity"] = similarity(given, r["address"] or "")
    rows.sort(key=lambda r: (-r["similarity"], len(r["address"] or ""), r["subscriber_id"]))
    best = store.by_id(conn, rows[0]["subscriber_id"])
    cands = [{"subscriber_id": r["subscriber_id"], "address": r["address"], "box_id": r["box_id"], "city": r["city"],
              "similarity": round(r["similarity"], 3)} for r in rows[:limit]]
    return _answer(best, similarity=cands[0]["similarity"], match="address", candidates=cands)


def lookup(conn: Connection, *, lon: float | None = None, lat: float | None = None, subscriber: str | None = None,
           address: str | None = None, city: str | None = None, manager: str | None = None) -> dict:
    """Exactly one of a point (lon and lat), a subscriber id or an address. `manager`: a
    manager's key, who finds only the subscribers of the districts he holds now."""
    found = _lookup(conn, lon=lon, lat=lat, subscriber=subscriber, address=address, city=city)
    if manager is not None and found.get("manager_id") != manager:
        raise NotFound("no subscriber of the districts manager " + manager + " holds matches")
    return found


def _lookup(conn: Connection, *, lon, lat, subscriber, address, city) -> dict:
    point = lon is not None or lat is not None
    kinds = [k for k, given in (("lon+lat", point), ("subscriber", subscriber is not None),
                                ("address", address is not None)) if given]
    if len(kinds) != 1:
        raise InputError("a lookup takes exactly one of lon+lat, subscriber or address"
                         + (f" (got {' and '.join(kinds)})" if kinds else " (got none)"))
    if point:
        if lon is None or lat is None:
            raise InputError(f"a point lookup needs both lon and lat (got only {'lon' if lat is None else 'lat'})")
        return by_point(conn, lon, lat)
    if subscriber is not None:
        return by_subscriber(conn, subscriber)
    return by_address(conn, address, city)
