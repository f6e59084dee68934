/* The self-contained planner map (`pianqu map --out FILE.html`): everything is in the file (the
   plan's districts and the boxes as GeoJSON, Leaflet inline); it asks nothing of any server. */
(function () {
  "use strict";
  const P = window.Pianqu;
  const cfg = JSON.parse(document.getElementById("pianqu-config").textContent);
  const map = L.map("map", {preferCanvas: true}).fitBounds(cfg.bounds);
  window.pianquMap = {map: map, ready: false};
  L.control.scale({metric: true, imperial: false}).addTo(map);
  const info = document.getElementById("district-info");
  const districts = L.geoJSON(cfg.districts, {
    style: function (f) { return P.styles.districts(f.properties); },
    onEachFeature: function (f, layer) {
      layer.on("click", function () {
        const p = f.properties;
        info.replaceChildren(P.el("h3", p.code), P.table([["subscribers", P.num(p.subscribers)],
          ["workload", P.num(p.workload)], ["deviation", P.pct(p.deviation)], ["manager", p.manager_id || "none"]]));
      });
    }
  }).addTo(map);
  const labels = L.layerGroup().addTo(map);
  cfg.districts.features.forEach(function (f) {
    const p = f.properties;
    if (!p.label) return;
    const text = p.code + " · " + (p.manager_id || "no manager") + " · " + P.num(p.workload) + " (" + P.pct(p.deviation) + ")";
    L.marker([p.label[1], p.label[0]], {interactive: false, icon: L.divIcon({className: "district-label", html: "",
                                                                              iconSize: null})})
      .on("add", function (e) { e.target.getElement().textContent = text; }).addTo(labels);
  });
  const boxes = L.geoJSON(cfg.boxes, {
    pointToLayer: function (f, ll) { return L.circleMarker(ll, P.styles.boxes(f.properties)); },
    onEachFeature: function (f, layer) {
      layer.bindTooltip("box " + f.properties.id + ": " + f.properties.used + " of " + f.properties.capacity + " ports");
    }
  }).addTo(map);
  const overlays = {"Districts": districts, "District labels": labels, "Boxes (utilisation)": boxes};
  L.control.layers(null, overlays, {collapsed: false}).addTo(map);
  P.legendControl(map, overlays);
  window.pianquMap.ready = true;
})();
