"""CQL2 text filters (OGC API - Features Part 3) compiled to a SQL WHERE fragment with bound
parameters.

pygeofilter's CQL2 grammar and transformer give the AST; the compiler over its node classes is
ours, so every identifier in the SQL comes from the collection's own properties
(`Collection.expr`) and every value is a bound parameter, typed by the property it meets.

The stock `pygeofilter.parsers.cql2_text.parse` (0.4) refuses the standard's own function form
of the temporal predicates (`T_AFTER(reported_at, TIMESTAMP(...))`, what QGIS sends), cannot read
a quote doubled inside a string (`'O''Brien'`), maps T_INTERSECTS to T_OVERLAPS, refuses
one-letter property names and `NOT (a AND b)`, and logs a parser state dump on every error; the
same grammar file is read here with those rules patched (each patch checked at import).
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import os
import re
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.geometry
from lark import Lark, v_args
from lark.exceptions import UnexpectedEOF, UnexpectedInput
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_text import parser as _stock
from pyproj import Transformer

from .errors import InputError

logging.getLogger("lark").setLevel(logging.WARNING)   # pygeofilter's parser module sets it to DEBUG

MAX_CHARS = 10_000     # the filter's text
MAX_DEPTH = 40         # nesting (a chain of ANDs or ORs counts once)
MAX_LIST = 1_000       # values of one IN list
MAX_VERTICES = 5_000   # of one geometry literal
GEOMETRY = "geometry"  # the features' geometry property
FUNCTIONS = ("CASEI",)


class TimeIntersects(ast.TemporalPredicate):
    op = None


_TEMPORAL = {"t_before": ast.TimeBefore, "t_after": ast.TimeAfter, "t_meets": ast.TimeMeets,
             "t_metby": ast.TimeMetBy, "t_overlaps": ast.TimeOverlaps, "t_overlappedby": ast.TimeOverlappedBy,
             "t_starts": ast.TimeBegins, "t_begins": ast.TimeBegins, "t_startedby": ast.TimeBegunBy,
             "t_begunby": ast.TimeBegunBy, "t_during": ast.TimeDuring, "t_contains": ast.TimeContains,
             "t_finishes": ast.TimeEnds, "t_ends": ast.TimeEnds, "t_finishedby": ast.TimeEndedBy,
             "t_endedby": ast.TimeEndedBy, "t_equals": ast.TimeEquals, "t_disjoint": ast.TimeDisjoint,
             "t_intersects": TimeIntersects}
_NAMES = {cls: name.upper() for name, cls in reversed(_TEMPORAL.items())}
# CQL2's table of temporal functions over the operands' [start, end] (an instant: start = end).
_T_SQL = {ast.TimeAfter: "{a0} > {b1}", ast.TimeBefore: "{a1} < {b0}",
          ast.TimeContains: "{a0} < {b0} AND {a1} > {b1}", ast.TimeDisjoint: "({a1} < {b0} OR {a0} > {b1})",
          ast.TimeDuring: "{a0} > {b0} AND {a1} < {b1}", ast.TimeEquals: "{a0} = {b0} AND {a1} = {b1}",
          ast.TimeEndedBy: "{a0} < {b0} AND {a1} = {b1}", ast.TimeEnds: "{a0} > {b0} AND {a1} = {b1}",
          TimeIntersects: "{a0} <= {b1} AND {a1} >= {b0}", ast.TimeMeets: "{a1} = {b0}",
          ast.TimeMetBy: "{a0} = {b1}", ast.TimeOverlappedBy: "{a0} > {b0} AND {a0} < {b1} AND {a1} > {b1}",
          ast.TimeOverlaps: "{a0} < {b0} AND {a1} > {b0} AND {a1} < {b1}",
          ast.TimeBegunBy: "{a0} = {b0} AND {a1} > {b1}", ast.TimeBegins: "{a0} = {b0} AND {a1} < {b1}"}
# `a && b` first: the GiST index answers it, the exact test runs on the candidates only.
_S_SQL = {ast.GeometryIntersects: "ST_Intersects", ast.GeometryWithin: "ST_Within",
          ast.GeometryContains: "ST_Contains", ast.GeometryTouches: "ST_Touches", ast.GeometryCrosses: "ST_Crosses",
          ast.GeometryOverlaps: "ST_Overlaps", ast.GeometryEquals: "ST_Equals"}
_CMP = {ast.Equal: "=", ast.NotEqual: "<>", ast.LessThan: "<", ast.LessEqual: "<=", ast.GreaterThan: ">",
        ast.GreaterEqual: ">="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mul: "*", ast.Div: "/"}
_WORDS = {"int": "an integer", "float": "a number", "bool": "a boolean", "date": "a date",
          "timestamp": "a timestamp", "text": "text", "geometry": "a geometry", "interval": "an interval"}
_GROUP = {"int": "number", "float": "number", "date": "time", "timestamp": "time"}


def _grammar() -> str:
    with open(os.path.join(os.path.dirname(_stock.__file__), "grammar.lark"), encoding="utf8") as f:
        g = f.read()
    patches = [
        ('| "NOT"i "(" predicate ")"', '| "NOT"i "(" condition ")"'),
        ("          | temporal_predicate\n", ("          | temporal_predicate\n          | "
         '_binary_temporal_predicate_func "(" expression "," expression ")" -> temporal_function\n')),
        ('| "T_INTERSECTS"i\n', ('| "T_INTERSECTS"i\n                        | "T_STARTS"i | "T_STARTEDBY"i '
         '| "T_FINISHES"i | "T_FINISHEDBY"i | "T_DISJOINT"i\n')),
        ("attribute: /[a-zA-Z][a-zA-Z_:0-9.]+/", "attribute: /[a-zA-Z_][a-zA-Z_:0-9.]*/"),
        ("SINGLE_QUOTED: \"'\" /.*?/ \"'\"", "SINGLE_QUOTED: /'(?:[^']|'')*'/"),
    ]
    for old, new in patches:
        if old not in g:
            raise RuntimeError(f"pygeofilter's CQL2 grammar changed: {old!r} not found (pin pygeofilter 0.4)")
        g = g.replace(old, new, 1)
    return g


@v_args(meta=False, inline=True)
class _Transformer(_stock.CQLTransformer):
    def SINGLE_QUOTED(self, token):
        return token[1:-1].replace("''", "'")

    def wkt__geometry_with_srid(self, srid, geometry):
        return {**geometry, "srid": int(srid)}

    def neg(self, value):
        return ast.Sub(0, value) if isinstance(value, ast.Node) else -value

    def binary_temporal_predicate(self, lhs, op, rhs):   # reported_at T_AFTER TIMESTAMP(...)
        return _TEMPORAL[str(op).lower()](lhs, rhs)

    def temporal_function(self, op, lhs, rhs):           # CQL2's T_AFTER(reported_at, TIMESTAMP(...))
        return self.binary_temporal_predicate(lhs, op, rhs)


_PARSER = Lark(_grammar(), parser="lalr", maybe_placeholders=False, transformer=_Transformer(),
               source_path=_stock.__file__, import_paths=[os.path.dirname(os.path.dirname(_stock.__file__))])


@dataclass(frozen=True)
class Filter:
    text: str
    sql: str          # a boolean SQL expression over `t` (the collection's table)
    params: dict      # its bound parameters, named cql0, cql1, ...


def parse(text: str) -> ast.Node:
    """The AST of a CQL2 text filter; InputError naming where it stops being CQL2."""
    if not text.strip():
        raise InputError("filter is empty")
    if len(text) > MAX_CHARS:
        raise InputError(f"filter is {len(text):,} characters long; at most {MAX_CHARS:,} are accepted")
    if "\x00" in text:
        raise InputError("filter contains a NUL character")
    try:
        return _PARSER.parse(text)
    except UnexpectedInput as e:
        pos = getattr(e, "pos_in_stream", None)
        if isinstance(e, UnexpectedEOF) or getattr(getattr(e, "token", None), "type", "") == "$END" or \
                not isinstance(pos, int):
            raise InputError(f"filter is not valid CQL2 text: it ends too early (after {text[-30:]!r})") from None
        raise InputError(f"filter is not valid CQL2 text at character {pos + 1} (near {text[max(pos - 20, 0):pos]!r} "
                         f"before {text[pos:pos + 20]!r})") from None
    except Exception as e:   # noqa: BLE001 - a transformer callback failing on a literal (a bad date)
        raise InputError(f"filter is not valid CQL2 text: {e}") from None


def compile(text: str, coll, *, srid: int = 4326, flip: bool = False, srids=(4326,)) -> Filter:
    """A CQL2 text filter on `coll` (a gis.features.Collection) as SQL. Geometry literals are in
    `srid` (the filter-crs; `flip`: latitude first) or their own EWKT SRID, either one of `srids`."""
    node = parse(text)
    _check_size(node)
    comp = _Compiler(coll, srid, flip, set(srids))
    return Filter(text, comp.condition(node), comp.params)


def _check_size(root) -> None:
    """Refuse an absurd filter before compiling it (the compiler recurses; this walk does not)."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(f"filter nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.In) and len(node.sub_nodes) > MAX_LIST:
            raise InputError(f"filter: an IN list has {len(node.sub_nodes):,} values; at most {MAX_LIST:,}")
        for child in (c for c in node.get_sub_nodes() if isinstance(c, ast.Node)):
            chain = isinstance(node, (ast.And, ast.Or)) and type(child) is type(node)
            stack.append((child, depth if chain else depth + 1))


def _wkt(n) -> str:
    try:
        return shapely.geometry.shape(n.geometry).wkt
    except Exception:   # noqa: BLE001 - an unreadable literal is named by its type
        return str(n.geometry.get("type", "geometry")).upper()


def _template(n) -> str:
    try:
        return n.get_template().format(*(_show(s) for s in n.get_sub_nodes()))
    except (IndexError, KeyError, ValueError):
        return type(n).__name__


_SHOW = [(ast.Attribute, lambda n: n.name), (bool, lambda n: "TRUE" if n else "FALSE"),
         (str, lambda n: "'" + n.replace("'", "''") + "'"), (dt.datetime, lambda n: f"TIMESTAMP('{n.isoformat()}')"),
         (dt.date, lambda n: f"DATE('{n.isoformat()}')"), ((int, float), repr), ((values.Geometry, values.Envelope), _wkt),
         (values.Interval, lambda n: f"INTERVAL({_show(n.start)}, {_show(n.end)})"),
         (ast.Comparison, lambda n: f"{_show(n.lhs)} {n.op.value} {_show(n.rhs)}"),
         (ast.TemporalPredicate, lambda n: f"{_NAMES.get(type(n), 'T_?')}({_show(n.lhs)}, {_show(n.rhs)})"),
         (ast.SpatialComparisonPredicate, lambda n: f"S_{n.op.name}({_show(n.lhs)}, {_show(n.rhs)})"),
         (ast.Function, lambda n: f"{n.name.upper()}({', '.join(_show(a) for a in n.arguments)})"),
         (ast.Node, _template)]


def _show(n) -> str:
    """A node written back as CQL2 text (shortened), to name the part of a filter in an error."""
    out = next((show(n) for cls, show in _SHOW if isinstance(n, cls)), type(n).__name__)
    return out if len(out) <= 80 else out[:77] + "..."


@functools.lru_cache(maxsize=32)
def _to_4326(srid: int) -> Transformer:
    return Transformer.from_crs(srid, 4326, always_xy=True)


class _Compiler:
    def __init__(self, coll, srid: int, flip: bool, srids: set[int]):
        self.coll, self.srid, self.flip, self.srids = coll, srid, flip, srids | {4326}
        self.params: dict = {}

    def bind(self, value) -> str:
        name = f"cql{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def fail(self, node, problem: str):
        raise InputError(f"filter: {problem} in {_show(node)!r}")

    # --- conditions -------------------------------------------------------------------
    def condition(self, n) -> str:
        if isinstance(n, (ast.And, ast.Or)):
            parts, stack = [], [n]
            while stack:   # a chain of one operator, flat: as long as the filter allows, no recursion
                m = stack.pop()
                if type(m) is type(n):
                    stack += [m.rhs, m.lhs]
                else:
                    parts.append(self.condition(m))
            return "(" + f" {n.op.value} ".join(parts) + ")"
        if isinstance(n, ast.Not):
            return f"NOT ({self.condition(n.sub_node)})"
        if isinstance(n, ast.Include):
            return "false" if n.not_ else "true"
        if isinstance(n, ast.Comparison):
            (a, ka), (b, kb) = self.pair(n, n.lhs, n.rhs)
            if "geometry" in (ka, kb):
                self.fail(n, "geometries are compared with S_EQUALS, S_INTERSECTS, ..., not " + n.op.value)
            if "bool" in (ka, kb) and n.op.value not in ("=", "<>"):
                self.fail(n, f"booleans are compared with = or <>, not {n.op.value}")
            return f"{a} {n.op.value} {b}"
        if isinstance(n, ast.Between):
            (a, ka), (lo, _) = self.pair(n, n.lhs, n.low)
            _, (hi, _) = self.pair(n, n.lhs, n.high)
            if ka in ("bool", "geometry"):
                self.fail(n, f"BETWEEN needs numbers, times or text, and {_show(n.lhs)} is {_WORDS[ka]}")
            return f"{a} {'NOT ' if n.not_ else ''}BETWEEN {lo} AND {hi}"
        if isinstance(n, ast.Like):
            return self.like(n)
        if isinstance(n, ast.In):
            a, ka = self.value(n.lhs)
            if ka == "geometry":
                self.fail(n, "IN does not take geometries")
            items = [self.pair(n, n.lhs, v)[1][0] for v in n.sub_nodes]
            return f"{a} {'NOT ' if n.not_ else ''}IN ({', '.join(items)})"
        if isinstance(n, ast.IsNull):
            return f"{self.value(n.lhs)[0]} IS {'NOT ' if n.not_ else ''}NULL"
        if isinstance(n, ast.SpatialComparisonPredicate):
            a, b = self.geometry(n, n.lhs), self.geometry(n, n.rhs)
            if isinstance(n, ast.GeometryDisjoint):
                return f"NOT ST_Intersects({a}, {b})"
            return f"({a} && {b} AND {_S_SQL[type(n)]}({a}, {b}))"
        if isinstance(n, ast.BBox):
            if n.crs is not None:
                self.fail(n, "BBOX takes its corners in the filter-crs, not a CRS of its own")
            a, b = self.geometry(n, n.lhs), self.geometry(n, values.Envelope(n.minx, n.maxx, n.miny, n.maxy))
            return f"({a} && {b} AND ST_Intersects({a}, {b}))"
        if isinstance(n, ast.TemporalPredicate) and type(n) in _T_SQL:
            hint = self.time_kind(n.lhs) or self.time_kind(n.rhs) or "timestamp"
            (a0, a1), (b0, b1) = self.period(n, n.lhs, hint), self.period(n, n.rhs, hint)
            return "(" + _T_SQL[type(n)].format(a0=a0, a1=a1, b0=b0, b1=b1) + ")"
        if isinstance(n, ast.Node) and not isinstance(n, ast.Expression):
            self.fail(n, f"{type(n).__name__} is not offered by this server")
        self.fail(n, "expected a condition (a comparison, LIKE, IN, BETWEEN, IS NULL, S_... or T_...)")

    def like(self, n: ast.Like) -> str:
        a, ka = self.value(n.lhs)
        if ka != "text":
            self.fail(n, f"LIKE needs text, and {_show(n.lhs)} is {_WORDS[ka]}")
        pat, inner = n.pattern, n.pattern
        if isinstance(pat, ast.Function) and pat.name == "lower" and len(pat.arguments) == 1:
            inner = pat.arguments[0]
        if not isinstance(inner, str):
            self.fail(n, "the LIKE pattern must be a text literal (or CASEI of one)")
        if re.search(r"(?<!\\)(\\\\)*\\$", inner):
            self.fail(n, "the LIKE pattern ends with the escape character \\")
        p = self.value(pat)[0]
        return f"{'NOT ' if n.not_ else ''}({a} LIKE {p})"

    # --- values -----------------------------------------------------------------------
    def pair(self, n, x, y):
        """Both sides of a comparison, a literal typed by the property it meets."""
        if _literal(x) and not _literal(y):
            b = self.value(y)
            a = self.value(x, b[1])
        else:
            a = self.value(x)
            b = self.value(y, a[1])
        ka, kb = a[1], b[1]
        if ka != kb and (_GROUP.get(ka, ka) != _GROUP.get(kb, kb)):
            self.fail(n, f"type mismatch: {_show(x)} is {_WORDS[ka]} and {_show(y)} is {_WORDS[kb]}")
        return a, b

    def value(self, n, hint: str | None = None) -> tuple[str, str]:
        if isinstance(n, ast.Attribute):
            return self.attribute(n.name)
        if isinstance(n, int):   # bool too (a subclass of int)
            return self.bind(n), "bool" if isinstance(n, bool) else "int"
        if isinstance(n, float):
            if not math.isfinite(n):
                self.fail(n, "the number is out of range")
            return self.bind(n), "float"
        if isinstance(n, str):
            if hint in ("date", "timestamp"):   # '2026-01-01' against a time: read it as one
                return self.bind(self.instant(n, hint)), hint
            return f"CAST({self.bind(n)} AS text)", "text"   # typed: a lone 'x' IS NULL has no type else
        if isinstance(n, dt.date):   # datetime too (a subclass of date)
            return (self.bind(_utc(n)), "timestamp") if isinstance(n, dt.datetime) else (self.bind(n), "date")
        if isinstance(n, (values.Geometry, values.Envelope)) or _is_bbox(n):
            return self.geometry(n, n), "geometry"
        if isinstance(n, values.Interval):
            self.fail(n, "an INTERVAL goes in a T_ function (T_DURING, T_INTERSECTS, ...)")
        if isinstance(n, ast.Arithmetic):
            (a, ka), (b, kb) = self.value(n.lhs), self.value(n.rhs)
            if _GROUP.get(ka) != "number" or _GROUP.get(kb) != "number":
                self.fail(n, "arithmetic needs numbers")
            # numeric: no integer overflow, no float rounding; x / 0 is NULL, not an error
            a, b = f"CAST({a} AS numeric)", f"CAST({b} AS numeric)"
            if isinstance(n, ast.Div):
                b = f"NULLIF({b}, 0)"
            return f"({a} {_ARITH[type(n)]} {b})", "float"
        if isinstance(n, ast.Function):
            if n.name == "lower" and len(n.arguments) == 1:   # CASEI
                a, ka = self.value(n.arguments[0], "text")
                if ka != "text":
                    self.fail(n, f"CASEI needs text, and {_show(n.arguments[0])} is {_WORDS[ka]}")
                return f"lower({a})", "text"
            self.fail(n, f"function {n.name.upper()}() is not offered (functions: {', '.join(FUNCTIONS)})")
        self.fail(n, f"{type(n).__name__} is not offered by this server")

    def attribute(self, name: str) -> tuple[str, str]:
        if name == GEOMETRY:
            return "t.geometry", "geometry"
        if name not in self.coll.kinds:
            raise InputError(f"filter: unknown property {name!r} of {self.coll.id} "
                             f"(queryables: {', '.join([*self.coll.kinds, GEOMETRY])})")
        return self.coll.expr(name), self.coll.kinds[name]

    def instant(self, v, kind: str):
        try:
            if isinstance(v, str):
                v = dt.datetime.fromisoformat(v) if kind == "timestamp" else dt.date.fromisoformat(v)
        except ValueError:
            self.fail(v, f"expected {_WORDS[kind]} (e.g. TIMESTAMP('2026-01-01T00:00:00Z') or DATE('2026-01-01'))")
        return _utc(v) if isinstance(v, dt.datetime) else v

    def time_kind(self, n) -> str | None:
        kind = self.attribute(n.name)[1] if isinstance(n, ast.Attribute) else None
        return kind if kind in ("date", "timestamp") else None

    def period(self, pred, n, hint: str) -> tuple[str, str]:
        """A T_ operand as its [start, end] in SQL (an instant is its own start and end)."""
        if isinstance(n, values.Interval):
            start, end = (self.instant(v, hint) for v in (n.start, n.end))
            if start is None or end is None:
                self.fail(pred, "an INTERVAL needs both ends")
            if _utc_key(start) > _utc_key(end):
                self.fail(pred, "the INTERVAL ends before it starts")
            return self.bind(start), self.bind(end)
        sql, kind = self.value(n, hint)
        if kind not in ("date", "timestamp"):
            self.fail(pred, f"T_ functions need times, and {_show(n)} is {_WORDS[kind]}")
        return sql, sql

    def geometry(self, pred, n) -> str:
        if isinstance(n, ast.Attribute):
            sql, kind = self.attribute(n.name)
            if kind != "geometry":
                self.fail(pred, f"S_ functions need geometries, and {n.name} is {_WORDS[kind]}")
            return sql
        srid = self.srid
        try:
            if _is_bbox(n):
                nums = [float(v) for v in n.arguments]
                nums = nums if len(nums) == 4 else [nums[0], nums[1], nums[3], nums[4]]
                g = shapely.box(*nums)
                if nums[0] > nums[2] or nums[1] > nums[3]:
                    self.fail(pred, "BBOX needs its lower corner first")
            elif isinstance(n, (values.Geometry, values.Envelope)):
                srid = n.geometry.get("srid", srid)
                g = shapely.geometry.shape(n.geometry)
            else:
                self.fail(pred, f"S_ functions need geometries, and {_show(n)} is not one")
        except (ValueError, TypeError, shapely.errors.GEOSException) as e:
            self.fail(pred, f"the geometry is not valid ({e})")
        if srid not in self.srids:
            self.fail(pred, f"SRID {srid} is not offered; use one of {', '.join(map(str, sorted(self.srids)))}")
        if shapely.get_num_coordinates(g) > MAX_VERTICES:
            self.fail(pred, f"the geometry has more than {MAX_VERTICES:,} vertices")
        if self.flip and srid == self.srid and srid == 4326:   # EPSG:4326 proper: latitude first
            g = shapely.transform(g, lambda c: c[:, ::-1])
        if srid != 4326:   # reprojected here: a point outside the CRS's area is refused, not a PROJ error
            g = shapely.transform(g, lambda c: np.column_stack(_to_4326(srid).transform(c[:, 0], c[:, 1])))
        if not np.isfinite(shapely.get_coordinates(g)).all():
            self.fail(pred, f"the geometry's coordinates are out of range for EPSG:{srid}")
        if not shapely.is_valid(g):
            self.fail(pred, f"the geometry is not valid ({shapely.is_valid_reason(g)})")
        # WKB: under a generic (prepared) plan the literal is decoded per candidate row, WKB cheaper than WKT
        return f"ST_GeomFromWKB({self.bind(shapely.to_wkb(g))}, 4326)"


def _literal(n) -> bool:
    return not isinstance(n, ast.Node) or (isinstance(n, ast.Function) and all(map(_literal, n.arguments)))


def _is_bbox(n) -> bool:
    return isinstance(n, ast.Function) and n.name == "bbox" and len(n.arguments) in (4, 6) and \
        all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in n.arguments)


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def _utc_key(t) -> dt.datetime:
    return _utc(t) if isinstance(t, dt.datetime) else _utc(dt.datetime.combine(t, dt.time()))
