/* Plan comparison (/map/plans/{a}/vs/{b}): both plans' districts, the units that change district
   highlighted, both plans' metrics side by side, and what moves with each unit. */
(function () {
  "use strict";
  const P = window.Pianqu;
  const cfg = JSON.parse(document.getElementById("pianqu-config").textContent);
  const status = (window.pianquMap = {ready: false, errors: [], layers: {}});
  const map = L.map("map", {preferCanvas: true}).fitBounds(cfg.bounds);
  status.map = map;
  L.control.scale({metric: true, imperial: false}).addTo(map);
  const base = P.tiles("streets", P.styles.streets, {}).addTo(map);
  const overlays = {"Streets": base};

  function load(id, style, name) {
    return fetch("/plans/" + encodeURIComponent(id) + "/districts", {credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (fc) {
        const layer = L.geoJSON(fc, {style: style, onEachFeature: function (f, l) {
          l.bindTooltip(name + " " + f.properties.code + ": " + P.num(f.properties.workload) + " (" +
                        P.pct(f.properties.deviation) + ")");
        }}).addTo(map);
        overlays["Plan " + name + " (" + id + ")"] = layer;
        status.layers[name] = fc.features.length;
      });
  }
  const moved = L.layerGroup();
  cfg.units.forEach(function (u) {
    L.circleMarker([u.lat, u.lon], {radius: 6, color: "#000", weight: 1, fillColor: "#e31a1c", fillOpacity: 0.9})
      .bindTooltip(u.unit + ": " + u.from + " → " + u.to + ", " + u.subscribers + " subscribers").addTo(moved);
  });
  Promise.all([
    load(cfg.a.id, function () { return {color: "#555", weight: 3, dashArray: "6 4", fill: false}; }, "a"),
    load(cfg.b.id, function (f) { return {color: "#1f3a5f", weight: 1.5, fillOpacity: 0.25,
                                         fillColor: P.districtColour(f.properties.code)}; }, "b")
  ]).then(function () {
    moved.addTo(map);
    overlays["Units that change district"] = moved;
    L.control.layers(null, overlays, {collapsed: false}).addTo(map);
    status.ready = true;
  }).catch(function (e) { status.errors.push(e.message); status.ready = true; });

  const rows = [["", cfg.a.id, cfg.b.id], ["status", cfg.a.status, cfg.b.status],
                ["districts", cfg.a.n_districts, cfg.b.n_districts],
                ["max deviation", P.pct(cfg.a.max_deviation), P.pct(cfg.b.max_deviation)],
                ["mean deviation", P.pct(cfg.a.mean_deviation), P.pct(cfg.b.mean_deviation)],
                ["compactness (Polsby-Popper, mean)", P.num(cfg.a.polsby_popper_mean, 3), P.num(cfg.b.polsby_popper_mean, 3)],
                ["districts in pieces", cfg.a.non_contiguous, cfg.b.non_contiguous]];
  const t = document.getElementById("metrics");
  rows.forEach(function (r, i) {
    const tr = document.createElement("tr");
    r.forEach(function (v) { tr.appendChild(P.el(i ? "td" : "th", v)); });
    t.appendChild(tr);
  });
  const tot = cfg.totals;
  document.getElementById("totals").textContent = P.num(tot.units_moved) + " units (" + P.num(tot.boxes_moved) +
    " boxes) change district: " + P.num(tot.subscribers_moved) + " subscribers (" + P.pct(tot.share) +
    ", the churn), " + P.num(tot.revenue_moved) + " revenue a month, " + P.num(tot.faults_per_month_moved, 1) +
    " faults a month.";
  const mt = document.getElementById("moved");
  const head = document.createElement("tr");
  ["unit", "from", "to", "subscribers", "revenue / month", "faults / month"].forEach(function (h) {
    head.appendChild(P.el("th", h));
  });
  mt.appendChild(head);
  cfg.units.slice().sort(function (x, y) { return y.subscribers - x.subscribers; }).forEach(function (u) {
    const tr = document.createElement("tr");
    [u.unit, u.from, u.to, P.num(u.subscribers), P.num(u.revenue), P.num(u.faults_per_month, 2)].forEach(function (v) {
      tr.appendChild(P.el("td", v));
    });
    mt.appendChild(tr);
  });
})();
