"""folium maps that fetch nothing from another host, for the analysts' notebooks.

    m = offline_map(location=[28.2, 112.97], zoom_start=13)
    add_base(m, conn, city)                       # the store's own streets, river, areas
    add_geojson(m, districts, name="districts", column="district", tooltip=["district", "deviation"])
    add_points(m, alerts, name="alerts", column="kind", radius=6)
    add_image(m, heatmap.png, heatmap.bounds_latlon, name="fault density")
    add_legend(m, "alert kind", {"extend network": "#1f77b4", ...})
    folium.LayerControl().add_to(m)

folium's templates load Leaflet, jQuery, Bootstrap and awesome-markers from public CDNs and its
plugins bring more; an intranet without internet shows an empty box. `OfflineMap` loads none of
them: Pianqu's vendored Leaflet (api/static/vendor/leaflet, with its licence) is written into the
page itself, its CSS with the control and marker images as data: URIs, and there are no base
tiles (the base is drawn from the store's layers as GeoJSON). An element that still asks for a
script or style sheet from a URL (a folium plugin) makes `render` raise instead of leaving a
page that silently fetches it.
"""
from __future__ import annotations

import base64
import json
import re
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import CssLink, Element, JavascriptLink, MacroElement
from jinja2 import Template

from gis.errors import InputError

LEAFLET = Path(__file__).resolve().parent / "static" / "vendor" / "leaflet"
BASE_STYLE = {"streets": {"color": "#9a9a9a", "weight": 1, "opacity": 0.8},
              "barriers": {"color": "#4a90c2", "weight": 3, "opacity": 0.8, "fillOpacity": 0.3},
              "admin_areas": {"color": "#666666", "weight": 1, "opacity": 0.7, "fill": False, "dashArray": "4 4"}}
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d"]


class OfflineError(InputError):
    """A map element wants a resource from another host."""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


@lru_cache(maxsize=1)
def leaflet_assets() -> tuple[str, str]:
    """(leaflet.js, leaflet.css with its images inlined), read once per process."""
    js = (LEAFLET / "leaflet.js").read_text(encoding="utf-8")
    css = (LEAFLET / "leaflet.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)   # comments only: two of them hold bug trackers' URLs
    css = re.sub(r"url\((['\"]?)images/([\w.-]+\.png)\1\)",
                 lambda m: f"url({_data_uri(LEAFLET / 'images' / m[2])})", css)
    return js, css


def _icon_setup() -> str:
    """After Leaflet: the default marker from data: URIs (an empty imagePath string stops Leaflet
    guessing a path from the CSS), and the attribution without its link to leafletjs.com."""
    img = LEAFLET / "images"
    icons = {"iconUrl": _data_uri(img / "marker-icon.png"), "iconRetinaUrl": _data_uri(img / "marker-icon-2x.png"),
             "shadowUrl": _data_uri(img / "marker-shadow.png")}
    return (f"L.Icon.Default.imagePath = '';\nL.Icon.Default.mergeOptions({json.dumps(icons)});\n"
            "L.Control.Attribution.prototype.options.prefix = 'Leaflet';\n")


class _Raw(Element):
    """Text written into the page as is (never read as a Jinja template: leaflet.js is code)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


class OfflineMap(folium.Map):
    """A folium Map whose page loads nothing from another host (see the module's docstring)."""

    default_js: ClassVar[list] = []
    default_css: ClassVar[list] = []

    def __init__(self, location=None, **kwargs):
        if kwargs.get("tiles") is not None:
            raise OfflineError("an offline map has no online base tiles (tiles must be None): draw the base from "
                               "the store's layers (add_base)")
        kwargs["tiles"] = None
        kwargs.setdefault("control_scale", True)
        super().__init__(location=location, **kwargs)

    def render(self, **kwargs):
        super().render(**kwargs)   # the map and every child add their header entries here
        header = self.get_root().header
        for name, child in header._children.items():
            url = getattr(child, "url", "") if isinstance(child, (JavascriptLink, CssLink)) else ""
            if url and not str(url).startswith("data:"):
                raise OfflineError(f"map element {name!r} loads {url} from another host; an offline map cannot "
                                   "use it (draw it with GeoJSON, CircleMarkers or an image overlay instead)")
        for child in _descendants(self):
            if isinstance(child, folium.Icon):   # its script is awesome-markers, from a CDN
                raise OfflineError("folium.Icon draws with awesome-markers, which an offline map does not load: use "
                                   "the default marker, a CircleMarker (add_points) or a folium.DivIcon")
        js, css = leaflet_assets()
        own = [("pianqu_leaflet_css", _Raw(f"<style>\n{css}\n</style>")),
               ("pianqu_leaflet_js", _Raw(f"<script>\n{js}\n{_icon_setup()}</script>"))]
        # Right after the map's own header (its L_NO_TOUCH switches must be set before Leaflet
        # loads) and before any child's header entry, which may use L.
        items = [(k, v) for k, v in header._children.items() if k not in dict(own)]
        at = next((i + 1 for i, (k, _) in enumerate(items) if k == self.get_name()), 0)
        header._children = OrderedDict(items[:at] + own + items[at:])
        for _, child in own:
            child._parent = header


def _descendants(element):
    for child in element._children.values():
        yield child
        yield from _descendants(child)


def offline_map(**folium_kwargs) -> OfflineMap:
    """A folium Map that fetches nothing from another host: no CDN script or style, no tiles."""
    return OfflineMap(**folium_kwargs)


# ---- layers ------------------------------------------------------------------------------------

def category_colors(values) -> dict:
    """A colour per distinct value (sorted), from a fixed palette."""
    keys = sorted({str(v) for v in values if pd.notna(v)})
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}


def scale_colors(values, cmap: str = "viridis", vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """Hex colours of numbers on a matplotlib colour map (grey where missing)."""
    from matplotlib import colormaps, colors
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    lo = np.nanmin(v) if vmin is None and np.isfinite(v).any() else (vmin or 0.0)
    hi = np.nanmax(v) if vmax is None and np.isfinite(v).any() else (vmax if vmax is not None else 1.0)
    t = np.clip((v - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    rgba = colormaps[cmap](np.nan_to_num(t))
    out = np.array([colors.to_hex(c) for c in rgba], dtype=object)
    out[~np.isfinite(v)] = "#bbbbbb"
    return out


def _frame(gdf: gpd.GeoDataFrame, columns, simplify_m: float | None) -> gpd.GeoDataFrame:
    """The rows in EPSG:4326 with only `columns`, JSON-safe (times as text, NaN as null),
    simplified by `simplify_m` metres (in a local UTM zone) when asked."""
    g = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if simplify_m:
        utm = g.to_crs(4326).estimate_utm_crs() if len(g) else None
        if utm is not None:
            g = g.set_geometry(g.geometry.to_crs(utm).simplify(simplify_m, preserve_topology=True))
    g = g.to_crs(4326)
    keep = [c for c in dict.fromkeys(columns) if c in g.columns and c != g.geometry.name]
    out = gpd.GeoDataFrame({c: g[c].to_numpy() for c in keep}, geometry=g.geometry.to_numpy(), crs=4326)
    for c in keep:
        s = out[c]
        if pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype):
            out[c] = s.astype(str)
        elif s.dtype == object:
            out[c] = s.map(lambda x: x if x is None or isinstance(x, (str, int, float, bool)) else str(x))
        elif pd.api.types.is_float_dtype(s):
            out[c] = s.round(4)
    return out


def add_geojson(m: folium.Map, gdf: gpd.GeoDataFrame, *, name: str, color: str = "#3366cc",
                column: str | None = None, colors: dict | None = None, cmap: str | None = None,
                weight: float = 1.5, opacity: float = 0.9, fill_opacity: float = 0.35, dash: str | None = None,
                tooltip: list[str] | None = None, popup: list[str] | None = None, simplify_m: float | None = None,
                radius: float | None = None, show: bool = True, parent=None) -> folium.GeoJson:
    """A layer of any geometry: one colour, or coloured by `column` (categories through `colors`
    or the palette, numbers through `cmap`); points become CircleMarkers of `radius` pixels
    (no marker image); `tooltip`/`popup` name the columns shown."""
    shown = [*(tooltip or []), *(popup or [])]
    g = _frame(gdf, [*shown, *([column] if column else [])], simplify_m)
    if column is not None and cmap is not None:
        g["_color"] = scale_colors(g[column], cmap)
    elif column is not None:
        lookup = colors or category_colors(g[column])
        g["_color"] = g[column].astype(str).map(lookup).fillna(color).to_numpy()
    else:
        g["_color"] = color
    style = {"weight": weight, "opacity": opacity, "fillOpacity": fill_opacity, **({"dashArray": dash} if dash else {})}

    # folium calls this once per feature (its templates cannot style from a column): a Python
    # loop over a notebook's few thousand features, not over a city's subscribers.
    def style_function(feature):
        c = feature["properties"]["_color"]
        return {**style, "color": c, "fillColor": c}

    kwargs = {}
    if radius is not None:
        kwargs["marker"] = folium.CircleMarker(radius=radius, fill=True)
    layer = folium.GeoJson(
        g.to_json(na="null", drop_id=True), name=name, style_function=style_function, show=show,
        tooltip=folium.GeoJsonTooltip(fields=tooltip, localize=True) if tooltip else None,
        popup=folium.GeoJsonPopup(fields=popup, localize=True) if popup else None, **kwargs)
    layer.add_to(parent if parent is not None else m)
    return layer


def add_points(m: folium.Map, gdf: gpd.GeoDataFrame, *, name: str, radius: float = 5, fill_opacity: float = 0.8,
               **kwargs) -> folium.GeoJson:
    """Points as CircleMarkers (add_geojson's options)."""
    return add_geojson(m, gdf, name=name, radius=radius, fill_opacity=fill_opacity, **kwargs)


def add_base(m: folium.Map, conn, city: str, *, streets: bool = True, barriers: bool = True,
             areas: str | None = "community", simplify_m: float = 5.0,
             max_streets: int = 5_000) -> folium.FeatureGroup:
    """The base map from the store's own layers (streets, barriers, administrative areas of
    `areas` level), simplified, grey, in one layer group named "base". A city with more than
    `max_streets` streets gets its primary and secondary ones only (the page stays small)."""
    from gis import store
    group = folium.FeatureGroup(name="base (streets, barriers, areas)", show=True)
    if areas is not None:
        a = store.read_layer(conn, "admin_areas", city, ["id", "name", "level"])
        add_geojson(m, a[a["level"] == areas], name=areas, tooltip=["name"], simplify_m=simplify_m, parent=group,
                    color=BASE_STYLE["admin_areas"]["color"], weight=1, fill_opacity=0.0, dash="4 4")
    if streets:
        s = store.read_layer(conn, "streets", city, ["id", "kind"])
        if len(s) > max_streets:
            s = s[s["kind"].isin(["primary", "secondary"])]
        widths = {"primary": 2.5, "secondary": 1.5}
        for kind, rows in s.groupby("kind"):
            add_geojson(m, rows, name=f"streets ({kind})", color=BASE_STYLE["streets"]["color"],
                        weight=widths.get(kind, 0.8), opacity=0.8, simplify_m=simplify_m, parent=group)
    if barriers:
        b = store.read_layer(conn, "barriers", city, ["id", "kind"])
        add_geojson(m, b, name="barriers", color=BASE_STYLE["barriers"]["color"], weight=3, fill_opacity=0.3,
                    tooltip=["kind"], simplify_m=simplify_m, parent=group)
    group.add_to(m)
    return group


def add_image(m: folium.Map, png: bytes, bounds, *, name: str, opacity: float = 0.75,
              show: bool = True) -> folium.raster_layers.ImageOverlay:
    """A PNG overlay (e.g. the faults service's heatmap) written into the page as a data: URI;
    `bounds` [[south, west], [north, east]] in degrees."""
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    layer = folium.raster_layers.ImageOverlay(uri, bounds=bounds, name=name, opacity=opacity, show=show)
    layer.add_to(m)
    return layer


class _Legend(MacroElement):
    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: {{ this.position|tojson }}});
            legend.onAdd = function () {
                var div = L.DomUtil.create('div', 'pianqu-legend');
                div.style.cssText = 'background: rgba(255,255,255,0.9); padding: 6px 8px; font: 12px sans-serif; '
                    + 'border-radius: 4px; box-shadow: 0 0 4px rgba(0,0,0,0.3); line-height: 18px';
                div.innerHTML = {{ this.html|tojson }};
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(self, html: str, position: str):
        super().__init__()
        self._name = "Legend"
        self.html = html
        self.position = position


def add_legend(m: folium.Map, title: str, items: dict, *, position: str = "bottomright") -> MacroElement:
    """A legend box: {label: colour}."""
    from html import escape
    rows = "".join(f'<div><span style="display:inline-block;width:12px;height:12px;margin-right:6px;'
                   f'background:{escape(str(c))}"></span>{escape(str(label))}</div>' for label, c in items.items())
    legend = _Legend(f"<b>{escape(title)}</b>{rows}", position)
    m.add_child(legend)
    return legend


def fit(m: folium.Map, gdf: gpd.GeoDataFrame) -> folium.Map:
    """Zoom the map to the frame's extent."""
    w, s, e, n = gdf.to_crs(4326).total_bounds
    m.fit_bounds([[s, w], [n, e]])
    return m
