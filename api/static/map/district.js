/* The district page (/map/districts/{id}): the district and its boxes on the map, its figures,
   its fault rate over the last 24 months (an SVG chart drawn here: no chart library to fetch),
   its manager and assignment history, and its open alerts. */
(function () {
  "use strict";
  const P = window.Pianqu;
  const cfg = JSON.parse(document.getElementById("pianqu-config").textContent);
  const d = cfg.district;
  const status = (window.pianquMap = {ready: false, errors: [], months: 0});
  const map = L.map("map", {preferCanvas: true});
  status.map = map;
  if (cfg.bounds) map.fitBounds(cfg.bounds, {padding: [20, 20]}); else map.setView([0, 0], 2);
  L.control.scale({metric: true, imperial: false}).addTo(map);
  P.tiles("streets", P.styles.streets, {}).addTo(map);
  P.tiles("districts", function (p) {
    return p.id === d.id ? {weight: 3, color: "#b30000", fill: true, fillOpacity: 0.15, fillColor: "#b30000"}
      : {weight: 1, color: "#888", fill: false};
  }, {query: "?plan=" + encodeURIComponent(d.plan_id)}).addTo(map);
  P.tiles("boxes", P.styles.boxes, {}).addTo(map);

  const fig = document.getElementById("figures");
  fig.appendChild(P.table([["manager", d.manager ? d.manager.manager_name + " (" + d.manager.manager_id + ")" : "none"],
                           ["subscribers", P.num(d.subscribers)], ["workload", P.num(d.workload)],
                           ["deviation", P.pct(d.deviation)], ["revenue / month", P.num(d.revenue)],
                           ["boxes", d.boxes.length], ["open faults", d.open_faults]]));
  const hist = document.getElementById("history");
  const ul = document.createElement("ul");
  (d.history || []).forEach(function (h) {
    ul.appendChild(P.el("li", h.manager_id + " " + (h.manager_name || "") + ": " + String(h.valid_from).slice(0, 10) +
                              " – " + (h.valid_to ? String(h.valid_to).slice(0, 10) : "open")));
  });
  hist.appendChild(ul.children.length ? ul : P.el("p", "never assigned"));
  const al = document.getElementById("alerts");
  (d.alerts || []).forEach(function (a) { al.appendChild(P.el("p", a.kind + " · " + a.status + " · " + (a.reason || ""))); });
  if (!(d.alerts || []).length) al.appendChild(P.el("p", "none"));

  fetch("/kpi?by=district", {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (k) {
    const rows = k.rows.filter(function (r) { return r.district === d.code; }).slice(-24);
    status.months = rows.length;
    chart(rows);
    status.ready = true;
  }).catch(function (e) { status.errors.push(e.message); status.ready = true; });

  function chart(rows) {
    const W = 420, H = 160, pad = 28, ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("width", "100%");
    const max = Math.max.apply(null, rows.map(function (r) { return r.fault_rate || 0; }).concat([0.1]));
    const bw = (W - pad) / Math.max(rows.length, 1);
    rows.forEach(function (r, i) {
      const h = (H - pad) * (r.fault_rate || 0) / max;
      const bar = document.createElementNS(ns, "rect");
      bar.setAttribute("x", pad + i * bw + 1);
      bar.setAttribute("y", H - pad - h);
      bar.setAttribute("width", Math.max(bw - 2, 1));
      bar.setAttribute("height", h);
      bar.setAttribute("fill", "#c0392b");
      const tip = document.createElementNS(ns, "title");
      tip.textContent = r.month + ": " + P.num(r.fault_rate, 2) + " per 100 lines, " + r.tickets + " tickets";
      bar.appendChild(tip);
      svg.appendChild(bar);
      if (i % 6 === 0) {
        const tx = document.createElementNS(ns, "text");
        tx.setAttribute("x", pad + i * bw);
        tx.setAttribute("y", H - 8);
        tx.setAttribute("font-size", "10");
        tx.textContent = r.month;
        svg.appendChild(tx);
      }
    });
    const top = document.createElementNS(ns, "text");
    top.setAttribute("x", 0);
    top.setAttribute("y", 12);
    top.setAttribute("font-size", "10");
    top.textContent = P.num(max, 1);
    svg.appendChild(top);
    document.getElementById("chart").appendChild(svg);
  }
})();
