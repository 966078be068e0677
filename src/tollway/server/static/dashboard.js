// tollway dashboard: fetches /dashboard/data.json and draws it. No dependencies, no network
// beyond this server. Money arrives as exact decimal strings and is rounded here as decimal
// strings (half-up, like tollway.money.format_usd), never through floats.
(function () {
  "use strict";

  var WINDOWS = ["1h", "24h", "7d", "all"];
  var REFRESH_MS = 30000;
  var SVG = "http://www.w3.org/2000/svg";
  var TOKEN_KEY = "tollway.dashboard.token";
  var params = new URLSearchParams(location.search);
  var compare = params.get("compare");
  // The admin token comes in the address's fragment (#token=...), which browsers never send to a
  // server, so it cannot land in an access log; it is kept for this tab in sessionStorage, taken
  // out of the address bar, and sent to data.json only as an Authorization header.
  var token = takeToken();
  var state = { window: params.get("since") || "24h", places: 6, busy: false };
  var dataUrl = location.pathname.replace(/\/+$/, "") + "/data.json";

  function takeToken() {
    var fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
    var given = fragment.get("token");
    if (given) {
      try { sessionStorage.setItem(TOKEN_KEY, given); } catch (e) { /* storage off: keep it in memory */ }
      fragment.delete("token");
      var rest = fragment.toString();
      history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
      return given;
    }
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  function useToken(value) {
    token = value || null;
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage off: keep it in memory */ }
  }

  function tokenForm() {
    var input = el("input", { type: "password", id: "token-input", autocomplete: "off",
      placeholder: "admin token", "aria-label": "Admin token" });
    var form = el("form", { class: "token-form", id: "token-form" }, input,
      el("button", { type: "submit" }, "Use token"));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      useToken(input.value.trim());
      load();
    });
    return form;
  }

  // ---- formatting -------------------------------------------------------------------------

  /** A decimal string ("0.0000407", "4.07E-8", "-12") rounded half-up to `places` digits, with
   * thousands separators; `shift` moves the point right first (2 for a percentage). */
  function fixed(text, places, shift) {
    var s = String(text).trim();
    var neg = s.charAt(0) === "-";
    if (neg || s.charAt(0) === "+") s = s.slice(1);
    var exp = shift || 0;
    var e = s.search(/[eE]/);
    if (e >= 0) {
      exp += parseInt(s.slice(e + 1), 10);
      s = s.slice(0, e);
    }
    var dot = s.indexOf(".");
    var digits = s.replace(".", "");
    var intLen = (dot < 0 ? s.length : dot) + exp;
    if (intLen < 1) {
      digits = "0".repeat(1 - intLen) + digits;
      intLen = 1;
    }
    var need = intLen + places;
    if (digits.length < need + 1) digits += "0".repeat(need + 1 - digits.length);
    var kept = digits.slice(0, need).split("").map(Number);
    if (Number(digits.charAt(need)) >= 5) {
      var i = kept.length - 1;
      for (; i >= 0; i--) {
        if (kept[i] === 9) kept[i] = 0;
        else { kept[i] += 1; break; }
      }
      if (i < 0) { kept.unshift(1); intLen += 1; }
    }
    var all = kept.join("");
    var whole = all.slice(0, intLen).replace(/^0+(?=\d)/, "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var frac = all.slice(intLen);
    var zero = /^[0,]*$/.test(whole) && /^0*$/.test(frac);
    return (neg && !zero ? "-" : "") + whole + (places > 0 ? "." + frac : "");
  }

  function usd(text, places) {
    var p = places === undefined ? state.places : places;
    var s = fixed(text, p);
    return s.charAt(0) === "-" ? "-$" + s.slice(1) : "$" + s;
  }

  function percent(rate) {
    return fixed(String(rate), 1, 2) + "%";
  }

  function count(n) {
    return fixed(String(n), 0);
  }

  /** Decimal places for money on this page: by the size of the total spend. */
  function placesFor(total) {
    var t = Math.abs(Number(total));
    return t >= 100 || t === 0 ? 2 : t >= 1 ? 4 : 6;
  }

  function shortUsd(v) {
    if (v === 0) return "$0";
    if (v >= 1000) return "$" + (v / 1000).toPrecision(3).replace(/\.?0+$/, "") + "k";
    if (v >= 1) return "$" + v.toFixed(v >= 100 ? 0 : 2);
    if (v >= 0.01 && Math.abs(v * 100 - Math.round(v * 100)) < 1e-9) return "$" + v.toFixed(2);
    if (v >= 1e-6) return "$" + String(Number(v.toPrecision(2)));
    return "$" + v.toExponential(1);
  }

  function clock(t, withDate) {
    var d = new Date(t * 1000);
    var hm = String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
    if (!withDate) return hm;
    var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    return months[d.getMonth()] + " " + d.getDate() + (withDate === "day" ? "" : " " + hm);
  }

  function duration(s) {
    if (s < 3600) return s / 60 + " min";
    if (s < 86400) return s / 3600 + " h";
    if (s < 604800) return s / 86400 + " d";
    return s / 604800 + " wk";
  }

  // ---- DOM helpers ------------------------------------------------------------------------

  function el(tag, attrs) {
    var node = document.createElement(tag);
    setAll(node, attrs);
    for (var i = 2; i < arguments.length; i++) add(node, arguments[i]);
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    setAll(node, attrs);
    for (var i = 2; i < arguments.length; i++) add(node, arguments[i]);
    return node;
  }

  function setAll(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
    });
  }

  function add(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { add(node, c); }); return; }
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }

  function fill(id) {
    var node = document.getElementById(id);
    while (node.firstChild) node.removeChild(node.firstChild);
    for (var i = 1; i < arguments.length; i++) add(node, arguments[i]);
    return node;
  }

  function setValue(id, text, raw) {
    var node = fill(id, text);
    node.setAttribute("data-raw", String(raw));
  }

  function meter(fraction, kind, tick) {
    var bar = el("span");
    bar.style.width = Math.max(0, Math.min(1, fraction)) * 100 + "%";
    var box = el("div", { class: "meter" + (kind ? " " + kind : "") }, bar);
    if (tick !== undefined) {
      var mark = el("i", { class: "tick" });
      mark.style.left = "calc(" + Math.max(0, Math.min(1, tick)) * 100 + "% - 1px)";
      box.appendChild(mark);
    }
    return box;
  }

  // ---- charts -----------------------------------------------------------------------------

  /** The top of the y axis and its number of gridlines: round tick values for any maximum. */
  function niceScale(v, integer) {
    if (integer && v <= 4) return { top: 4, ticks: 4 };
    if (!(v > 0)) return { top: 1, ticks: 4 };
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [[1, 4], [1.2, 4], [1.5, 3], [2, 4], [2.5, 5], [3, 3], [4, 4], [5, 5], [6, 3], [8, 4], [10, 5]];
    for (var i = 0; i < steps.length; i++) {
      var top = steps[i][0] * p;
      if (top >= v * (1 - 1e-9) && (!integer || Number.isInteger(top / steps[i][1]))) {
        return { top: top, ticks: steps[i][1] };
      }
    }
    return { top: 10 * p, ticks: 5 };
  }

  /** Every bucket of the window, empty ones included, oldest first. */
  function buckets(data) {
    var size = data.bucket_s;
    var byStart = {};
    data.summary.timeline.forEach(function (b) { byStart[b.t] = b; });
    var first = Math.floor(data.start / size) * size;
    var last = Math.floor(data.now / size) * size;
    var out = [];
    for (var t = first; t <= last; t += size) {
      out.push(byStart[t] || { t: t, requests: 0, matched: 0, fallback: 0, spend_usd: "0" });
    }
    return out;
  }

  /** Bars over time. `series`: [{cls, label, value(bucket) -> number}] stacked bottom-up. */
  function barChart(id, rows, bucketS, series, tickLabel, tipValue) {
    var W = 600, H = 210, L = 46, R = 8, T = 10, B = 24;
    var plotW = W - L - R, plotH = H - T - B;
    var totals = rows.map(function (r) {
      return series.reduce(function (s, x) { return s + x.value(r); }, 0);
    });
    var scale = niceScale(Math.max.apply(null, totals.concat([0])), series[0].integer);
    var top = scale.top, ticks = scale.ticks;
    var root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": id });
    for (var i = 0; i <= ticks; i++) {
      var v = (top * i) / ticks;
      var y = T + plotH - (plotH * i) / ticks;
      root.appendChild(svg("line", { class: i ? "gridline" : "baseline", x1: L, x2: W - R, y1: y, y2: y }));
      root.appendChild(svg("text", { class: "axis", x: L - 6, y: y + 3.5, "text-anchor": "end" }, tickLabel(v)));
    }
    var slot = plotW / Math.max(rows.length, 1);
    var barW = Math.max(1, slot * 0.72);
    var every = Math.max(1, Math.ceil(rows.length / 6));
    var lastDay = null;
    var labels = [];
    rows.forEach(function (r, idx) {
      var x = L + idx * slot + (slot - barW) / 2;
      var base = T + plotH;
      var tip = clock(r.t, bucketS >= 86400 ? "day" : true) + " (" + duration(bucketS) + ")";
      series.forEach(function (s) {
        var v = s.value(r);
        if (!(v > 0)) return;
        var h = Math.max(1, (plotH * v) / top);
        base -= h;
        root.appendChild(
          svg("rect", { class: s.cls, x: x.toFixed(2), y: base.toFixed(2), width: barW.toFixed(2),
            height: h.toFixed(2), rx: Math.min(2, barW / 3) },
          svg("title", null, tip + ": " + tipValue(s, r)))
        );
      });
      if ((rows.length - 1 - idx) % every === 0) labels.push({ x: x + barW / 2, t: r.t });
    });
    // Time labels: placed from the newest back (room for the longest form, "Nov 29 08:30"),
    // skipping any that would overlap; then written oldest first, with the date where it changes.
    var half = (bucketS >= 86400 ? 6 : 12) * 3.1;
    var leftmost = Infinity, placed = [];
    for (var j = labels.length - 1; j >= 0; j--) {
      var cx = Math.min(labels[j].x, W - 1 - half);
      if (cx + half > leftmost - 10) continue;
      leftmost = cx - half;
      placed.unshift({ x: cx, t: labels[j].t });
    }
    placed.forEach(function (p) {
      var day = new Date(p.t * 1000).toDateString();
      var text = bucketS >= 86400 ? clock(p.t, "day") : clock(p.t, day !== lastDay);
      lastDay = day;
      root.appendChild(svg("text", { class: "axis", x: p.x.toFixed(2), y: H - 7, "text-anchor": "middle" }, text));
    });
    fill(id, root);
  }

  // ---- sections ---------------------------------------------------------------------------

  function kpis(data) {
    var s = data.summary;
    var n = s.requests;
    var fallback = Math.round(s.fallback_rate * n);
    var errors = Math.round(s.error_rate * n);
    setValue("v-requests", count(n), n);
    fill("s-requests", n ? "in " + (data.window === "all" ? "all recorded time" : "the last " + data.window)
      : "no calls in this window");
    setValue("v-match-rate", n ? percent(s.match_rate) : "–", s.match_rate);
    fill("s-match-rate", count(n - fallback) + " matched · target ≥ " +
      Math.round(data.match_rate_target * 100) + "%");
    setValue("v-fallback-rate", n ? percent(s.fallback_rate) : "–", s.fallback_rate);
    fill("s-fallback-rate", count(fallback) + " sent to fallback_models");
    setValue("v-error-rate", n ? percent(s.error_rate) : "–", s.error_rate);
    fill("s-error-rate", count(errors) + (errors === 1 ? " call failed" : " calls failed"));
    setValue("v-spend", usd(s.spend_usd), s.spend_usd);
    fill("s-spend", n ? usd(String(Number(s.spend_usd) / n), 8) + " per request" : "");
    setValue("v-cache-savings", usd(s.cache.savings_usd), s.cache.savings_usd);
    fill("s-cache-savings", count(s.cache.cached_tokens) + " cached tokens");

    var match = document.getElementById("k-match");
    var target = data.match_rate_target;
    match.className = "kpi" + (n ? (s.match_rate >= target ? " good" : " warn") : "");
    var errorCard = document.getElementById("v-error-rate").parentNode;
    errorCard.className = "kpi" + (s.error_rate >= 0.05 ? " bad" : errors ? " warn" : "");

    var hint = document.getElementById("match-hint");
    hint.hidden = !n;
    if (!n) return;
    if (s.match_rate < target) {
      hint.className = "notice warn";
      fill("match-hint", el("strong", null, "Match rate " + percent(s.match_rate) + " is under " +
        Math.round(target * 100) + "%."), " Under 90% usually means the task descriptions are vague or overlap, so " +
        "prompts fall through to the fallback models. Sharpen or split the descriptions of the routes " +
        "that should have caught them, then measure with ", el("code", null, "tollway eval"), ".");
    } else {
      hint.className = "notice good";
      fill("match-hint", el("strong", null, "Match rate " + percent(s.match_rate) + "."),
        " At or above " + Math.round(target * 100) + "%: the task descriptions cover this traffic.");
    }
  }

  function charts(data) {
    var rows = buckets(data);
    barChart("chart-requests", rows, data.bucket_s, [
      { cls: "matched", label: "matched", integer: true, value: function (r) { return r.matched; } },
      { cls: "fallback", label: "fallback", value: function (r) { return r.fallback; } },
    ], function (v) { return String(Math.round(v * 100) / 100); },
    function (s, r) { return count(s.value(r)) + " " + s.label; });
    barChart("chart-spend", rows, data.bucket_s, [
      { cls: "spend", label: "spend", value: function (r) { return Number(r.spend_usd); } },
    ], shortUsd, function (s, r) { return usd(r.spend_usd); });
  }

  function breakdown(id, groups, total, kind) {
    var names = Object.keys(groups);
    if (!names.length) { fill(id, el("div", { class: "empty" }, "No calls in this window")); return; }
    var most = Math.max.apply(null, names.map(function (k) { return groups[k].requests; }));
    var rows = names.map(function (name) {
      var g = groups[name];
      var isFallback = kind === "route" && name === "fallback";
      var none = kind === "model" && name === "(none)";
      return el("tr", { "data-name": name },
        el("td", { class: "name", title: none ? "calls that failed before any model served them" : name },
          el("div", { class: "label" + (isFallback ? " fallback" : none ? " dim" : "") }, none ? "(none: failed)" : name),
          meter(g.requests / most, isFallback ? "fallback" : "")),
        el("td", { class: "num" }, count(g.requests)),
        el("td", { class: "num dim" }, percent(total ? g.requests / total : 0)),
        el("td", { class: "num", "data-raw": g.spend_usd }, usd(g.spend_usd)));
    });
    fill(id, el("table", { class: "stacked" },
      el("thead", null, el("tr", null, el("th", null, kind), el("th", { class: "num" }, "requests"),
        el("th", { class: "num" }, "share"), el("th", { class: "num" }, "spend"))),
      el("tbody", null, rows)));
  }

  function counterfactual(data) {
    var s = data.summary;
    var models = Object.keys(s.counterfactual);
    if (!s.requests || !models.length) {
      fill("counterfactual", el("div", { class: "empty" }, "No served calls to compare"));
      fill("counterfactual-headline", "The same traffic, every call on one model (same tokens, no prompt cache).");
      return;
    }
    var actual = Number(s.spend_usd);
    var entries = models.map(function (m) { return { model: m, cost: s.counterfactual[m] }; });
    entries.sort(function (a, b) { return Number(b.cost) - Number(a.cost); });
    var most = Math.max(actual, Number(entries[0].cost)) || 1;
    var dearest = entries[0];
    var saved = Number(dearest.cost) - actual;
    var headline = ["This traffic on ", el("strong", null, dearest.model), " would have cost ",
      el("strong", null, usd(dearest.cost)), "; routed, it cost ", el("strong", null, usd(s.spend_usd))];
    if (saved > 0 && Number(dearest.cost) > 0) {
      headline.push(": routing saved ", el("strong", { class: "saved" },
        percent(String(saved / Number(dearest.cost)))), ".");
    } else {
      headline.push(".");
    }
    fill("counterfactual-headline", headline);
    var rows = [el("tr", { class: "actual" },
      el("td", { class: "name" }, "routed (actual)"),
      el("td", { class: "bar" }, meter(actual / most, "actual")),
      el("td", { class: "num", "data-raw": s.spend_usd }, usd(s.spend_usd)),
      el("td", { class: "num dim" }, "—"))];
    entries.forEach(function (e) {
      var delta = Number(e.cost) - actual;
      var verdict = delta >= 0
        ? el("span", { class: "saved" }, "saved " + usd(String(delta)))
        : el("span", { class: "dearer" }, usd(String(-delta)) + " less");
      rows.push(el("tr", { "data-model": e.model },
        el("td", { class: "name", title: e.model }, e.model),
        el("td", { class: "bar" }, meter(Number(e.cost) / most, "spend")),
        el("td", { class: "num", "data-raw": e.cost }, usd(e.cost)),
        el("td", { class: "num" }, verdict)));
    });
    fill("counterfactual", el("table", null,
      el("thead", null, el("tr", null, el("th", null, "all calls on"), el("th", null, "cost"),
        el("th", { class: "num" }, "would cost"), el("th", { class: "num" }, "routing"))),
      el("tbody", null, rows)));
  }

  function estimateError(data) {
    var groups = data.summary.estimate_error;
    var keys = Object.keys(groups);
    if (!keys.length) { fill("estimate-error", el("div", { class: "empty" }, "No settled calls with an estimate")); return; }
    var scale = Math.max(1.25, Math.max.apply(null, keys.map(function (k) { return groups[k].mean_ratio; })));
    var rows = keys.map(function (k) {
      var g = groups[k];
      var slash = k.indexOf("/");
      return el("tr", { "data-key": k },
        el("td", { class: "name", title: k + " (the mark is 1.0: settled = estimate)" },
          el("div", { class: "label" }, k.slice(0, slash), el("span", { class: "dim" }, " / " + k.slice(slash + 1))),
          meter(g.mean_ratio / scale, g.mean_ratio > 1 ? "fallback" : "", 1 / scale)),
        el("td", { class: "num" }, g.mean_ratio.toFixed(2)),
        el("td", { class: "num" }, count(g.calls)),
        el("td", { class: "num" }, el("span", { class: "tag " + (g.over_estimate ? "bad" : "ok") }, count(g.over_estimate))));
    });
    fill("estimate-error", el("table", { class: "stacked" },
      el("thead", null, el("tr", null, el("th", null, "route / model · settled ÷ estimate"),
        el("th", { class: "num" }, "mean"), el("th", { class: "num" }, "calls"), el("th", { class: "num" }, "over"))),
      el("tbody", null, rows)));
  }

  function render(data) {
    var s = data.summary;
    state.places = placesFor(s.spend_usd);
    kpis(data);
    charts(data);
    breakdown("by-route", s.by_route, s.requests, "route");
    breakdown("by-model", s.by_model, s.requests, "model");
    breakdown("by-tenant", s.by_tenant, s.requests, "tenant");
    counterfactual(data);
    estimateError(data);
    var routers = data.routers.length ? " · " + data.routers.map(function (r) { return "router:" + r; }).join(", ") : "";
    fill("status", "Updated " + clock(data.now) + " · " + duration(data.bucket_s) + " buckets" + routers);
    document.body.setAttribute("data-state", s.requests ? "ready" : "empty");
  }

  // ---- loading ----------------------------------------------------------------------------

  function showError(message) {
    var box = fill("error", message);
    box.hidden = false;
    fill("status", "Not loaded");
    document.body.setAttribute("data-state", "error");
  }

  function load() {
    if (state.busy) return;
    state.busy = true;
    var q = new URLSearchParams({ since: state.window });
    if (compare) q.set("compare", compare);
    var headers = token ? { Authorization: "Bearer " + token } : {};
    fetch(dataUrl + "?" + q.toString(), { headers: headers, cache: "no-store", credentials: "omit" })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, status: response.status, body: body }; });
      })
      .then(function (r) {
        if (!r.ok) {
          var msg = r.body && r.body.error ? r.body.error.message : "HTTP " + r.status;
          if (r.status === 401 || r.status === 403) {
            if (token) useToken(null);  // a wrong token is not worth keeping
            showError([el("strong", null, "Not authorised. "), msg, " ",
              el("span", null, "Open /dashboard#token=<admin token>, or enter it here:"), tokenForm()]);
            document.body.setAttribute("data-state", "unauthorized");
          } else {
            showError([el("strong", null, "Could not load the data. "), msg]);
          }
          return;
        }
        document.getElementById("error").hidden = true;
        render(r.body);
      })
      .catch(function (err) { showError([el("strong", null, "Could not reach the server. "), String(err)]); })
      .then(function () { state.busy = false; });
  }

  function selectWindow(w) {
    state.window = w;
    Array.prototype.forEach.call(document.querySelectorAll("#windows button"), function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-window") === w));
    });
    params.set("since", w);
    params.delete("token");  // never put a token back into the address
    history.replaceState(null, "", location.pathname + "?" + params.toString() + location.hash);
  }

  document.getElementById("windows").addEventListener("click", function (ev) {
    var w = ev.target && ev.target.getAttribute && ev.target.getAttribute("data-window");
    if (!w) return;
    selectWindow(w);
    load();
  });
  document.getElementById("refresh").addEventListener("click", load);
  setInterval(function () {
    // Not while the page waits for a token: a reload would clear what is being typed.
    if (!document.hidden && document.body.getAttribute("data-state") !== "unauthorized") load();
  }, REFRESH_MS);

  if (WINDOWS.indexOf(state.window) < 0 && !/^[1-9][0-9]*[mhd]$/.test(state.window)) state.window = "24h";
  selectWindow(state.window);
  load();
})();
