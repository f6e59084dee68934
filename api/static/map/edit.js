/* Editing districts by hand on the planner map (planners only). Boxes are selected by click, by
   rectangle or by brush and moved to another district; every stroke is checked by the API
   (POST /plans/{id}/edits/check: the plan's own rules, the districts touched only) before the
   move is made; undo and redo; locks; suggested moves; saving as a draft (409 when someone else
   saved over the plan); the edited assignment as CSV and GeoJSON. */
(function () {
  "use strict";
  const P = window.Pianqu;
  const status = window.pianquMap;
  const cfg = JSON.parse(document.getElementById("pianqu-config").textContent);
  if (!cfg.can_edit || !cfg.plan_id) return;
  const map = status.map;
  const panel = document.getElementById("edit-panel");
  const E = (status.edit = {plan: cfg.plan_id, moves: {}, undo: [], redo: [], selected: new Set(), locked: new Set(),
                            mode: "click", checks: 0, last: null});
  let view = null, markers = [], layer = null, pos = {};

  function api(url, body) {
    return fetch(url, {method: body === undefined ? "GET" : "POST", credentials: "same-origin",
                       headers: {"Accept": "application/json", "Content-Type": "application/json"},
                       body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (r) {
        return r.json().then(function (b) { if (!r.ok) { const e = new Error(b.detail || r.status); e.body = b; e.status = r.status; throw e; } return b; });
      });
  }
  function code(i) { const u = view.units[i]; return E.moves[u.id] !== undefined ? E.moves[u.id] : u.district; }
  function el(id) { return document.getElementById(id); }

  function start() {
    el("edit-start").disabled = true;
    api("/plans/" + encodeURIComponent(E.plan) + "/editing").then(function (v) {
      view = v;
      E.view = v;
      E.version = v.version;
      pos = {};
      v.units.forEach(function (u, i) { pos[u.id] = i; });
      layer = L.layerGroup().addTo(map);
      markers = v.units.map(function (u, i) {
        return L.circleMarker([u.lat, u.lon], {radius: 7, weight: 1, color: "#000", fillOpacity: 0.9,
                                               fillColor: P.districtColour(u.district), pane: "marks"})
          .on("click", function (e) { L.DomEvent.stopPropagation(e); if (E.mode === "click") toggle([i]); })
          .addTo(layer);
      });
      map.boxZoom.disable();
      el("edit-tools").hidden = false;
      districtsTable();
      refresh();
      E.ready = true;
    }).catch(function (e) { el("edit-out").textContent = e.message; el("edit-start").disabled = false; });
  }

  function toggle(idx, on) {
    idx.forEach(function (i) {
      const want = on === undefined ? !E.selected.has(i) : on;
      if (want) E.selected.add(i); else E.selected.delete(i);
    });
    refresh();
    preview();
  }

  function restyle() {
    markers.forEach(function (m, i) {
      const sel = E.selected.has(i);
      m.setStyle({fillColor: P.districtColour(code(i)), weight: sel ? 4 : 1, color: sel ? "#000" : "#333",
                  radius: sel ? 9 : 7});
    });
  }

  // The districts a selection may go to: those touching it first, then the others (a move to a
  // district that does not touch the selection is offered, and refused by the check).
  function targets() {
    const from = new Set(), near = new Set();
    E.selected.forEach(function (i) {
      from.add(code(i));
      view.neighbours[i].forEach(function (j) { if (!E.selected.has(j)) near.add(code(j)); });
    });
    const all = view.districts.map(function (d) { return d.code; });
    const first = all.filter(function (c) { return near.has(c) && !from.has(c); });
    const rest = all.filter(function (c) { return !near.has(c) && !(from.size === 1 && from.has(c)); });
    return {first: first, rest: rest};
  }

  function refresh() {
    restyle();
    const sel = el("edit-to"), keep = sel.value;
    sel.replaceChildren();
    const t = targets();
    t.first.forEach(function (c) { sel.appendChild(new Option(c, c)); });
    t.rest.forEach(function (c) { sel.appendChild(new Option(c + " (does not touch the selection)", c)); });
    if ([...sel.options].some(function (o) { return o.value === keep; })) sel.value = keep;
    el("edit-selected").textContent = E.selected.size + " box(es) selected";
    el("edit-undo").disabled = !E.undo.length;
    el("edit-redo").disabled = !E.redo.length;
    el("edit-count").textContent = Object.keys(E.moves).length + " unit(s) moved";
  }

  function proposal() {
    const to = el("edit-to").value, out = Object.assign({}, E.moves);
    E.selected.forEach(function (i) {
      const u = view.units[i];
      if (u.district === to) delete out[u.id]; else out[u.id] = to;
    });
    return out;
  }
  function body(moves) {
    return {moves: moves, locked: [...E.locked], override_tolerance: el("edit-override").checked};
  }

  // Every stroke: the API's check of the whole edit with the selection moved, shown before saving.
  let pending = 0;
  function preview() {
    if (!E.selected.size || !el("edit-to").value) { show(null); return Promise.resolve(null); }
    const n = ++pending;
    return api("/plans/" + encodeURIComponent(E.plan) + "/edits/check", body(proposal())).then(function (r) {
      E.checks += 1;
      if (n === pending) show(r);
      return r;
    }).catch(function (e) { show({ok: false, reason: e.message, districts: {}}); });
  }

  function show(r) {
    E.last = r;
    const out = el("edit-check");
    out.replaceChildren();
    el("edit-move").disabled = !(r && r.ok);
    if (!r) return;
    const t = document.createElement("table");
    t.className = "check";
    const head = document.createElement("tr");
    ["district", "workload", "deviation", "one piece", "within"].forEach(function (h) {
      head.appendChild(P.el("th", h));
    });
    t.appendChild(head);
    Object.keys(r.districts).sort().forEach(function (c) {
      const d = r.districts[c], tr = document.createElement("tr");
      tr.dataset.district = c;
      [c, P.num(d.workload_before) + " → " + P.num(d.workload), P.pct(d.deviation_before) + " → " + P.pct(d.deviation),
       d.contiguous ? "yes" : "NO", d.within_tolerance ? "yes" : "no"].forEach(function (v) { tr.appendChild(P.el("td", v)); });
      t.appendChild(tr);
    });
    out.appendChild(t);
    out.appendChild(P.el("p", r.ok ? "The move is allowed." : "Refused: " + r.reason, r.ok ? "ok" : "error"));
  }

  function apply(moves, note) {
    E.undo.push({before: Object.assign({}, E.moves), note: note});
    if (E.undo.length > 1000) E.undo.shift();
    E.redo = [];
    E.moves = moves;
    E.selected.clear();
    after();
  }
  function after() {
    refresh();
    show(null);
    districtsTable();
  }

  function move() {
    if (!E.last || !E.last.ok) return;
    apply(proposal(), E.selected.size + " to " + el("edit-to").value);
  }
  // Undo takes a step from the undo stack to the redo stack, redo the other way round.
  function travel(from, to) {
    const s = from.pop();
    if (!s) return;
    to.push({before: Object.assign({}, E.moves), note: s.note});
    E.moves = s.before;
    after();
  }
  function undo() { travel(E.undo, E.redo); }
  function redo() { travel(E.redo, E.undo); }

  function districtsTable() {
    const loads = {};
    view.units.forEach(function (u, i) { const c = code(i); loads[c] = (loads[c] || 0) + u.workload; });
    const box = el("edit-districts");
    box.replaceChildren();
    const t = document.createElement("table");
    t.className = "check";
    view.districts.forEach(function (d) {
      const tr = document.createElement("tr"), dev = loads[d.code] / view.target - 1;
      tr.dataset.district = d.code;
      const lock = document.createElement("input");
      lock.type = "checkbox";
      lock.title = "lock " + d.code;
      lock.checked = E.locked.has(d.code);
      lock.addEventListener("change", function () {
        if (lock.checked) E.locked.add(d.code); else E.locked.delete(d.code);
        preview();
      });
      const cell = document.createElement("td");
      cell.appendChild(lock);
      tr.appendChild(cell);
      tr.appendChild(P.el("td", d.code));
      tr.appendChild(P.el("td", P.num(loads[d.code] || 0)));
      tr.appendChild(P.el("td", P.pct(dev), Math.abs(dev) > view.tolerance ? "error" : ""));
      t.appendChild(tr);
    });
    box.appendChild(P.el("p", "Lock · district · workload · deviation (tolerance " + P.pct(view.tolerance) + ")"));
    box.appendChild(t);
  }

  function suggest() {
    el("edit-out").textContent = "…";
    api("/plans/" + encodeURIComponent(E.plan) + "/edits/suggest", {moves: E.moves, locked: [...E.locked]})
      .then(function (list) {
        const out = el("edit-out");
        out.replaceChildren();
        if (!list.length) { out.textContent = "No move brings a district closer to the target."; return; }
        out.appendChild(P.el("p", list.length + " suggested move(s):"));
        const ul = document.createElement("ul");
        list.slice(0, 20).forEach(function (s) {
          ul.appendChild(P.el("li", s.unit + ": " + s.from + " → " + s.to + " (" + P.pct(s.deviation_from) + ", " +
                                    P.pct(s.deviation_to) + ")"));
        });
        out.appendChild(ul);
        const b = P.el("button", "Apply all");
        b.type = "button";
        b.addEventListener("click", function () {
          const m = Object.assign({}, E.moves);
          list.forEach(function (s) { m[s.unit] = s.to; });
          apply(m, "suggested moves");
          out.textContent = list.length + " suggested move(s) applied.";
        });
        out.appendChild(b);
      }).catch(function (e) { el("edit-out").textContent = e.message; });
  }

  function save() {
    const base = {};
    view.units.forEach(function (u) { base[u.id] = u.district; });
    const b = Object.assign(body(E.moves), {base_version: E.version, base: base, name: el("edit-name").value || null});
    el("edit-out").textContent = "saving…";
    api("/plans/" + encodeURIComponent(E.plan) + "/edits", b).then(function (r) {
      E.saved = r.plan;
      el("edit-out").textContent = "Saved as draft " + r.plan + (r.in_place ? " (updated)" : "") +
        ": max deviation " + P.pct(r.max_deviation) + ".";
      // further saves go to the draft itself, from what it now holds
      E.plan = r.plan;
      E.version = r.version;
      view.units.forEach(function (u, i) { u.district = code(i); });
      E.moves = {};
      E.undo = [];
      E.redo = [];
      after();
    }).catch(function (e) {
      const changed = e.body && e.body.changed ? " Changed meanwhile: " + e.body.changed.slice(0, 10)
        .map(function (c) { return c.unit + " " + c.was + "→" + c.now; }).join(", ") : "";
      el("edit-out").textContent = "Not saved: " + e.message + changed;
    });
  }

  function download(name, type, text) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], {type: type}));
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  function exportCsv() {
    const rows = ["unit_id,box_id,district"].concat(view.units.map(function (u, i) {
      return [u.id, u.box_id, code(i)].map(function (v) { return '"' + String(v).replace(/"/g, '""') + '"'; }).join(",");
    }));
    download("districts-" + E.plan + ".csv", "text/csv", rows.join("\n") + "\n");
  }
  function exportGeojson() {
    const fc = {type: "FeatureCollection", features: view.units.map(function (u, i) {
      return {type: "Feature", id: u.id, geometry: {type: "Point", coordinates: [u.lon, u.lat]},
              properties: {box_id: u.box_id, district: code(i), workload: u.workload}};
    })};
    download("districts-" + E.plan + ".geojson", "application/geo+json", JSON.stringify(fc));
  }

  // Rectangle and brush: drags on the map select the boxes under them (the map does not pan).
  let dragStart = null, rect = null;
  map.on("mousedown", function (e) {
    if (!view || E.mode === "click") return;
    map.dragging.disable();
    dragStart = e.latlng;
    if (E.mode === "rectangle") rect = L.rectangle([e.latlng, e.latlng], {weight: 1, dashArray: "4 3"}).addTo(map);
    else brush(e.latlng);
  });
  map.on("mousemove", function (e) {
    if (!dragStart) return;
    if (rect) rect.setBounds([dragStart, e.latlng]);
    else brush(e.latlng);
  });
  map.on("mouseup", function (e) {
    if (!dragStart) return;
    if (rect) {
      const b = L.latLngBounds(dragStart, e.latlng), hit = [];
      view.units.forEach(function (u, i) { if (b.contains([u.lat, u.lon])) hit.push(i); });
      rect.remove();
      rect = null;
      toggle(hit, true);
    }
    dragStart = null;
    map.dragging.enable();
  });
  function brush(ll) {
    const p = map.latLngToContainerPoint(ll), hit = [];
    view.units.forEach(function (u, i) {
      if (!E.selected.has(i) && map.latLngToContainerPoint([u.lat, u.lon]).distanceTo(p) < 18) hit.push(i);
    });
    if (hit.length) toggle(hit, true);
  }

  el("edit-start").addEventListener("click", start);
  el("edit-to").addEventListener("change", preview);
  el("edit-override").addEventListener("change", preview);
  el("edit-move").addEventListener("click", move);
  el("edit-undo").addEventListener("click", undo);
  el("edit-redo").addEventListener("click", redo);
  el("edit-clear").addEventListener("click", function () { E.selected.clear(); refresh(); show(null); });
  el("edit-suggest").addEventListener("click", suggest);
  el("edit-save").addEventListener("click", save);
  el("edit-csv").addEventListener("click", exportCsv);
  el("edit-geojson").addEventListener("click", exportGeojson);
  document.querySelectorAll("input[name=edit-mode]").forEach(function (r) {
    r.addEventListener("change", function () { E.mode = r.value; });
  });
  document.addEventListener("keydown", function (ev) {
    if (!view || ev.target.tagName === "INPUT") return;
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "z") { ev.preventDefault(); undo(); }
    if ((ev.ctrlKey || ev.metaKey) && (ev.key === "y" || (ev.shiftKey && ev.key === "Z"))) { ev.preventDefault(); redo(); }
  });
  panel.hidden = false;
})();
