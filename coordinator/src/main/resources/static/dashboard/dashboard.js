// fedlora dashboard: plain JS, no dependencies. Reads the admin API (/api/v1) with the X-API-Key header; the key is
// kept in sessionStorage (this tab only), never in a URL. Everything the API returns is written with textContent.
(function () {
  "use strict";
  var KEY_STORE = "fedlora.apiKey";
  var POLL_MS = 2000;
  var SVG = "http://www.w3.org/2000/svg";
  var selected = null; // federation id shown below the list
  var shown = {}; // what each view last rendered (JSON), so an unchanged view is not redrawn every poll
  var timer = null;
  var generation = 0; // bumped when the key changes: answers to requests sent with an older key are dropped

  function $(id) { return document.getElementById(id); }
  function key() { return sessionStorage.getItem(KEY_STORE); }

  function setState(text, kind) {
    var s = $("auth-state");
    s.textContent = text;
    s.className = "state" + (kind ? " " + kind : "");
  }

  function showData(on) {
    $("data").hidden = !on;
    if (!on) {
      ["federations", "rounds", "clients", "models"].forEach(function (t) { clear($(t).tBodies[0]); });
      ["chart-eval-loss", "chart-eval-accuracy", "chart-errors"].forEach(function (c) { clear($(c)); });
      $("federation").hidden = true;
      shown = {};
    }
  }

  function clear(el) { while (el.firstChild) { el.removeChild(el.firstChild); } }

  /** Thrown for 401: the key is missing or wrong. */
  function KeyRejected(status) { this.status = status; }

  function api(path) {
    return fetch("/api/v1/" + path, { headers: { "X-API-Key": key() || "", "Accept": "application/json" }, cache: "no-store" })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { throw new KeyRejected(r.status); }
        if (!r.ok) {
          return r.text().then(function (t) {
            var detail = t;
            try { detail = JSON.parse(t).detail || t; } catch (e) { /* not JSON */ }
            throw new Error("GET /api/v1/" + path + " answered " + r.status + ": " + detail);
          });
        }
        return r.json();
      });
  }

  // ---- formatting -------------------------------------------------------------------------------------------
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function time(iso) {
    if (!iso) { return "-"; }
    var d = new Date(iso);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":"
      + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function ago(iso) {
    if (!iso) { return "never"; }
    var s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    var rel = s < 90 ? s + " s ago" : s < 5400 ? Math.round(s / 60) + " min ago" : Math.round(s / 3600) + " h ago";
    return time(iso) + " (" + rel + ")";
  }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }
  function sci(v) { return num(v) === null ? "-" : v === 0 ? "0" : v.toExponential(2); }
  function fixed(v, d) { return num(v) === null ? "-" : v.toFixed(d); }
  function pct(v) { return num(v) === null ? "-" : (v * 100).toFixed(1) + " %"; }
  function ms(v) { return num(v) === null ? "-" : Math.round(v) + " ms"; }
  function bytes(v) {
    if (num(v) === null) { return "-"; }
    var u = ["B", "KiB", "MiB", "GiB"], i = 0;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + u[i];
  }

  function row(tbody, cells, numeric) {
    var tr = document.createElement("tr");
    cells.forEach(function (c, i) {
      var td = document.createElement("td");
      if (c instanceof Node) { td.appendChild(c); } else { td.textContent = c === null || c === undefined ? "-" : String(c); }
      if (numeric && numeric.indexOf(i) >= 0) { td.className = "num"; }
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
    return tr;
  }

  function badge(text) {
    var b = document.createElement("span");
    b.className = "badge " + text;
    b.textContent = text;
    return b;
  }

  // ---- charts (inline SVG) ----------------------------------------------------------------------------------
  function el(name, attrs, text) {
    var e = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  /**
   * Draws series of {round, value} points; log: log10 y axis (values <= 0 sit on the axis floor, their tooltip says
   * the real value); format: tick and tooltip text. Each point is a circle.point with data-series and data-round.
   */
  function chart(svg, series, opts) {
    clear(svg);
    var vb = svg.viewBox.baseVal, W = vb.width, H = vb.height, L = 62, R = 16, T = 12, B = 34;
    var all = [];
    series.forEach(function (s) { s.points.forEach(function (p) { all.push(p); }); });
    if (all.length === 0) {
      svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", "class": "empty" }, opts.empty));
      return;
    }
    var rounds = all.map(function (p) { return p.round; });
    var x0 = Math.min.apply(null, rounds), x1 = Math.max.apply(null, rounds);
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    var ys = all.map(function (p) { return p.value; }).filter(function (v) { return !opts.log || v > 0; });
    var y0, y1;
    if (opts.log) {
      y0 = ys.length ? Math.floor(Math.log10(Math.min.apply(null, ys))) : -8;
      y1 = ys.length ? Math.ceil(Math.log10(Math.max.apply(null, ys))) : 0;
      if (y0 === y1) { y0 -= 1; y1 += 1; }
    } else {
      y0 = opts.min !== undefined ? opts.min : Math.min.apply(null, ys);
      y1 = opts.max !== undefined ? opts.max : Math.max.apply(null, ys);
      if (opts.min === undefined) { var padY = (y1 - y0) * 0.1 || Math.abs(y1) * 0.1 || 1; y0 -= padY; y1 += padY; }
    }
    function sx(r) { return L + (r - x0) / (x1 - x0) * (W - L - R); }
    function sy(v) {
      var t = opts.log ? (v > 0 ? Math.log10(v) : y0) : v;
      return T + (1 - (t - y0) / (y1 - y0)) * (H - T - B);
    }
    // y grid and ticks
    var ticks = [];
    if (opts.log) {
      var step = Math.max(1, Math.ceil((y1 - y0) / 6));
      for (var e = y0; e <= y1; e += step) { ticks.push(Math.pow(10, e)); }
    } else {
      for (var i = 0; i <= 4; i++) { ticks.push(y0 + (y1 - y0) * i / 4); }
    }
    ticks.forEach(function (v) {
      var y = sy(v);
      svg.appendChild(el("line", { x1: L, x2: W - R, y1: y, y2: y, "class": "gridline" }));
      svg.appendChild(el("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, opts.tick(v)));
    });
    // x ticks: integer rounds
    var every = Math.max(1, Math.ceil((x1 - x0) / 12));
    for (var r = Math.ceil(x0); r <= x1; r += every) {
      svg.appendChild(el("text", { x: sx(r), y: H - B + 16, "text-anchor": "middle" }, String(r)));
    }
    svg.appendChild(el("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, "round"));
    svg.appendChild(el("line", { x1: L, x2: L, y1: T, y2: H - B, "class": "axis" }));
    svg.appendChild(el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis" }));
    series.forEach(function (s, k) {
      var pts = s.points.slice().sort(function (a, b) { return a.round - b.round; });
      if (pts.length > 1) {
        var d = pts.map(function (p, j) { return (j ? "L" : "M") + sx(p.round).toFixed(1) + " " + sy(p.value).toFixed(1); }).join(" ");
        svg.appendChild(el("path", { d: d, "class": "line s" + k }));
      }
      pts.forEach(function (p) {
        var c = el("circle", { cx: sx(p.round), cy: sy(p.value), r: 4, "class": "point s" + k,
          "data-series": s.name, "data-round": p.round });
        c.appendChild(el("title", {}, s.label + ", round " + p.round + ": " + opts.format(p.value)));
        svg.appendChild(c);
      });
    });
  }

  // ---- views ------------------------------------------------------------------------------------------------
  /** True when {@code data} differs from what view {@code name} shows now (and records it). */
  function changed(name, data) {
    var json = JSON.stringify(data);
    if (shown[name] === json) { return false; }
    shown[name] = json;
    return true;
  }

  function renderFederations(list) {
    if (!changed("federations", [list, selected])) { return; }
    var tbody = $("federations").tBodies[0];
    clear(tbody);
    $("no-federations").hidden = list.length > 0;
    list.forEach(function (f) {
      var total = f.spec && f.spec.rounds;
      var id = document.createElement("code");
      id.textContent = f.id.substring(0, 8);
      id.title = f.id;
      var tr = row(tbody, [f.name, badge(f.status), f.spec ? f.spec.strategy : "-", f.currentRound + (total ? " / " + total : ""),
        time(f.createdAt), time(f.startedAt), time(f.endedAt), id], [3]);
      tr.dataset.id = f.id;
      if (f.id === selected) { tr.className = "selected"; }
      tr.addEventListener("click", function () { select(f.id); });
    });
  }

  /** The latest attempt of each round number. */
  function latestAttempts(rounds) {
    var by = {};
    rounds.forEach(function (r) { if (!by[r.round] || by[r.round].attempt <= r.attempt) { by[r.round] = r; } });
    return Object.keys(by).map(function (k) { return by[k]; }).sort(function (a, b) { return a.round - b.round; });
  }

  function points(rounds, field, scale) {
    return rounds.filter(function (r) { return num(r.metrics && r.metrics[field]) !== null; })
      .map(function (r) { return { round: r.round, value: r.metrics[field] * (scale || 1) }; });
  }

  function renderFederation(f, rounds, clients, models) {
    $("federation").hidden = false;
    renderClients(clients);
    if (!changed("federation", [f, rounds, models])) { return; }
    $("fed-name").textContent = f.name;
    var st = $("fed-status");
    st.textContent = f.status;
    st.className = "badge " + f.status;
    var s = f.spec || {};
    $("fed-summary").textContent = (s.strategy || "?") + ", " + (s.rounds || "?") + " rounds, LoRA r=" + s.rank + " alpha="
      + s.alpha + " on " + (s.targetModules || []).join(", ") + ", weighting " + s.weighting + "; id " + f.id
      + (f.statusReason ? "; " + f.statusReason : "");
    var fedex = s.strategy === "fedex";
    $("deviation-label").textContent = fedex ? "FedAvg deviation avoided" : "deviation from the exact average";

    var latest = latestAttempts(rounds);
    chart($("chart-eval-loss"), [{ name: "eval_loss", label: "eval loss", points: points(latest, "eval_loss") }],
      { tick: function (v) { return v.toFixed(3); }, format: function (v) { return v.toFixed(4) + " nats"; },
        empty: "no evaluation yet" });
    chart($("chart-eval-accuracy"), [{ name: "eval_accuracy", label: "eval accuracy", points: points(latest, "eval_accuracy", 100) }],
      { min: 0, max: 100, tick: function (v) { return v.toFixed(0) + " %"; }, format: function (v) { return v.toFixed(1) + " %"; },
        empty: "no evaluation yet" });
    chart($("chart-errors"), [
      { name: "exactness_rel_error", label: "exactness error", points: points(latest, "exactness_rel_error") },
      { name: "fedavg_deviation_rel", label: fedex ? "FedAvg deviation avoided" : "deviation from the exact average",
        points: points(latest, "fedavg_deviation_rel") }],
      { log: true, tick: function (v) { return v.toExponential(0); }, format: sci, empty: "no round aggregated yet" });

    var rt = $("rounds").tBodies[0];
    clear(rt);
    rounds.forEach(function (r) {
      var m = r.metrics || {};
      var reported = (r.participants || []).filter(function (p) { return p.numExamples !== null && p.numExamples !== undefined; }).length;
      row(rt, [r.round, r.attempt, badge(r.status), r.round === 0 ? "-" : reported + " / " + (r.participants || []).length,
        sci(m.exactness_rel_error), sci(m.fedavg_deviation_rel), fixed(m.eval_loss, 4), pct(m.eval_accuracy),
        ms(m.aggregate_ms), bytes(m.bytes_up), time(r.startedAt), time(r.endedAt)], [0, 1, 3, 4, 5, 6, 7, 8, 9]);
    });

    var mt = $("models").tBodies[0];
    clear(mt);
    models.slice().sort(function (a, b) { return a.version - b.version; }).forEach(function (v) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "export";
      b.textContent = "download zip";
      b.addEventListener("click", function () { exportModel(f, v.version); });
      row(mt, [v.version === 0 ? "0 (base model)" : v.version, v.residualKind, time(v.createdAt), b], [0]);
    });
  }

  /** Clients are redrawn every poll: "last heartbeat ... s ago" moves on even when nothing else changed. */
  function renderClients(clients) {
    var ct = $("clients").tBodies[0];
    clear(ct);
    clients.forEach(function (c) {
      row(ct, [c.name, c.state || "-", c.device || "-", ago(c.lastHeartbeat),
        c.cachedModelVersion === null || c.cachedModelVersion === undefined ? "-" : c.cachedModelVersion,
        time(c.enrolledAt), c.revokedAt ? time(c.revokedAt) : "-"], [4]);
    });
  }

  /** The export needs the key, so it is fetched with the header and saved from a blob. */
  function exportModel(f, version) {
    var state = $("export-state");
    state.textContent = "exporting version " + version + " ...";
    fetch("/api/v1/federations/" + encodeURIComponent(f.id) + "/models/" + version + "/export",
      { headers: { "X-API-Key": key() || "" } })
      .then(function (r) {
        if (r.status === 401) { throw new KeyRejected(401); }
        if (!r.ok) { throw new Error("export answered " + r.status); }
        return r.blob();
      })
      .then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = f.name.replace(/[^A-Za-z0-9._-]/g, "_") + "-v" + version + ".zip";
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
        state.textContent = "version " + version + " exported (" + bytes(blob.size) + ")";
      })
      .catch(failed);
  }

  function failed(e) {
    if (e instanceof KeyRejected) {
      sessionStorage.removeItem(KEY_STORE);
      showData(false);
      setState("Key rejected: the coordinator answered " + e.status + "; enter its admin API key", "bad");
      stop();
      return;
    }
    setState("Error: " + e.message, "bad");
  }

  function refresh() {
    if (!key()) { return Promise.resolve(); }
    var g = generation;
    function current() { return g === generation; }
    return api("federations").then(function (list) {
      if (!current()) { return; }
      setState("Connected: key accepted", "ok");
      showData(true);
      renderFederations(list);
      $("updated").textContent = "updated " + time(new Date().toISOString()) + ", every " + POLL_MS / 1000 + " s";
      if (!selected && list.length) { selected = list[list.length - 1].id; renderFederations(list); }
      if (!selected) { return; }
      var id = encodeURIComponent(selected);
      return Promise.all([api("federations/" + id), api("federations/" + id + "/rounds"),
        api("federations/" + id + "/clients"), api("federations/" + id + "/models")])
        .then(function (a) { if (current()) { renderFederation(a[0], a[1], a[2], a[3]); } });
    }).catch(function (e) { if (current()) { failed(e); } });
  }

  function select(id) {
    selected = id;
    history.replaceState(null, "", "#federation=" + encodeURIComponent(id));
    refresh();
  }

  function loop() {
    var g = generation;
    refresh().then(function () { if (key() && g === generation) { timer = setTimeout(loop, POLL_MS); } });
  }
  function stop() { generation++; if (timer) { clearTimeout(timer); timer = null; } }
  function start() { stop(); loop(); }

  $("key-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var v = $("api-key").value.trim();
    $("api-key").value = "";
    if (!v) { setState("API key required: enter the coordinator's admin API key", ""); return; }
    sessionStorage.setItem(KEY_STORE, v);
    setState("Checking key ...", "");
    start();
  });
  $("key-forget").addEventListener("click", function () {
    sessionStorage.removeItem(KEY_STORE);
    stop();
    showData(false);
    setState("API key required: enter the coordinator's admin API key", "");
  });

  var m = /#federation=([^&]+)/.exec(location.hash);
  if (m) { selected = decodeURIComponent(m[1]); }
  showData(false);
  if (key()) { setState("Checking key ...", ""); start(); } else { setState("API key required: enter the coordinator's admin API key", ""); }
})();
