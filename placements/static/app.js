/* Frame behaviour: BX24 sizing and portal links, the client picker, period presets. Plain JS, no build. */
(function () {
  "use strict";
  var body = document.body;
  var session = body.getAttribute("data-session") || "";
  var inFrame = typeof window.BX24 !== "undefined" && window.BX24 && typeof BX24.init === "function";

  // XHR carry the session in the X-Frame-Session header, never in the URL (access logs keep URLs); links
  // and forms still carry _s for browsers that drop third-party cookies inside frames.
  function sessionGet(url) {
    var target = url;
    try { var u = new URL(url, window.location.href); u.searchParams.delete("_s"); target = u.href; } catch (e) { target = url; }
    var xhr = new XMLHttpRequest();
    xhr.open("GET", target);
    if (session) { xhr.setRequestHeader("X-Frame-Session", session); }
    return xhr;
  }
  window.b24get = sessionGet;

  // The frame follows the content's real height, shrinking too (fitWindow measures scrollHeight, which
  // never gets smaller than the frame itself): the bottom of <main> plus the body's bottom margin.
  function contentHeight() {
    var main = document.querySelector("main") || body, style = window.getComputedStyle(body);
    return Math.ceil(main.getBoundingClientRect().bottom + window.pageYOffset + (parseFloat(style.marginBottom) || 0) + 2);
  }
  function fit() {
    if (!inFrame || typeof BX24.resizeWindow !== "function") { return; }
    try { BX24.resizeWindow("100%", Math.max(contentHeight(), 60)); } catch (e) { /* outside a portal */ }
  }
  window.b24fit = fit;
  if (inFrame) { BX24.init(function () { fit(); }); }
  window.addEventListener("load", fit);
  if (typeof MutationObserver === "function") {
    var fitTimer = null;
    new MutationObserver(function () { clearTimeout(fitTimer); fitTimer = setTimeout(fit, 50); })
      .observe(body, {childList: true, subtree: true, attributes: true, attributeFilter: ["class", "hidden", "style"]});
  }

  // Session expired (401 page): ask the portal to post the frame again (fresh AUTH_ID) once, and offer a
  // button doing the same. sessionStorage keeps a failing reload from looping (one try a minute).
  var recover = document.querySelector("[data-recover]");
  if (recover && window.parent !== window) {
    var reopen = function () {
      if (inFrame && typeof BX24.reloadWindow === "function") { BX24.init(function () { BX24.reloadWindow(); }); }
    };
    var button = document.getElementById("reopen");
    if (button && inFrame) { button.hidden = false; button.addEventListener("click", reopen); }
    var key = "b24plans-reopened-at", last = 0, store = null;
    try { store = window.sessionStorage; last = parseInt(store.getItem(key) || "0", 10) || 0; } catch (e) { store = null; }
    if (store && Date.now() - last > 60000) {
      try { store.setItem(key, String(Date.now())); reopen(); } catch (e) { /* no storage: the button remains */ }
    }
  }

  // After a session expiry the portal posts the frame again and it opens on its default view: the view the
  // person was on (and a plan form they had half typed) is kept in sessionStorage and brought back.
  keepTheView(recover);

  // Portal links open in the portal's slider (BX24.openPath); outside a portal they do nothing.
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest ? ev.target.closest("a.open-path") : null;
    if (!a) { return; }
    ev.preventDefault();
    if (inFrame && typeof BX24.openPath === "function") { BX24.openPath(a.getAttribute("data-path")); }
  });

  // Exports (F17): the button says "Preparando…" until the file is ready, then the browser saves it
  // (fetched as a blob); a second click meanwhile does nothing. Any non-200 answer is shown as a page.
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest ? ev.target.closest("a[data-export]") : null;
    if (!a || !window.URL || typeof URL.createObjectURL !== "function") { return; }
    ev.preventDefault();
    if (a.getAttribute("aria-busy") === "true") { return; }
    var label = a.textContent, href = a.href;
    a.setAttribute("aria-busy", "true"); a.classList.add("busy"); a.textContent = a.getAttribute("data-busy-text") || label;
    var done = function () { a.removeAttribute("aria-busy"); a.classList.remove("busy"); a.textContent = label; };
    var xhr = sessionGet(href);
    xhr.responseType = "blob";
    xhr.onload = function () {
      done();
      if (xhr.status !== 200) { window.location.href = href; return; }
      var disp = xhr.getResponseHeader("Content-Disposition") || "", name = "";
      var star = /filename\*=UTF-8''([^;]+)/i.exec(disp), quoted = /filename="?([^";]+)"?/i.exec(disp);
      try { name = star ? decodeURIComponent(star[1]) : (quoted ? quoted[1] : ""); } catch (e) { name = ""; }
      var url = URL.createObjectURL(xhr.response), save = document.createElement("a");
      save.href = url; save.download = name || href.split("?")[0].split("/").pop(); save.style.display = "none";
      body.appendChild(save); save.click();
      setTimeout(function () { URL.revokeObjectURL(url); body.removeChild(save); }, 2000);
    };
    xhr.onerror = function () { done(); };
    xhr.send();
  });

  // Forms that change something the user may regret ask first (data-confirm holds the localised question).
  document.addEventListener("submit", function (ev) {
    var form = ev.target, question = form.getAttribute ? form.getAttribute("data-confirm") : null;
    if (question && !window.confirm(question)) { ev.preventDefault(); }
  });

  function keepTheView(expired) {
    var store = null;
    try { store = window.sessionStorage; store.getItem("x"); } catch (e) { return; }
    var read = function (key) { try { return JSON.parse(store.getItem(key) || "null"); } catch (e) { return null; } };
    var write = function (key, value) { try { store.setItem(key, JSON.stringify(value)); } catch (e) { /* full */ } };
    var here = function () {
      var u = new URL(window.location.href); u.searchParams.delete("_s");
      return u.pathname + (u.searchParams.toString() ? "?" + u.searchParams.toString() : "");
    };
    // which frame a view belongs to: the deal tab, a client tab, or the app's page (a form opened from a tab
    // belongs to that tab)
    var area = function (path) {
      var back = ""; try { back = new URL(path, window.location.href).searchParams.get("back") || ""; } catch (e) { back = ""; }
      if (path.indexOf("/placements/deal") === 0 || back.indexOf("deal:") === 0) { return "deal"; }
      if (path.indexOf("/placements/client") === 0 || back.indexOf("client:") === 0) { return "client"; }
      return "main";
    };
    var posted = /^\/plans\/(save|\d+\/status)/.test(window.location.pathname);
    var draft = read("b24plans-draft");
    if (expired) {
      var last = read("b24plans-view"), target = null;
      if (posted && draft) { draft.restore = true; write("b24plans-draft", draft); target = draft.page; }
      else if (!posted) { target = here(); }
      else if (last) { target = last.path; }
      if (target) { write("b24plans-return", {path: target, at: Date.now()}); }
      return;
    }
    if (!session) { return; }
    var back = read("b24plans-return");
    if (back && Date.now() - back.at < 600000 && area(back.path) === area(here()) && back.path !== here()) {
      store.removeItem("b24plans-return");
      window.location.replace(back.path + (back.path.indexOf("?") < 0 ? "?" : "&") + "_s=" + encodeURIComponent(session));
      return;
    }
    if (back && area(back.path) === area(here())) { store.removeItem("b24plans-return"); }
    write("b24plans-view", {path: here(), at: Date.now()});
    var form = document.getElementById("plan-form");
    if (draft && draft.submitted && !draft.restore) { store.removeItem("b24plans-draft"); draft = null; }
    if (!form) { return; }
    var fields = function () {
      var out = {};
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || el.name === "_s" || el.name === "csrf_token" || el.name === "shown") { return; }
        if (el.type === "checkbox") { (out[el.name] = out[el.name] || []); if (el.checked) { out[el.name].push(el.value); } }
        else { out[el.name] = el.value; }
      });
      return out;
    };
    if (draft && draft.restore && draft.page === here()) {
      store.removeItem("b24plans-draft");
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || !(el.name in draft.fields) || el.name === "_s" || el.name === "csrf_token") { return; }
        var value = draft.fields[el.name];
        if (el.type === "checkbox") { el.checked = value.indexOf(el.value) >= 0; } else { el.value = value; }
      });
      var chosen = document.getElementById("client-chosen");
      if (chosen && draft.chip) { chosen.innerHTML = ""; var chip = document.createElement("span"); chip.className = "chip"; chip.textContent = draft.chip; chosen.appendChild(chip); }
      var note = form.getAttribute("data-restored");
      if (note) { var p = document.createElement("div"); p.className = "alert alert-success"; p.id = "draft-restored"; p.setAttribute("role", "status"); p.textContent = note; form.parentNode.insertBefore(p, form); }
    }
    var save = function (submitted) {
      var chosen = document.getElementById("client-chosen");
      write("b24plans-draft", {page: here(), fields: fields(), chip: chosen ? chosen.textContent.trim() : "", at: Date.now(), submitted: submitted});
    };
    form.addEventListener("input", function () { save(false); });
    form.addEventListener("change", function () { save(false); });
    form.addEventListener("submit", function () { save(true); });
  }

  function getJSON(url, done) {
    var xhr = sessionGet(url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () { var data = []; try { data = JSON.parse(xhr.responseText); } catch (e) { data = []; } done(data); };
    xhr.send();
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function iso(d) { return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()); }

  // Phones: the list starts compact; the choice is remembered in this browser.
  var toggle = document.getElementById("compact-toggle"), table = document.getElementById("plans");
  if (toggle && table) {
    var compactKey = "b24plans-compact", compact = true;
    try { compact = window.localStorage.getItem(compactKey) !== "0"; } catch (e) { compact = true; }
    var show = function () {
      table.classList.toggle("compact", compact);
      toggle.textContent = toggle.getAttribute(compact ? "data-full-text" : "data-compact-text");
      fit();
    };
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      compact = !compact;
      try { window.localStorage.setItem(compactKey, compact ? "1" : "0"); } catch (e) { /* private mode */ }
      show();
    });
    show();
  }

  // Filters: show the date inputs only for "custom".
  var filters = document.getElementById("filters");
  if (filters) {
    var sel = filters.querySelector("[data-period-select]");
    var sync = function () { filters.classList.toggle("show-custom", sel.value === "custom"); fit(); };
    sel.addEventListener("change", sync); sync();
  }

  // Plan form: period presets fill the dates; the client picker searches as you type.
  var preset = document.querySelector("[data-period-preset]");
  if (preset) {
    var begin = document.getElementById("begindate"), end = document.getElementById("closedate");
    // the dates on screen are the dates saved: a preset spans the month / quarter / year of the start
    var applyPreset = function () {
      var p = preset.value, a = begin.value ? new Date(begin.value + "T00:00:00") : new Date();
      if (p === "custom" || isNaN(a.getTime())) { return; }
      var first, last;
      if (p === "month") { first = new Date(a.getFullYear(), a.getMonth(), 1); last = new Date(a.getFullYear(), a.getMonth() + 1, 0); }
      if (p === "quarter") { var q = Math.floor(a.getMonth() / 3) * 3; first = new Date(a.getFullYear(), q, 1); last = new Date(a.getFullYear(), q + 3, 0); }
      if (p === "year") { first = new Date(a.getFullYear(), 0, 1); last = new Date(a.getFullYear(), 11, 31); }
      begin.value = iso(first); end.value = iso(last);
    };
    preset.addEventListener("change", applyPreset);
    begin.addEventListener("change", applyPreset);
    var markCustom = function () { preset.value = "custom"; };
    end.addEventListener("change", markCustom);
  }

  var picker = document.querySelector("[data-client-picker]");
  if (picker) {
    var search = document.getElementById("client-search"), results = document.getElementById("client-results");
    var hidden = document.getElementById("client"), chosen = document.getElementById("client-chosen");
    var dealList = document.getElementById("deal-list"), timer = null, seq = 0;
    var tpl = function (id) { var t = document.getElementById(id); return t ? t.innerHTML : ""; };
    var loadDeals = function (code) {
      getJSON(picker.getAttribute("data-deals-url") + "?client=" + encodeURIComponent(code) + "&plan=" + (picker.getAttribute("data-plan") || ""), function (deals) {
        dealList.innerHTML = "";
        if (!deals.length) { dealList.innerHTML = tpl("t-no-deals"); }
        deals.forEach(function (d) {
          var label = document.createElement("label"); label.className = "check";
          var box = document.createElement("input"); box.type = "checkbox"; box.name = "deals"; box.value = d.id; box.checked = !!d.linked;
          var shown = document.createElement("input"); shown.type = "hidden"; shown.name = "shown"; shown.value = d.id;
          label.appendChild(shown); label.appendChild(box);
          label.appendChild(document.createTextNode(" " + d.title + " · " + d.amount + " "));
          if (d.won) { var w = document.createElement("span"); w.innerHTML = tpl("t-won"); label.appendChild(w); }
          if (d.plan && !d.linked) { var o = document.createElement("span"); o.innerHTML = " " + tpl("t-other-plan"); label.appendChild(o); }
          dealList.appendChild(label);
        });
        fit();
      });
    };
    var choose = function (c) {
      clearTimeout(timer); seq++;  // a search still pending must not bring its list back under the box
      hidden.value = c.id; chosen.innerHTML = "";
      var chip = document.createElement("span"); chip.className = "chip";
      chip.textContent = c.name + " (" + tpl(c.kind === "company" ? "t-company" : "t-contact").trim() + ")";
      chosen.appendChild(chip); results.innerHTML = ""; search.value = "";
      loadDeals(c.id);
    };
    search.addEventListener("input", function () {
      clearTimeout(timer);
      var q = search.value.trim();
      if (q.length < 2) { results.innerHTML = ""; fit(); return; }
      timer = setTimeout(function () {
        var mine = ++seq;
        getJSON(picker.getAttribute("data-search-url") + "?q=" + encodeURIComponent(q), function (list) {
          if (mine !== seq) { return; }
          results.innerHTML = "";
          if (!list.length) {  // say so: an empty list under the box reads as "still searching"
            var none = document.createElement("li"); none.className = "muted"; none.id = "client-none";
            none.textContent = tpl("t-no-clients").trim().replace("%s", q); results.appendChild(none);
          }
          list.forEach(function (c) {
            var li = document.createElement("li"), b = document.createElement("button");
            b.type = "button"; b.setAttribute("data-client", c.id);
            b.textContent = c.name + " (" + tpl(c.kind === "company" ? "t-company" : "t-contact").trim() + ")";
            b.addEventListener("click", function () { choose(c); });
            li.appendChild(b); results.appendChild(li);
          });
          fit();
        });
      }, 250);
    });
  }
})();

/* Totals of every matching plan arrive with a second request, so paging never waits for them. */
(function () {
  "use strict";
  var box = document.querySelector("#totals[data-totals-src]");
  if (!box || typeof window.b24get !== "function") { return; }
  var xhr = window.b24get(box.getAttribute("data-totals-src"));
  xhr.onload = function () {
    if (xhr.status !== 200) { return; }
    var holder = document.createElement("div");
    holder.innerHTML = xhr.responseText;
    var fresh = holder.querySelector("#totals");
    if (fresh) { box.parentNode.replaceChild(fresh, box); }
    if (typeof window.b24fit === "function") { window.b24fit(); }
  };
  xhr.send();
})();

/* Live refresh (F21): while the page is visible, ask the app every 4 s whether the plans shown changed
   (the app answers from its own database: no portal calls); stop after 10 minutes or on any error. */
(function () {
  "use strict";
  var body = document.body, src = body.getAttribute("data-live-src"), target = body.getAttribute("data-live-reload");
  if (!src || !target || typeof window.b24get !== "function") { return; }
  var started = Date.now(), every = 4000, limit = 10 * 60 * 1000, busy = false, timer = null;
  function poll() {
    if (Date.now() - started > limit) { clearInterval(timer); return; }
    if (busy || document.visibilityState === "hidden") { return; }
    busy = true;
    var xhr = window.b24get(src);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      busy = false;
      if (xhr.status !== 200) { clearInterval(timer); return; }  // e.g. the session expired: the next click recovers
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = {}; }
      if (answer.changed) { clearInterval(timer); window.location.replace(target); }
    };
    xhr.onerror = function () { busy = false; };
    xhr.send();
  }
  timer = setInterval(poll, every);
})();
