/* Pianqu map layers: how each layer of the API is drawn and its legend. Every layer comes from
   this server (vector tiles, GeoJSON, PNG); nothing is fetched from another host. */
(function () {
  "use strict";
  const P = (window.Pianqu = window.Pianqu || {});

  // Leaflet 1.8 dropped L.DomEvent.fakeStop, which VectorGrid 1.3's canvas renderer still calls
  // on every click of a feature: the same effect (the map does not also take the click).
  if (!L.DomEvent.fakeStop) L.DomEvent.fakeStop = L.DomEvent.stopPropagation;

  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                   "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d37295"];
  P.districtColour = function (code) {
    let h = 0;
    for (const ch of String(code)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return PALETTE[h % PALETTE.length];
  };

  P.utilisation = [[0.5, "#1a9850", "under 50 %"], [0.85, "#fdae61", "50 to 85 %"],
                   [1.0, "#d73027", "85 to 100 %"], [Infinity, "#67001f", "full"]];
  P.utilisationColour = function (used, capacity) {
    const u = capacity > 0 ? used / capacity : 0;
    for (const [upto, colour] of P.utilisation) if (u < upto) return colour;
    return P.utilisation[P.utilisation.length - 1][1];
  };

  P.cableKinds = {trunk: ["#08306b", 3.5], distribution: ["#2171b5", 2], drop: ["#9ecae1", 1]};
  P.barrierKinds = {river: ["#4a90d9", 4, null], rail: ["#333333", 2, "6 4"], motorway: ["#b8860b", 3, null]};
  P.hotspotClasses = {hot_99: "#b2182b", hot_95: "#ef8a62", hot_90: "#fddbc7",
                      cold_90: "#d1e5f0", cold_95: "#67a9cf", cold_99: "#2166ac"};
  P.alertKinds = {extend_network: "#6a3d9a", expand_box: "#e31a1c", outside_coverage: "#ff7f00",
                  rebuild: "#33a02c"};

  function tileUrl(layer, query) {
    return "/tiles/" + layer + "/{z}/{x}/{y}.pbf" + (query || "");
  }

  // A layer of the API's vector tiles (VectorGrid on canvas); the page's session cookie goes with
  // every tile request.
  P.tiles = function (layer, style, opts) {
    opts = opts || {};
    const styles = {};
    styles[layer] = style;
    return L.vectorGrid.protobuf(tileUrl(layer, opts.query), {
      vectorTileLayerStyles: styles, rendererFactory: L.canvas.tile, interactive: !!opts.interactive,
      getFeatureId: function (f) { return f.properties.id; }, maxNativeZoom: 22, maxZoom: 22,
      minZoom: opts.minZoom || 0, pane: opts.pane || "overlayPane",
      fetchOptions: {credentials: "same-origin"}, attribution: opts.attribution || ""
    });
  };

  P.styles = {
    admin_areas: function () { return {weight: 1, color: "#7b3294", opacity: 0.6, fill: true, fillColor: "#f7f4f9",
                                       fillOpacity: 0.25}; },
    streets: function (p) {
      const major = p.kind !== "residential";
      return {weight: major ? 2.5 : 1, color: major ? "#999999" : "#c8c8c8", opacity: 0.9};
    },
    barriers: function (p) {
      const k = P.barrierKinds[p.kind] || ["#666666", 2, null];
      return {weight: k[1], color: k[0], opacity: 0.9, dashArray: k[2]};
    },
    crossings: function () { return {radius: 3, weight: 1, color: "#333333", fill: true, fillColor: "#ffffff",
                                     fillOpacity: 1}; },
    cables: function (p) {
      const k = P.cableKinds[p.kind] || ["#555555", 1];
      return {weight: k[1], color: k[0], opacity: 0.85};
    },
    boxes: function (p) {
      return {radius: 5, weight: 1, color: "#222222", fill: true, fillOpacity: 0.95,
              fillColor: P.utilisationColour(p.used, p.capacity)};
    },
    distribution_points: function (p) {
      return {radius: 2.5, weight: 0.5, color: "#444444", fill: true, fillOpacity: 0.9,
              fillColor: P.utilisationColour(p.used, p.capacity)};
    },
    subscribers: function () { return {radius: 1.2, weight: 0, fill: true, fillColor: "#777777", fillOpacity: 0.45}; },
    fault_tickets: function (p) {
      return {radius: p.open ? 4 : 2, weight: p.open ? 1 : 0, color: "#000000", fill: true, fillOpacity: 0.9,
              fillColor: p.open ? "#ff0000" : "#fb9a99"};
    },
    construction_reports: function () { return {radius: 5, weight: 1, color: "#000000", fill: true,
                                                fillColor: "#ffff33", fillOpacity: 0.9}; },
    districts: function (p) {
      return {weight: 2, color: "#222222", opacity: 0.8, fill: true, fillOpacity: 0.18,
              fillColor: P.districtColour(p.code)};
    }
  };

  // Fault risk by rank: the riskiest tenth dark red, the next fifth orange, the rest yellow.
  P.riskBands = [[0.1, "#b2182b", "riskiest tenth"], [0.3, "#ef8a62", "next fifth"], [1.01, "#fddbc7", "others shown"]];
  P.riskColour = function (rank, of) {
    const q = rank / Math.max(of, 1);
    for (const b of P.riskBands) { if (q <= b[0]) return b[1]; }
    return P.riskBands[P.riskBands.length - 1][1];
  };

  function swatch(colour, shape) {
    const s = document.createElement("span");
    s.className = "swatch " + (shape || "box");
    s.style.background = colour;
    return s;
  }

  // The legend of every coloured layer; shown while its layer is on the map.
  P.legends = {
    "Districts": [["a colour per district", "#4e79a7"], ["label: code (zoom 12+)", "#ffffff"],
                  ["· manager · workload (deviation) (zoom 14+)", "#ffffff"]],
    "Boxes (utilisation)": P.utilisation.map(function (u) { return [u[2], u[1], "dot"]; }),
    "Distribution points": P.utilisation.map(function (u) { return [u[2], u[1], "dot"]; }),
    "Cables": Object.keys(P.cableKinds).map(function (k) { return [k, P.cableKinds[k][0], "line"]; }),
    "Barriers": Object.keys(P.barrierKinds).map(function (k) { return [k, P.barrierKinds[k][0], "line"]; }),
    "Fault tickets": [["open", "#ff0000", "dot"], ["cleared (from zoom 14)", "#fb9a99", "dot"]],
    "Hotspots (Gi*)": Object.keys(P.hotspotClasses).map(function (k) {
      return [k.replace("_", " ") + " % confidence", P.hotspotClasses[k]];
    }),
    "Alerts": Object.keys(P.alertKinds).map(function (k) { return [k.replace(/_/g, " "), P.alertKinds[k], "dot"]; }),
    "Fault risk": P.riskBands.map(function (b) { return [b[2], b[1], "dot"]; }),
    "Fault heatmap": [["fewer faults", "#ffffb2"], ["more faults", "#bd0026"]],
    "Administrative areas": [["area", "#f7f4f9"]],
    "Subscribers": [["subscriber (from zoom 12)", "#555555", "dot"]]
  };

  P.legendControl = function (map, overlays) {
    const ctl = L.control({position: "bottomright"});
    ctl.onAdd = function () {
      const div = L.DomUtil.create("div", "legend");
      div.id = "legend";
      L.DomEvent.disableScrollPropagation(div);
      ctl.refresh = function () {
        div.replaceChildren();
        Object.keys(overlays).forEach(function (name) {
          if (!map.hasLayer(overlays[name]) || !P.legends[name]) return;
          const block = document.createElement("div");
          block.className = "legend-block";
          block.dataset.layer = name;
          const h = document.createElement("b");
          h.textContent = name;
          block.appendChild(h);
          P.legends[name].forEach(function (row) {
            const line = document.createElement("div");
            line.appendChild(swatch(row[1], row[2]));
            line.appendChild(document.createTextNode(" " + row[0]));
            block.appendChild(line);
          });
          div.appendChild(block);
        });
      };
      ctl.refresh();
      return div;
    };
    ctl.addTo(map);
    map.on("overlayadd overlayremove", function () { ctl.refresh(); });
    return ctl;
  };

  // Text into an element, never HTML: every value shown comes from the store.
  P.el = function (tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  P.table = function (rows) {
    const t = document.createElement("table");
    t.className = "kv";
    rows.forEach(function (r) {
      if (r[1] === undefined || r[1] === null || r[1] === "") return;
      const tr = document.createElement("tr");
      tr.appendChild(P.el("th", r[0]));
      tr.appendChild(P.el("td", r[1]));
      t.appendChild(tr);
    });
    return t;
  };
  P.pct = function (x) { return x === null || x === undefined ? "" : (x * 100).toFixed(1) + " %"; };
  P.num = function (x, d) { return x === null || x === undefined ? "" : Number(x).toLocaleString("en", {maximumFractionDigits: d || 0}); };
})();
