/*
 * The sandbox portal page's side of the application frames (the parent of every app iframe).
 *
 * Each frame is rendered by the server as
 *   <div class="app-frame" data-sid=.. data-client-id=.. data-origin=.. data-installing=0|1>
 *     <form target="DOMAIN|PROTOCOL|APP_SID" action="HANDLER?DOMAIN=..&PROTOCOL=..&LANG=..&APP_SID=.." method="post">
 *       hidden AUTH_ID, AUTH_EXPIRES, REFRESH_ID, ... PLACEMENT, PLACEMENT_OPTIONS
 *     </form>
 *     <iframe name="DOMAIN|PROTOCOL|APP_SID"></iframe>
 *     <script type="application/json" class="frame-init">{...what BX24.init receives...}</script>
 *   </div>
 * The form is POSTed into the iframe when the frame becomes visible (tabs load on first click,
 * like Bitrix24). Messages from frames are accepted only from the frame's own window and origin.
 */
(function (window) {
  'use strict';

  var document = window.document;
  var frames = {};   // APP_SID -> {el, iframe, form, origin, init, clientId, installing}
  var sliderCloseCallbacks = [];

  function register(el) {
    var sid = el.getAttribute('data-sid');
    if (!sid || frames[sid]) { return; }
    var initEl = el.querySelector('script.frame-init');
    frames[sid] = {
      el: el,
      iframe: el.querySelector('iframe'),
      form: el.querySelector('form'),
      origin: el.getAttribute('data-origin'),
      clientId: el.getAttribute('data-client-id'),
      installing: el.getAttribute('data-installing') === '1',
      init: initEl ? JSON.parse(initEl.textContent) : {},
      loaded: false
    };
  }

  function load(sid) {
    var f = frames[sid];
    if (!f || f.loaded) { return; }
    f.loaded = true;
    f.form.submit();
  }

  function findBySource(source) {
    var sids = Object.keys(frames);
    for (var i = 0; i < sids.length; i++) {
      if (frames[sids[i]].iframe && frames[sids[i]].iframe.contentWindow === source) {
        return frames[sids[i]];
      }
    }
    return null;
  }

  function reply(frame, callback, result) {
    if (!callback) { return; }
    frame.iframe.contentWindow.postMessage({bx24: 'parent', callback: callback, result: result}, frame.origin);
  }

  function postForm(url, data) {
    var body = Object.keys(data).map(function (k) {
      return encodeURIComponent(k) + '=' + encodeURIComponent(data[k]);
    }).join('&');
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: body
    });
  }

  /* ---------- slider (Bitrix24 opens paths and applications in a side panel) ---------- */

  function inSlider() {
    try {
      return window.parent !== window && !!window.parent.B24Shell;
    } catch (e) {
      return false;
    }
  }

  function openSlider(url, onClose) {
    if (inSlider()) {
      return window.parent.B24Shell.openSlider(url, onClose);
    }
    var slider = document.getElementById('b24-slider');
    slider.querySelector('iframe').src = url;
    slider.classList.add('open');
    sliderCloseCallbacks.push(onClose || null);
  }

  function closeSlider() {
    var slider = document.getElementById('b24-slider');
    if (!slider || !slider.classList.contains('open')) { return; }
    slider.classList.remove('open');
    slider.querySelector('iframe').src = 'about:blank';
    var cb = sliderCloseCallbacks.pop();
    if (typeof cb === 'function') { cb(); }
  }

  function withQuery(path, extra) {
    return path + (path.indexOf('?') < 0 ? '?' : '&') + extra;
  }

  var OPEN_PATH_PREFIXES = ['/crm/deal/', '/crm/lead/', '/crm/contact/', '/crm/company/', '/crm/type/',
    '/marketplace/', '/company/personal/user/', '/workgroups/group/'];

  /* ---------- commands from frames ---------- */

  var commands = {
    getInitData: function (frame, params, cb) { reply(frame, cb, frame.init); },

    refreshAuth: function (frame, params, cb) {
      postForm('/sandbox/shell/frame-auth', {
        client_id: frame.clientId, placement: frame.init.PLACEMENT,
        options: JSON.stringify(frame.init.PLACEMENT_OPTIONS || {})
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (auth) {
        if (auth) {
          frame.init.AUTH_ID = auth.AUTH_ID;
          frame.init.REFRESH_ID = auth.REFRESH_ID;
          frame.init.AUTH_EXPIRES = auth.AUTH_EXPIRES;
        }
        reply(frame, cb, auth || {});
      });
    },

    setInstallFinish: function (frame) {
      if (!frame.installing) { return; }
      frame.installing = false;
      postForm('/sandbox/apps/' + encodeURIComponent(frame.clientId) + '/install-finish',
        {APP_SID: frame.init.APP_SID}).then(function () {
        window.location.reload();
      });
    },

    resizeWindow: function (frame, params, cb) {
      var width = params.width, height = parseInt(params.height, 10);
      if (height > 0) {
        frame.iframe.style.minHeight = '0';
        frame.iframe.style.height = height + 'px';
      }
      if (width) { frame.iframe.style.width = /^\d+$/.test(String(width)) ? width + 'px' : String(width); }
      reply(frame, cb, {width: width, height: height});
    },

    setTitle: function (frame, params, cb) {
      document.title = params.title;
      var h = document.querySelector('.page-title');
      if (h && frame.init.PLACEMENT === 'DEFAULT') { h.textContent = params.title; }
      reply(frame, cb, {});
    },

    setScroll: function (frame, params, cb) {
      window.scrollTo(0, parseInt(params.scroll, 10) || 0);
      reply(frame, cb, {});
    },

    openPath: function (frame, params, cb) {
      var path = String(params.path || '');
      var ok = path.charAt(0) === '/' && path.charAt(1) !== '/' && OPEN_PATH_PREFIXES.some(function (p) {
        return path.indexOf(p) === 0;
      });
      if (!ok) {
        reply(frame, cb, {result: 'error', errorCode: 'PATH_NOT_AVAILABLE'});
        return;
      }
      var url = withQuery(path, 'from=rest_placement&from_app=' + encodeURIComponent(frame.clientId) + '&IFRAME=Y');
      openSlider(url, function () { reply(frame, cb, {result: 'close'}); });
    },

    openApplication: function (frame, params, cb) {
      var url = '/marketplace/app/' + encodeURIComponent(frame.clientId) + '/?IFRAME=Y&PARAMS=' +
        encodeURIComponent(JSON.stringify(params.params || {}));
      openSlider(url, function () { reply(frame, cb, {}); });
    },

    closeApplication: function (frame, params, cb) {
      reply(frame, cb, {});
      if (inSlider()) { window.parent.B24Shell.closeSlider(); }
    },

    reloadWindow: function (frame, params, cb) {
      frame.form.submit();
      reply(frame, cb, {});
    },

    getInterface: function (frame, params, cb) {
      var tab = /_DETAIL_TAB$/.test(frame.init.PLACEMENT || '');
      reply(frame, cb, {command: tab ? ['reloadData'] : [], event: []});
    },

    placementCall: function (frame, params, cb) {
      if (params.command === 'reloadData' && /_DETAIL_TAB$/.test(frame.init.PLACEMENT || '')) {
        reloadEntityData().then(function () { reply(frame, cb, {}); });
      }
      // unknown commands are silently ignored, like Bitrix24 does
    },

    placementBindEvent: function () {}
  };

  function reloadEntityData() {
    var box = document.getElementById('entity-data');
    if (!box) { return Promise.resolve(); }
    return fetch(window.location.href, {credentials: 'same-origin'}).then(function (r) {
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, 'text/html');
      var fresh = doc.getElementById('entity-data');
      if (fresh) { box.innerHTML = fresh.innerHTML; }
    });
  }

  window.addEventListener('message', function (event) {
    var msg = event.data;
    if (!msg || msg.bx24 !== 'frame') { return; }
    var frame = findBySource(event.source);
    if (!frame || event.origin !== frame.origin || msg.appSid !== frame.init.APP_SID) { return; }
    var handler = commands[msg.command];
    if (handler) { handler(frame, msg.params || {}, msg.callback); }
  });

  /* ---------- tabs ---------- */

  function activateTab(name) {
    var tabs = document.querySelectorAll('.card-tabs [data-tab]');
    var found = false;
    tabs.forEach(function (t) { if (t.getAttribute('data-tab') === name) { found = true; } });
    if (!found) { return; }
    tabs.forEach(function (t) { t.classList.toggle('active', t.getAttribute('data-tab') === name); });
    document.querySelectorAll('.tab-panel').forEach(function (p) {
      var on = p.getAttribute('data-panel') === name;
      p.hidden = !on;
      if (on) {
        p.querySelectorAll('.app-frame').forEach(function (el) { load(el.getAttribute('data-sid')); });
      }
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('.app-frame').forEach(register);
    document.querySelectorAll('.card-tabs [data-tab]').forEach(function (t) {
      t.addEventListener('click', function (e) {
        e.preventDefault();
        activateTab(t.getAttribute('data-tab'));
        if (window.history.replaceState) {
          window.history.replaceState(null, '', '#' + t.getAttribute('data-tab'));
        }
      });
    });
    // frames outside tabs (the app page) load at once; a tab named in the hash opens
    document.querySelectorAll('.app-frame').forEach(function (el) {
      if (!el.closest('.tab-panel')) { load(el.getAttribute('data-sid')); }
    });
    if (window.location.hash) { activateTab(window.location.hash.slice(1)); }
    document.querySelectorAll('select[data-autosubmit]').forEach(function (s) {
      s.addEventListener('change', function () { s.form.submit(); });
    });
    var close = document.querySelector('#b24-slider .slider-close');
    if (close) { close.addEventListener('click', closeSlider); }
    document.querySelectorAll('a[data-slider]').forEach(function (a) {
      a.addEventListener('click', function (e) {
        e.preventDefault();
        openSlider(withQuery(a.getAttribute('href'), 'IFRAME=Y'));
      });
    });
  });

  window.B24Shell = {openSlider: openSlider, closeSlider: closeSlider, frames: frames, activateTab: activateTab};
})(window);
