"""Who owns this place: the subscriber at a point, with an id or at an address, and the box,
district (of the city's active plan) and manager (the assignment valid now) that serve it.

One round trip per answer where it can: the subscriber and its owner come from one statement
(a LATERAL join), so a lookup costs a millisecond or two at city size."""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy import Connection, text

from .holding import in_force

# The subscriber and everything the call centre says about its owner. A split box's dp row
# wins over the whole-box row (`dm.dp_id IS NULL` sorts false first).
_ANSWER = """
SELECT s.id AS subscriber_id, s.address, s.box_id, s.dp_id, s.city_id AS city, o.plan_id, o.district_id,
       o.district_code, o.manager_id, o.manager_name, o.manager_phone,
       round(ST_X(s.geometry)::numeric, 6)::float AS lon, round(ST_Y(s.geometry)::numeric, 6)::float AS lat{extra}
FROM {source}
LEFT JOIN LATERAL (
    SELECT p.id AS plan_id, d.id AS district_id, d.code AS district_code, a.manager_id,
           m.name AS manager_name, m.phone AS manager_phone
    FROM district_plans p
    JOIN district_members dm ON dm.plan_id = p.id AND dm.box_id = s.box_id
                            AND (dm.dp_id IS NULL OR dm.dp_id = s.dp_id)
    JOIN districts d ON d.id = dm.district_id
    LEFT JOIN district_assignments a ON a.district_id = d.id AND {held_now}
    LEFT JOIN managers m ON m.id = a.manager_id
    WHERE p.city_id = s.city_id AND p.status = 'active'
    ORDER BY dm.dp_id IS NULL
    LIMIT 1) o ON true
"""

_BY_ID = text(_ANSWER.format(extra="", held_now=in_force("now()"), source="subscribers s") + " WHERE s.id = :id")

# The nearest subscriber in metres. `<->` on the GiST index is the nearest in degrees, which is
# not the nearest in metres (a degree of longitude is shorter than one of latitude away from
# the equator); so the first KNN hit gives a distance d, and the true nearest is searched in the
# box that surely holds every subscriber within d (degrees of latitude are at least 110,574 m,
# of longitude at least 111,319 m times the cosine of the box's farthest latitude), again on
# the index, and ranked by the geography distance on the spheroid.
_POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"   # inline, not a CTE: KNN needs it constant
_NEAREST = text(_ANSWER.format(extra=", n.distance_m", held_now=in_force("now()"), source=f"""
    (WITH first AS (SELECT ST_Distance(s.geometry::geography, {_POINT}::geography) AS d
                    FROM subscribers s ORDER BY s.geometry <-> {_POINT} LIMIT 1),
          span AS (SELECT d, d / 110574.0 * 1.01 + 1e-9 AS dy FROM first)
     SELECT s.id, ST_Distance(s.geometry::geography, {_POINT}::geography) AS distance_m
     FROM span JOIN subscribers s ON s.geometry && ST_Expand(
         {_POINT}, CASE WHEN abs(:lat) + span.dy >= 89.0 THEN 360.0
                        ELSE span.d / (111319.0 * cos(radians(abs(:lat) + span.dy))) * 1.01 + 1e-9 END, span.dy)
     ORDER BY distance_m, s.id LIMIT 1) n
    JOIN subscribers s ON s.id = n.id"""))

def by_id(conn: Connection, subscriber_id: str) -> dict | None:
    row = conn.execute(_BY_ID, {"id": subscriber_id}).mappings().first()
    return None if row is None else dict(row)


def nearest(conn: Connection, lon: float, lat: float) -> dict | None:
    """The subscriber nearest to (lon, lat) with `distance_m`; None if there is none at all."""
    row = conn.execute(_NEAREST, {"lon": lon, "lat": lat}).mappings().first()
    return None if row is None else dict(row)


# ---- addresses ----------------------------------------------------------------------------

_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_TOKEN = re.compile(r"[0-9]+[^0-9]?|[^0-9]+")


def normalise(address: str) -> str:
    """The address as its tokens are taken: NFKC (full-width digits to ASCII), no white space,
    ASCII letters in lower case (what lower() does in the store's C locale)."""
    t = _SPACE.sub("", unicodedata.normalize("NFKC", address))
    return "".join(c.lower() if c < "\x80" else c for c in t)


def address_tokens(address: str) -> list[str]:
    """The SQL function pianqu_address_tokens (migration 0005) in Python: the name runs and the
    numbered parts, `黄金里213号3栋602室` -> [黄金里, 213号, 3栋, 602室]."""
    return _TOKEN.findall(normalise(address))


# Each round is a GIN lookup on the tokens; the first that finds anything gives the candidates.
#  1. every token of the caller's text (exact, or a part of the address: 黄金里213号);
#  2. every numbered part and one name run or none (a wrong or extra name: 长沙市黄金路213号...);
#  3. every name run and some numbered part (a wrong number: 黄金里231号3栋602室).
_ROUNDS = (
    "pianqu_address_tokens(s.address) @> CAST(:all AS text[])",
    "pianqu_address_tokens(s.address) @> CAST(:numbers AS text[])",
    "pianqu_address_tokens(s.address) @> CAST(:names AS text[]) "
    "AND pianqu_address_tokens(s.address) && CAST(:numbers AS text[])",
)
_CANDIDATES = [text(f"""SELECT s.id AS subscriber_id, s.address, s.box_id, s.city_id AS city FROM subscribers s
                        WHERE {cond} AND (CAST(:city AS text) IS NULL OR s.city_id = :city)
                        ORDER BY length(s.address), s.address, s.id LIMIT :cap""") for cond in _ROUNDS]


def address_candidates(conn: Connection, address: str, city: str | None = None, *, cap: int = 1000) -> list[dict]:
    """Subscribers whose address may be the one given (unranked, at most `cap`)."""
    toks = address_tokens(address)
    numbers = [t for t in toks if t[0].isdigit()]
    names = [t for t in toks if not t[0].isdigit()]
    params = {"all": toks, "numbers": numbers, "names": names, "city": city, "cap": cap}
    rounds = [_CANDIDATES[0]]
    if numbers and names:
        rounds += _CANDIDATES[1:]
    for sql in rounds:
        rows = conn.execute(sql, params).mappings().all()
        if rows:
            return [dict(r) for r in rows]
    return []
