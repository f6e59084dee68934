/* The planner map (/map): the active plan's districts over the network, faults and alerts, all
   read from this server's API with the session cookie. Layers and legends: layers.js. */
(function () {
  "use strict";
  const P = window.Pianqu;
  const cfg = JSON.parse(document.getElementById("pianqu-config").textContent);
  const status = {tiles: {}, errors: [], ready: false, loading: 0};
  window.pianquMap = status;           // what the page's tests read (tiles asked and answered per layer)

  const map = L.map("map", {preferCanvas: true, minZoom: 3, maxZoom: 20});
  map.fitBounds(cfg.bounds);
  status.map = map;
  L.control.scale({metric: true, imperial: false, maxWidth: 160}).addTo(map);
  ["basemap", "areas", "network", "points", "marks"].forEach(function (name, i) {
    map.createPane(name).style.zIndex = 250 + i * 50;
  });

  function watch(name, layer) {
    const s = (status.tiles[name] = {asked: 0, answered: 0, failed: 0});
    layer.on("tileloadstart", function () { s.asked += 1; status.loading += 1; });
    layer.on("tileload", function () { s.answered += 1; status.loading -= 1; });
    layer.on("tileerror", function () { s.failed += 1; status.loading -= 1; });
    return layer;
  }

  function popup(latlng, title, rows, extra) {
    const box = document.createElement("div");
    box.appendChild(P.el("b", title));
    box.appendChild(P.table(rows));
    if (extra) box.appendChild(extra);
    L.popup({maxWidth: 340}).setLatLng(latlng).setContent(box).openOn(map);
  }

  // ---- the base map: Pianqu's own layers (an online one only if the operator set one)
  const bases = {"Pianqu (own layers)": L.layerGroup()};
  if (cfg.basemap) bases["Online tiles (settings)"] = L.tileLayer(cfg.basemap, {maxZoom: 20, pane: "basemap"});
  bases["Pianqu (own layers)"].addTo(map);
  const t = P.tiles;
  const overlays = {
    "Administrative areas": watch("admin_areas", t("admin_areas", P.styles.admin_areas, {pane: "basemap"})),
    "Streets": watch("streets", t("streets", P.styles.streets, {pane: "basemap"})),
    "Barriers": watch("barriers", t("barriers", P.styles.barriers, {pane: "basemap", interactive: true})),
    "Crossings": watch("crossings", t("crossings", P.styles.crossings, {pane: "network"})),
    "Districts": watch("districts", t("districts", P.styles.districts, {pane: "areas", interactive: true})),
    "Cables": watch("cables", t("cables", P.styles.cables, {pane: "network", interactive: true})),
    "Boxes (utilisation)": watch("boxes", t("boxes", P.styles.boxes, {pane: "points", interactive: true})),
    "Distribution points": watch("distribution_points", t("distribution_points", P.styles.distribution_points,
                                                          {pane: "points", interactive: true})),
    "Subscribers": watch("subscribers", t("subscribers", P.styles.subscribers, {pane: "points", minZoom: 12})),
    "Fault tickets": watch("fault_tickets", t("fault_tickets", P.styles.fault_tickets,
                                              {pane: "points", interactive: true})),
    "Construction reports": watch("construction_reports", t("construction_reports", P.styles.construction_reports,
                                                            {pane: "marks", interactive: true}))
  };
  ["Administrative areas", "Streets", "Barriers", "Districts", "Cables", "Boxes (utilisation)", "Subscribers"]
    .forEach(function (name) { overlays[name].addTo(map); });

  // ---- district labels: code, manager, workload and its deviation from the target
  const labels = L.layerGroup().addTo(map);
  overlays["District labels"] = labels;
  const byId = {};
  cfg.districts.forEach(function (d) {
    byId[d.id] = d;
    if (!d.label) return;
    const dev = d.deviation === null ? "" : (d.deviation > 0 ? "+" : "") + P.pct(d.deviation);
    const more = " · " + (d.manager_name || "no manager") + " · " + P.num(d.workload) + " (" + dev + ")";
    L.marker([d.label[1], d.label[0]], {interactive: false, keyboard: false, pane: "marks",
                                        icon: L.divIcon({className: "district-label", html: "", iconSize: null})})
      .on("add", function (e) {
        const el = e.target.getElement();
        el.replaceChildren(P.el("b", d.code), P.el("span", more, "more"));
      })
      .addTo(labels);
  });
  function zoomClass() {
    const z = map.getZoom(), c = document.getElementById("map").classList;
    c.toggle("zoom-low", z < 12);
    c.toggle("zoom-mid", z >= 12 && z < 14);
  }
  map.on("zoomend", zoomClass);
  zoomClass();
  document.getElementById("plan-id").textContent = cfg.plan_id ? "plan " + cfg.plan_id : "no active plan";

  overlays["Districts"].on("click", function (e) { showDistrict(e.layer.properties.id, e.latlng); });
  overlays["Boxes (utilisation)"].on("click", function (e) {
    const p = e.layer.properties;
    popup(e.latlng, "Box " + p.id, [["ports used", P.num(p.used) + " of " + P.num(p.capacity)],
                                    ["utilisation", P.pct(p.capacity ? p.used / p.capacity : 0)]]);
    owner(e.latlng);
  });
  overlays["Distribution points"].on("click", function (e) {
    const p = e.layer.properties;
    popup(e.latlng, "Distribution point " + p.id, [["box", p.box_id], ["ports used", p.used + " of " + p.capacity]]);
  });
  overlays["Cables"].on("click", function (e) {
    const p = e.layer.properties;
    popup(e.latlng, "Cable " + p.id, [["kind", p.kind], ["medium", p.medium], ["placement", p.placement],
                                      ["laid", p.year_laid], ["capacity", p.capacity]]);
  });
  overlays["Fault tickets"].on("click", function (e) {
    const p = e.layer.properties;
    popup(e.latlng, "Fault " + p.id, [["cause", p.cause], ["severity", p.severity], ["VIP", p.vip ? "yes" : ""],
                                      ["open", p.open ? "yes" : "cleared"]]);
  });
  overlays["Barriers"].on("click", function (e) {
    popup(e.latlng, e.layer.properties.name || e.layer.properties.kind, [["kind", e.layer.properties.kind]]);
  });

  function showDistrict(id, latlng) {
    const d = byId[id];
    const out = document.getElementById("district-info");
    out.replaceChildren();
    if (!d) { out.textContent = "District " + id + " is not in the active plan."; return; }
    out.appendChild(P.el("h3", d.code));
    const link = P.el("a", "district page");
    link.href = "/map/districts/" + encodeURIComponent(d.id);
    out.appendChild(link);
    out.appendChild(P.table([["manager", d.manager_name || "none"], ["subscribers", P.num(d.subscribers)],
                             ["workload", P.num(d.workload)], ["deviation from the target", P.pct(d.deviation)],
                             ["boxes", d.boxes], ["open faults", d.open_faults]]));
    if (latlng) popup(latlng, "District " + d.code, [["manager", d.manager_name || "none"],
                                                     ["workload", P.num(d.workload)], ["deviation", P.pct(d.deviation)]]);
  }

  // ---- who owns this place (the API's lookup), for a clicked box or a search
  function owner(latlng) {
    return api("/lookup?lon=" + latlng.lng.toFixed(6) + "&lat=" + latlng.lat.toFixed(6)).then(say, function () {});
  }
  function say(o) {
    const out = document.getElementById("search-out");
    out.textContent = "box " + o.box_id + " · district " + (o.district_code || "none") + " · " +
      (o.manager_name ? o.manager_name + (o.manager_phone ? " (" + o.manager_phone + ")" : "") : "no manager");
    if (o.district_id) showDistrict(o.district_id);
    return o;
  }

  function api(url, init) {
    return fetch(url, Object.assign({credentials: "same-origin", headers: {"Accept": "application/json"}}, init || {}))
      .then(function (r) {
        if (!r.ok) return r.json().catch(function () { return {}; }).then(function (b) {
          throw new Error(b.detail || (r.status + " " + r.statusText));
        });
        return r;
      }).then(function (r) { return init && init.raw ? r : r.json(); });
  }

  document.getElementById("search").addEventListener("submit", function (ev) {
    ev.preventDefault();
    const q = document.getElementById("search-q").value.trim();
    const out = document.getElementById("search-out");
    if (!q) return;
    out.textContent = "…";
    let found;
    if (/^[A-Za-z]+-BX-\d+$/.test(q)) {         // a box id: its place, then who owns it
      found = api("/collections/boxes/items/" + encodeURIComponent(q)).then(function (f) {
        const ll = L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]);
        map.flyTo(ll, 17);
        return owner(ll);
      });
    } else {
      const param = /^[A-Za-z]+-S-\d+$/.test(q) ? "subscriber" : "address";
      found = api("/lookup?" + param + "=" + encodeURIComponent(q)).then(function (o) {
        map.flyTo([o.lat, o.lon], 17);
        return say(o);
      });
    }
    found.catch(function (e) { out.textContent = e.message; });
  });

  // ---- faults: the heatmap of the window (PNG overlay) and the Gi* hotspots with their trend
  const win = cfg.fault_window ? {from: cfg.fault_window.from, to: cfg.fault_window.to, rate: false} : null;
  const heat = L.layerGroup();
  const hot = L.layerGroup();
  overlays["Fault heatmap"] = heat;
  overlays["Hotspots (Gi*)"] = hot;
  function loadHeat() {
    const q = "from=" + win.from + "&to=" + win.to + (win.rate ? "&rate=true" : "");
    return api("/faults/heatmap?" + q + "&format=png", {raw: true, headers: {"Accept": "image/png"}}).then(function (r) {
      const bounds = JSON.parse(r.headers.get("X-Bounds"));
      return r.blob().then(function (b) {
        heat.clearLayers();
        L.imageOverlay(URL.createObjectURL(b), bounds, {opacity: 0.65, pane: "areas"}).addTo(heat);
      });
    }).catch(function (e) { status.errors.push("heatmap: " + e.message); throw e; });
  }
  function loadHot() {
    const q = "from=" + win.from + "&to=" + win.to + "&rate=" + (win.rate ? "true" : "false") + "&trend=true";
    return api("/faults/hotspots?" + q).then(function (fc) {
      hot.clearLayers();
      L.geoJSON(fc, {
        pane: "areas",
        filter: function (f) { return f.properties["class"] !== "none"; },
        style: function (f) {
          return {weight: 0.5, color: "#555555", fillOpacity: 0.55,
                  fillColor: P.hotspotClasses[f.properties["class"]] || "#cccccc"};
        },
        onEachFeature: function (f, layer) {
          const p = f.properties;
          layer.on("click", function (e) {
            popup(e.latlng, "Gi* " + String(p["class"]).replace("_", " ") + " %",
                  [["z", P.num(p.gi_z, 2)], ["p", P.num(p.gi_p, 4)], ["emerging class", p.pattern],
                   ["faults", p.faults]]);
          });
        }
      }).addTo(hot);
      status.hotspotWindow = q;
    }).catch(function (e) { status.errors.push("hotspots: " + e.message); throw e; });
  }
  const form = document.getElementById("faults-window");
  if (win) {
    heat.on("add", function () { if (!heat.getLayers().length) loadHeat().catch(function () {}); });
    hot.on("add", function () { if (!hot.getLayers().length) loadHot().catch(function () {}); });
    document.getElementById("fw-from").value = win.from;
    document.getElementById("fw-to").value = win.to;
    // A chosen window (and rate or density): the heatmap and hotspots drawn again for it.
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      win.from = document.getElementById("fw-from").value;
      win.to = document.getElementById("fw-to").value;
      win.rate = document.getElementById("fw-rate").checked;
      const out = document.getElementById("fw-out");
      out.textContent = "…";
      if (!map.hasLayer(heat)) heat.addTo(map);
      if (!map.hasLayer(hot)) hot.addTo(map);
      Promise.all([loadHeat(), loadHot()]).then(function () { out.textContent = win.from + " to " + win.to; },
                                                function (e) { out.textContent = e.message; });
    });
  } else {
    form.hidden = true;
  }

  // ---- opportunity alerts, with their life-cycle steps
  const alerts = L.layerGroup().addTo(map);
  overlays["Alerts"] = alerts;
  function loadAlerts() {
    alerts.clearLayers();
    return api("/alerts?limit=500").then(function (page) {
      page.alerts.forEach(function (a) {
        if (a.lon === null || a.lat === null || a.status === "closed" || a.status === "dismissed") return;
        L.circleMarker([a.lat, a.lon], {radius: 5, weight: 1.5, color: "#ffffff", fillOpacity: 0.95, pane: "marks",
                                        fillColor: P.alertKinds[a.kind] || "#000000"})
          .on("click", function (e) { alertPopup(a, e.latlng); }).addTo(alerts);
      });
    }).catch(function (e) { status.errors.push("alerts: " + e.message); });
  }
  function alertPopup(a, latlng) {
    const actions = document.createElement("div");
    actions.className = "actions";
    (cfg.can_edit ? cfg.alert_steps[a.status] || [] : []).forEach(function (step) {
      const b = P.el("button", step);
      b.type = "button";
      b.addEventListener("click", function () {
        const note = step === "dismiss" ? window.prompt("Why is this alert dismissed?") : null;
        if (step === "dismiss" && !note) return;
        api("/alerts/" + encodeURIComponent(a.id) + "/" + step,
            {method: "POST", headers: {"Content-Type": "application/json", "Accept": "application/json"},
             body: JSON.stringify({note: note})})
          .then(function () { map.closePopup(); loadAlerts(); })
          .catch(function (e) { actions.appendChild(P.el("p", e.message, "error")); });
      });
      actions.appendChild(b);
    });
    const hist = P.el("a", "history");
    hist.href = "/alerts/" + encodeURIComponent(a.id) + "/history";
    actions.appendChild(hist);
    popup(latlng, a.kind.replace(/_/g, " ") + " · " + a.status,
          [["reason", a.reason], ["value", P.num(a.value)], ["cost", P.num(a.cost)],
           ["payback (months)", P.num(a.payback_months, 1)], ["box", a.box_id], ["district", a.district]], actions);
  }
  loadAlerts();

  // ---- fault risk (GET /risk): the riskiest boxes, fetched when the overlay is switched on
  // (the model is fitted on the server's first request, then kept).
  const risky = L.layerGroup();
  overlays["Fault risk"] = risky;
  let riskAsked = null;
  function loadRisk() {
    if (riskAsked) return riskAsked;
    riskAsked = api("/risk?layer=boxes&limit=300").then(function (fc) {
      const top = fc.features.length ? fc.features[0].properties.expected_faults : 1;
      fc.features.forEach(function (f) {
        const p = f.properties, c = f.geometry.coordinates;
        const share = Math.sqrt(Math.max(p.expected_faults, 0) / Math.max(top, 1e-9));
        L.circleMarker([c[1], c[0]], {radius: 3 + 9 * share, weight: 1, color: "#ffffff", fillOpacity: 0.85,
                                      pane: "marks", fillColor: P.riskColour(p.rank, fc.numberMatched)})
          .on("click", function (e) {
            popup(e.latlng, "fault risk · box " + p.box_id,
                  [["rank", p.rank + " of " + fc.numberMatched],
                   ["expected faults", P.num(p.expected_faults, 1) + " in " + fc.horizon_months + " months"],
                   ["why", p.drivers], ["from", fc.as_of.slice(0, 10)]]);
          }).addTo(risky);
      });
      status.risk = {shown: fc.features.length, of: fc.numberMatched};
    }).catch(function (e) { riskAsked = null; status.errors.push("risk: " + e.message); });
    return riskAsked;
  }
  map.on("overlayadd", function (e) { if (e.layer === risky) loadRisk(); });

  status.overlays = overlays;
  L.control.layers(bases, overlays, {collapsed: false, position: "topright"}).addTo(map);
  P.legendControl(map, overlays);
  map.whenReady(function () { status.ready = true; });
})();
