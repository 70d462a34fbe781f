/*
 * BX24 for the sandbox portal: the browser library an application frame loads.
 *
 * Written for the sandbox from the public documentation (sdk/bx24-js-sdk/**,
 * api-reference/widgets/ui-interaction/**); it is not Bitrix24's own script.
 *
 * How it works, like the real library:
 *  - the portal page puts "DOMAIN|PROTOCOL|APP_SID" into the frame's window.name
 *    (the same values are in the handler URL's query);
 *  - the frame asks the parent for its parameters with window.postMessage, only to the
 *    portal's origin, and accepts answers only from window.parent with that origin;
 *  - REST calls go straight from the frame to PROTOCOL://DOMAIN/rest/{method}.json
 *    as PHP-bracket form posts with auth=ACCESS_TOKEN (CORS is open on the sandbox REST).
 */
(function (window) {
  'use strict';

  if (window.BX24) {
    return;
  }

  var document = window.document;

  function parseQuery(search) {
    var out = {};
    (search || '').replace(/^\?/, '').split('&').forEach(function (pair) {
      if (!pair) { return; }
      var i = pair.indexOf('=');
      var k = decodeURIComponent((i < 0 ? pair : pair.slice(0, i)).replace(/\+/g, ' '));
      out[k] = i < 0 ? '' : decodeURIComponent(pair.slice(i + 1).replace(/\+/g, ' '));
    });
    return out;
  }

  function frameParams() {
    var parts = (window.name || '').split('|');
    if (parts.length >= 3 && parts[0]) {
      return {DOMAIN: parts[0], PROTOCOL: parseInt(parts[1], 10) || 0, APP_SID: parts[2]};
    }
    var q = parseQuery(window.location.search);
    if (q.DOMAIN && q.APP_SID) {
      return {DOMAIN: q.DOMAIN, PROTOCOL: parseInt(q.PROTOCOL, 10) || 0, APP_SID: q.APP_SID};
    }
    return null;
  }

  var FRAME = window.parent !== window ? frameParams() : null;
  if (!FRAME) {
    window.BX24 = null;
    throw new Error('Unable to initialize Bitrix24 JS library!');
  }
  var PORTAL_ORIGIN = (FRAME.PROTOCOL ? 'https' : 'http') + '://' + FRAME.DOMAIN;

  /* ---------- messaging with the portal page ---------- */

  var callbacks = {};
  var callbackSeq = 0;
  var placementEvents = {};

  function send(command, params, callback) {
    var id = null;
    if (typeof callback === 'function') {
      id = 'cb' + (++callbackSeq);
      callbacks[id] = callback;
    }
    window.parent.postMessage({
      bx24: 'frame', command: command, params: params || {}, callback: id, appSid: FRAME.APP_SID
    }, PORTAL_ORIGIN);
  }

  window.addEventListener('message', function (event) {
    if (event.origin !== PORTAL_ORIGIN || event.source !== window.parent) {
      return;
    }
    var msg = event.data;
    if (!msg || msg.bx24 !== 'parent') {
      return;
    }
    if (msg.callback && callbacks[msg.callback]) {
      var cb = callbacks[msg.callback];
      delete callbacks[msg.callback];
      cb(msg.result);
    } else if (msg.event && placementEvents[msg.event]) {
      placementEvents[msg.event].forEach(function (cb) { cb(msg.data); });
    }
  });

  /* ---------- state ---------- */

  var PARAMS = null;       // what the portal sent: AUTH_ID, REFRESH_ID, AUTH_EXPIRES, LANG, ...
  var expiresAt = 0;       // ms since the epoch
  var initDone = false;
  var initRequested = false;
  var initHandlers = [];
  var readyHandlers = [];
  var domReady = document.readyState !== 'loading';
  var pending = [];        // REST calls made before init

  function runAll(list) {
    var copy = list.splice(0, list.length);
    copy.forEach(function (cb) {
      try { cb(); } catch (e) { setTimeout(function () { throw e; }, 0); }
    });
  }

  function applyAuth(data) {
    PARAMS.AUTH_ID = data.AUTH_ID;
    PARAMS.REFRESH_ID = data.REFRESH_ID;
    PARAMS.AUTH_EXPIRES = parseInt(data.AUTH_EXPIRES, 10) || 3600;
    expiresAt = Date.now() + PARAMS.AUTH_EXPIRES * 1000 - 10000;
  }

  function requestInit() {
    if (initRequested) { return; }
    initRequested = true;
    send('getInitData', {}, function (data) {
      PARAMS = data || {};
      applyAuth(PARAMS);
      initDone = true;
      runAll(initHandlers);
      var queued = pending.splice(0, pending.length);
      queued.forEach(function (fn) { fn(); });
    });
  }

  if (!domReady) {
    document.addEventListener('DOMContentLoaded', function () {
      domReady = true;
      runAll(readyHandlers);
    });
  }

  /* ---------- REST ---------- */

  function encodeParams(data, prefix, out) {
    out = out || [];
    if (data === null || data === undefined) {
      if (prefix) { out.push(prefix + '='); }
      return out;
    }
    if (typeof data === 'object' && !(data instanceof Date)) {
      Object.keys(data).forEach(function (key) {
        var name = prefix ? prefix + '[' + encodeURIComponent(key) + ']' : encodeURIComponent(key);
        encodeParams(data[key], name, out);
      });
      return out;
    }
    var value = data;
    if (value instanceof Date) { value = value.toISOString(); }
    if (value === true) { value = 'Y'; }
    if (value === false) { value = 'N'; }
    out.push(prefix + '=' + encodeURIComponent(value));
    return out;
  }

  function AjaxError(status, ex) {
    this.status = status;
    this.ex = ex;
  }
  AjaxError.prototype.getError = function () { return this.ex; };
  AjaxError.prototype.getStatus = function () { return this.status; };
  AjaxError.prototype.toString = function () {
    return this.ex.error + (this.ex.error_description ? ': ' + this.ex.error_description : '') +
      ' (' + this.status + ')';
  };

  function AjaxResult(answer, query, status) {
    this.answer = answer || {};
    this.query = query;
    this.status = status;
    if (this.answer.error) {
      this.answer.ex = {error: this.answer.error, error_description: this.answer.error_description || ''};
    }
  }
  AjaxResult.prototype.data = function () { return this.answer.result; };
  AjaxResult.prototype.error = function () {
    return this.answer.error ? new AjaxError(this.status, this.answer.ex) : undefined;
  };
  AjaxResult.prototype.error_description = function () { return this.answer.error_description; };
  AjaxResult.prototype.more = function () {
    return this.answer.next !== undefined && this.answer.next !== null && !isNaN(this.answer.next);
  };
  AjaxResult.prototype.total = function () { return parseInt(this.answer.total, 10) || 0; };
  AjaxResult.prototype.time = function () { return this.answer.time; };
  AjaxResult.prototype.next = function (cb) {
    if (!this.more() || !this.query) { return false; }
    var params = Object.assign({}, this.query.params, {start: this.answer.next});
    return call(this.query.method, params, cb || this.query.callback);
  };

  function restUrl(method) {
    return PORTAL_ORIGIN + '/rest/' + encodeURIComponent(method) + '.json';
  }

  function call(method, params, callback, retried) {
    var query = {method: method, params: params || {}, callback: callback};
    if (!initDone) {
      pending.push(function () { call(method, params, callback); });
      requestInit();
      return true;
    }
    if (!retried && Date.now() > expiresAt) {
      refresh(function () { call(method, params, callback, true); });
      return true;
    }
    var xhr = new XMLHttpRequest();
    xhr.open('POST', restUrl(method), true);
    xhr.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
    xhr.onload = function () {
      var answer;
      try {
        answer = JSON.parse(xhr.responseText);
      } catch (e) {
        answer = {error: 'ERROR_PARSE', error_description: 'Unable to parse the answer'};
      }
      if (answer.error === 'expired_token' && !retried) {
        refresh(function () { call(method, params, callback, true); });
        return;
      }
      if (typeof callback === 'function') {
        callback(new AjaxResult(answer, query, xhr.status));
      }
    };
    xhr.onerror = function () {
      if (typeof callback === 'function') {
        callback(new AjaxResult({error: 'ERROR_NETWORK', error_description: 'Network error'}, query, 0));
      }
    };
    var body = encodeParams(params || {});
    body.push('auth=' + encodeURIComponent(PARAMS.AUTH_ID));
    xhr.send(body.join('&'));
    return xhr;
  }

  function batchCommand(item) {
    var method, params;
    if (Array.isArray(item)) {
      method = item[0]; params = item[1];
    } else {
      method = item.method; params = item.params;
    }
    var qs = encodeParams(params || {}).join('&');
    return method + (qs ? '?' + qs : '');
  }

  function callBatch(calls, callback, halt) {
    var isList = Array.isArray(calls);
    var cmd = {};
    Object.keys(calls).forEach(function (key) { cmd[key] = batchCommand(calls[key]); });
    return call('batch', {halt: halt ? 1 : 0, cmd: cmd}, function (res) {
      if (typeof callback !== 'function') { return; }
      var out = isList ? [] : {};
      var data = res.data() || {};
      var pick = function (block, key) {
        return block && !Array.isArray(block) ? block[key] : (block ? block[key] : undefined);
      };
      Object.keys(calls).forEach(function (key) {
        var answer;
        var err = pick(data.result_error, key);
        if (res.error()) {
          answer = {error: res.answer.error, error_description: res.answer.error_description};
        } else if (err) {
          answer = {error: err.error, error_description: err.error_description};
        } else {
          answer = {result: pick(data.result, key), total: pick(data.result_total, key),
            next: pick(data.result_next, key), time: pick(data.result_time, key)};
        }
        var item = calls[key];
        var method = Array.isArray(item) ? item[0] : item.method;
        var params = Array.isArray(item) ? item[1] : item.params;
        out[key] = new AjaxResult(answer, {method: method, params: params || {}, callback: null},
          err ? 400 : res.status);
      });
      callback(out);
    });
  }

  function authInfo() {
    if (!initDone || !PARAMS.AUTH_ID || Date.now() > expiresAt) {
      return false;
    }
    return {
      access_token: PARAMS.AUTH_ID,
      refresh_token: PARAMS.REFRESH_ID,
      expires_in: expiresAt,
      domain: PARAMS.DOMAIN || FRAME.DOMAIN,
      member_id: PARAMS.MEMBER_ID
    };
  }

  function refresh(callback) {
    if (!initDone) { return; }
    send('refreshAuth', {}, function (data) {
      if (!data || !data.AUTH_ID) {
        window.alert('Unable to get new token! Reload page, please!');
        return;
      }
      applyAuth(data);
      if (typeof callback === 'function') { callback(authInfo()); }
    });
  }

  function scrollSize() {
    var body = document.body, html = document.documentElement;
    return {
      scrollWidth: Math.max(html.scrollWidth, body ? body.offsetWidth : 0),
      scrollHeight: Math.max(html.scrollHeight, body ? body.offsetHeight : 0)
    };
  }

  /* ---------- the public object ---------- */

  var BX24 = {
    init: function (callback) {
      if (initDone) {
        if (typeof callback === 'function') { callback(); }
        return;
      }
      if (typeof callback === 'function') { initHandlers.push(callback); }
      requestInit();
    },
    ready: function (callback) {
      if (typeof callback !== 'function') { return; }
      if (domReady) { callback(); } else { readyHandlers.push(callback); }
    },
    isReady: function () { return initDone; },
    install: function (callback) {
      BX24.init(function () {
        if (PARAMS.INSTALL && typeof callback === 'function') { callback(); }
      });
    },
    installFinish: function () {
      BX24.init(function () { send('setInstallFinish', {}); });
    },
    getAuth: authInfo,
    refreshAuth: refresh,
    callMethod: call,
    callBatch: callBatch,
    callBind: function (event, handler, authType, callback) {
      return call('event.bind', {event: event, handler: handler, auth_type: authType || 0}, callback);
    },
    callUnbind: function (event, handler, authType, callback) {
      return call('event.unbind', {event: event, handler: handler, auth_type: authType || 0}, callback);
    },
    resizeWindow: function (width, height, callback) {
      height = parseInt(height, 10);
      if (!(height > 0)) { return; }
      send('resizeWindow', {width: width, height: height}, callback);
    },
    fitWindow: function (callback) {
      BX24.resizeWindow('100%', scrollSize().scrollHeight, callback);
    },
    getScrollSize: scrollSize,
    setTitle: function (title, callback) { send('setTitle', {title: String(title)}, callback); },
    openPath: function (path, callback) {
      send('openPath', {path: String(path)}, callback);
    },
    openApplication: function (params, closeCallback, settings) {
      send('openApplication', {params: params || {}, settings: settings || {}}, closeCallback);
    },
    closeApplication: function (callback) { send('closeApplication', {}, callback); },
    reloadWindow: function (callback) { send('reloadWindow', {}, callback); },
    scrollParentWindow: function (scroll, callback) { send('setScroll', {scroll: scroll}, callback); },
    getLang: function () { return initDone ? PARAMS.LANG : undefined; },
    getDomain: function () { return initDone ? PARAMS.DOMAIN : FRAME.DOMAIN; },
    isAdmin: function () { return !!(initDone && PARAMS.IS_ADMIN); },
    appOption: {
      get: function (name) { return initDone && PARAMS.APP_OPTIONS ? PARAMS.APP_OPTIONS[name] : undefined; },
      set: function (name, value, callback) {
        var options = {};
        options[name] = value;
        call('app.option.set', {options: options}, function (res) {
          if (!res.error()) {
            PARAMS.APP_OPTIONS = PARAMS.APP_OPTIONS || {};
            PARAMS.APP_OPTIONS[name] = value;
          }
          if (typeof callback === 'function') { callback(res); }
        });
      }
    },
    placement: {
      info: function () {
        if (!initDone) { return {placement: undefined, options: {}}; }
        return {placement: PARAMS.PLACEMENT, options: PARAMS.PLACEMENT_OPTIONS || {}};
      },
      getInterface: function (callback) { send('getInterface', {}, callback); },
      call: function (command, params, callback) {
        send('placementCall', {command: command, params: params || {}}, callback);
      },
      bindEvent: function (eventName, callback) {
        placementEvents[eventName] = placementEvents[eventName] || [];
        placementEvents[eventName].push(callback);
        send('placementBindEvent', {event: eventName});
      }
    },
    proxy: function (name) { return BX24[name]; }
  };

  window.BX24 = BX24;
})(window);
