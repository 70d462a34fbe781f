/* The planning grid: edits, paste from Excel / Google Sheets, fill helpers, rows loaded as the page scrolls, and
   "Save" as one change set (a preview first, then the write). Plain JS, no build; loaded by grid.html only. */
(function () {
  "use strict";
  var table = document.getElementById("grid");
  if (!table) { return; }
  var body = document.body;
  var session = body.getAttribute("data-session") || "";
  var csrf = body.getAttribute("data-csrf") || "";
  var decimal = table.getAttribute("data-decimal") || ",";
  var periods = (table.getAttribute("data-periods") || "").split(",").filter(Boolean);
  var report = document.getElementById("grid-report");
  var focused = null;

  function send(method, url, data, done) {
    var xhr = method === "GET" ? window.b24get(url) : new XMLHttpRequest();
    if (method !== "GET") {
      xhr.open(method, url);
      if (session) { xhr.setRequestHeader("X-Frame-Session", session); }
      xhr.setRequestHeader("X-CSRF-Token", csrf);
    }
    xhr.onload = function () { done(xhr.status, xhr.responseText); };
    xhr.onerror = function () { done(0, ""); };
    xhr.send(data || null);
  }

  // ---- numbers as the person types them: the locale's decimal mark, thousands separators allowed
  function parse(text) {
    var t = String(text || "").replace(/[\s\u00a0\u202f']/g, "");
    if (!t) { return null; }
    if (decimal === ",") { t = t.replace(/\./g, "").replace(",", "."); } else { t = t.replace(/,/g, ""); }
    var n = Number(t);
    return isFinite(n) ? n : null;
  }
  function show(n) {
    if (n === null || !isFinite(n)) { return ""; }
    var s = (Math.round(n * 100) / 100).toFixed(2).replace(/\.?0+$/, "");
    return decimal === "," ? s.replace(".", ",") : s;
  }

  // ---- what changed
  function mark(input) {
    var changed = input.value.trim() !== (input.getAttribute("data-orig") || "");
    input.classList.toggle("dirty", changed);
    var count = table.querySelectorAll("input.cell.dirty, .grid-attr.dirty").length;
    var label = document.getElementById("grid-dirty");
    if (label) { label.textContent = count ? label.getAttribute("data-text").replace("%(count)s", count) : ""; }
  }
  table.addEventListener("input", function (ev) {
    if (ev.target.matches("input.cell, .grid-attr")) { mark(ev.target); }
  });
  table.addEventListener("change", function (ev) {
    if (ev.target.matches(".grid-attr")) { mark(ev.target); }
  });
  table.addEventListener("focusin", function (ev) {
    if (ev.target.matches("input.cell")) { focused = ev.target; }
  });

  function rows() { return Array.prototype.slice.call(table.querySelectorAll("tr.grid-row")); }
  function cellsOf(tr) { return Array.prototype.slice.call(tr.querySelectorAll("input.cell")); }
  function set(input, value) { input.value = value; mark(input); }

  // ---- paste a block (tab-separated rows) from the selected cell to the right and down
  table.addEventListener("paste", function (ev) {
    var target = ev.target;
    if (!target.matches || !target.matches("input.cell")) { return; }
    var text = (ev.clipboardData || window.clipboardData).getData("text");
    if (!/[\t\n]/.test(text)) { return; }
    ev.preventDefault();
    var lines = text.replace(/\r/g, "").replace(/\n+$/, "").split("\n");
    var all = rows(), tr = target.closest("tr");
    var r0 = all.indexOf(tr), c0 = cellsOf(tr).indexOf(target);
    lines.forEach(function (line, r) {
      var row = all[r0 + r];
      if (!row) { return; }
      var cells = cellsOf(row);
      line.split("\t").forEach(function (value, c) {
        if (cells[c0 + c]) { set(cells[c0 + c], value.trim()); }
      });
    });
  });

  // ---- fill helpers, on the selected cell's row
  function selectedRow() { return focused ? focused.closest("tr") : null; }
  function on(id, handler) { var el = document.getElementById(id); if (el) { el.addEventListener("click", handler); } }
  on("fill-right", function () {
    if (!focused) { return; }
    var cells = cellsOf(focused.closest("tr")), start = cells.indexOf(focused);
    cells.slice(start + 1).forEach(function (c) { set(c, focused.value.trim()); });
  });
  on("copy-last", function () {
    var tr = selectedRow();
    if (!tr) { return; }
    var pct = parse(document.getElementById("copy-pct").value) || 0;
    cellsOf(tr).forEach(function (c) {
      var last = parse(c.getAttribute("data-last"));
      if (last !== null) { set(c, show(last * (1 + pct / 100))); }
    });
  });
  function split(bySeason) {
    var tr = selectedRow(), total = parse(document.getElementById("split-total").value);
    if (!tr || total === null) { return; }
    var cells = cellsOf(tr);
    var weights = cells.map(function (c) { return bySeason ? (parse(c.getAttribute("data-last")) || 0) : 1; });
    var sum = weights.reduce(function (a, b) { return a + b; }, 0);
    if (!sum) { weights = cells.map(function () { return 1; }); sum = cells.length; }
    var given = 0;
    cells.forEach(function (c, i) {
      var share = i === cells.length - 1 ? total - given : Math.round(total * weights[i] / sum * 100) / 100;
      given += share;
      set(c, show(share));
    });
  }
  on("split-even", function () { split(false); });
  on("split-season", function () { split(true); });

  // ---- the change set: every changed row, as the import's wide layout
  function payload() {
    var out = [];
    rows().forEach(function (tr) {
      var attrs = {}, attrsChanged = false;
      tr.querySelectorAll(".grid-attr").forEach(function (a) {
        attrs[a.getAttribute("data-attr")] = a.value.trim();
        if (a.classList.contains("dirty")) { attrsChanged = true; }
      });
      var fresh = {}, edited = {}, anyFresh = false, anyEdited = false;
      cellsOf(tr).forEach(function (c) {
        var p = c.getAttribute("data-period"), isPlan = c.hasAttribute("data-plan");
        if (!(c.classList.contains("dirty") || (attrsChanged && isPlan && c.value.trim()))) { return; }
        if (isPlan) { edited[p] = c.value.trim(); anyEdited = true; } else { fresh[p] = c.value.trim(); anyFresh = true; }
      });
      var client = tr.getAttribute("data-client");
      if (anyFresh) { out.push(Object.assign({client: client, cells: fresh}, attrs)); }  // new cells take the row's attributes
      if (anyEdited) {
        out.push(Object.assign({client: client, cells: edited}, attrsChanged ? attrs : {}));  // a plan keeps its own unless the row's changed
      }
    });
    return JSON.stringify({periods: periods, rows: out});
  }
  function form(data) { var f = new FormData(); f.append("payload", data); return f; }
  function showReport(html) { report.innerHTML = html; if (window.b24fit) { window.b24fit(); } }
  var sent = null;
  on("grid-save", function () {
    sent = payload();
    showReport("…");
    send("POST", table.getAttribute("data-preview-url"), form(sent), function (status, html) { showReport(html); });
  });
  report.addEventListener("click", function (ev) {
    if (!ev.target.matches("#grid-confirm") || sent === null) { return; }
    ev.target.disabled = true;
    send("POST", table.getAttribute("data-save-url"), form(sent), function (status, html) {
      showReport(html);
      var done = report.querySelector("[data-complete='yes']");
      if (done) {  // what was written is the new starting point
        table.querySelectorAll("input.cell.dirty, .grid-attr.dirty").forEach(function (c) {
          c.setAttribute("data-orig", c.value.trim()); c.classList.remove("dirty");
        });
        mark(table.querySelector("input.cell") || document.createElement("input"));
      }
    });
  });

  // ---- more rows as the page scrolls
  function loadMore(sentinel) {
    if (sentinel.getAttribute("data-loading")) { return; }
    sentinel.setAttribute("data-loading", "1");
    send("GET", sentinel.getAttribute("data-more-url"), null, function (status, html) {
      if (status !== 200) { sentinel.removeAttribute("data-loading"); return; }
      var holder = document.createElement("tbody");
      holder.innerHTML = html;
      var parent = sentinel.parentNode;
      while (holder.firstChild) { parent.insertBefore(holder.firstChild, sentinel); }
      parent.removeChild(sentinel);
      watchMore();
    });
  }
  function watchMore() {
    var sentinel = table.querySelector("tr.grid-more");
    if (!sentinel) { return; }
    if (typeof IntersectionObserver !== "function") { loadMore(sentinel); return; }
    var seen = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) { seen.disconnect(); loadMore(sentinel); }
    }, {rootMargin: "400px"});
    seen.observe(sentinel);
  }
  watchMore();

  // ---- add a client: search, then an empty row
  var search = document.getElementById("grid-search"), results = document.getElementById("grid-search-results");
  var timer = null;
  if (search) {
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = search.value.trim();
        results.innerHTML = "";
        if (q.length < 2) { return; }
        send("GET", search.getAttribute("data-search-url") + "?q=" + encodeURIComponent(q), null, function (status, text) {
          if (status !== 200) { return; }
          JSON.parse(text).forEach(function (c) {
            if (table.querySelector("tr.grid-row[data-client='" + c.id + "']")) { return; }
            var b = document.createElement("button");
            b.type = "button"; b.className = "btn btn-link grid-add"; b.textContent = c.name;
            b.setAttribute("data-client", c.id);
            results.appendChild(b);
          });
        });
      }, 250);
    });
    results.addEventListener("click", function (ev) {
      var code = ev.target.getAttribute && ev.target.getAttribute("data-client");
      if (!code) { return; }
      send("GET", search.getAttribute("data-row-url") + "&client=" + encodeURIComponent(code), null, function (status, html) {
        if (status !== 200) { return; }
        var holder = document.createElement("tbody");
        holder.innerHTML = html;
        var tbody = document.getElementById("grid-body");
        while (holder.firstChild) { tbody.insertBefore(holder.firstChild, tbody.firstChild); }
        results.innerHTML = ""; search.value = "";
      });
    });
  }
})();
