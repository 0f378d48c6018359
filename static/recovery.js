/* tagpin recovery.js (file format v1): a failed submit leaves the user's work in a checksummed file on their
   machine. No dependencies, no build step. API and format: DESIGN.md "Recovery snippet". */
(G => {
  var FORMAT = "tagpin-recovery", VERSION = 1, DOC = G.document, K = [], H0 = [];
  var hex = b => Array.prototype.map.call(b, x => (x < 16 ? "0" : "") + x.toString(16)).join("");
  var frac = x => (x - Math.floor(x)) * 2 ** 32 | 0;
  for (var n = 2, i = 0; i < 64; n++) {  // SHA-256 constants from the primes, as FIPS 180-4 defines them
    for (var d = 2; d * d <= n && n % d; d++);
    if (d * d > n) { if (i < 8) H0[i] = frac(Math.sqrt(n)); K[i++] = frac(Math.pow(n, 1 / 3)); }
  }
  var r = (x, s) => (x >>> s) | (x << (32 - s));
  // Pure-JS SHA-256 for insecure contexts, where crypto.subtle does not exist.
  function sha256js(b) {
    var l = b.length, n = ((l + 72) >> 6) << 4, W = new Int32Array(n), w = new Int32Array(64), H = H0.slice(), i, j;
    for (i = 0; i < l; i++) W[i >> 2] |= b[i] << (24 - (i & 3) * 8);
    W[l >> 2] |= 0x80 << (24 - (l & 3) * 8);
    W[n - 1] = l * 8; W[n - 2] = Math.floor(l / 0x20000000);
    for (i = 0; i < n; i += 16) {
      var a = H[0], c = H[1], e = H[2], f = H[3], g = H[4], h = H[5], k = H[6], m = H[7], t, u;
      for (j = 0; j < 64; j++) {
        if (j < 16) w[j] = W[i + j];
        else { t = w[j - 15]; u = w[j - 2]; w[j] = (r(t, 7) ^ r(t, 18) ^ (t >>> 3)) + (r(u, 17) ^ r(u, 19) ^ (u >>> 10)) + w[j - 7] + w[j - 16] | 0; }
        t = m + (r(g, 6) ^ r(g, 11) ^ r(g, 25)) + ((g & h) ^ (~g & k)) + K[j] + w[j] | 0;
        u = (r(a, 2) ^ r(a, 13) ^ r(a, 22)) + ((a & c) ^ (a & e) ^ (c & e)) | 0;
        m = k; k = h; h = g; g = f + t | 0; f = e; e = c; c = a; a = t + u | 0;
      }
      [a, c, e, f, g, h, k, m].forEach((v, x) => { H[x] = H[x] + v | 0; });
    }
    return hex(new Uint8Array(32).map((_, x) => H[x >> 2] >>> (24 - (x & 3) * 8)));
  }
  function sha256(s) {
    var b = new TextEncoder().encode(s), c = G.crypto && G.crypto.subtle;
    return c ? c.digest("SHA-256", b).then(x => hex(new Uint8Array(x))) : Promise.resolve(sha256js(b));
  }
  var mb = x => x > 1e6 ? (x / 1048576).toFixed(1) + " MB" : Math.ceil(x / 1024) + " KB";
  var oops = (name, code, msg) => { var e = new Error(msg); e.name = name; e.code = code; return e; };

  function init(o) {
    if (!o || !o.app || !o.getState) throw new TypeError("init needs {app, getState}");
    var cfg = Object.assign({ appVersion: "", timeout: 30000, debounce: 500, maxBytes: 104857600, banner: true,
      autoDownload: true, warnOnLeave: true }, o);
    var el = t => DOC.createElement(t), fetch0 = G.fetch, pending = null, episode = false, rev = 0, saved = 0, jrev = -1, timer = 0, memory = null, dbp, ui;
    var api = { storage: "indexeddb", get unsaved() { return rev !== saved || !!pending; } };
    var warn = m => { console.warn("tagpin: " + m); if (cfg.onWarning) cfg.onWarning(m); bar(m, 1); };

    // The journal: IndexedDB, or memory when storage is missing or full, and we say so.
    function db() {
      return dbp = dbp || new Promise((ok, no) => {
        var q = G.indexedDB.open("tagpin-recovery", 1);
        q.onupgradeneeded = () => q.result.createObjectStore("journal");
        q.onsuccess = () => ok(q.result); q.onerror = () => no(q.error);
      });
    }
    function tx(mode, fn) {
      if (api.storage === "memory") return Promise.reject(0);
      return db().then(x => new Promise((ok, no) => {
        var t = x.transaction("journal", mode), q = fn(t.objectStore("journal"));
        t.oncomplete = () => ok(q.result); t.onerror = t.onabort = () => no(t.error);
      })).catch(e => {
        if (e && api.storage !== "memory") {
          api.storage = "memory";
          warn("your work is kept in memory only (" + e.name + "): keep this page open until it is submitted or downloaded.");
        }
        throw e;
      });
    }
    function journal(state) {
      clearTimeout(timer); jrev = rev;
      var rec = { saved_at: new Date().toISOString(), app_version: cfg.appVersion, state: state || JSON.stringify(cfg.getState()) };
      memory = rec;
      return tx("readwrite", s => s.put(rec, cfg.app)).catch(() => {});
    }
    api.changed = () => { rev++; clearTimeout(timer); timer = setTimeout(api.flush, cfg.debounce); };
    api.flush = () => journal();
    api.saved = () => tx("readonly", s => s.get(cfg.app)).catch(() => memory);
    api.restoreSaved = () => {
      return api.saved().then(x => {
        if (!x) return null;
        var state = JSON.parse(x.state);
        if (cfg.onRestore) cfg.onRestore(state, { source: "journal", saved_at: x.saved_at, app_version: x.app_version });
        api.changed(); bar("Restored.");
        return state;
      });
    };

    // The state travels as a JSON string: its sha256 covers exactly these bytes.
    function make(failure, state) {
      var ctx = cfg.context ? cfg.context() : {};
      state = state || JSON.stringify(cfg.getState());
      return sha256(state).then(sum => {
        var m = { format: FORMAT, version: VERSION, id: hex(G.crypto.getRandomValues(new Uint8Array(16))),
          created_at: new Date().toISOString(), app: cfg.app, app_version: cfg.appVersion, context: ctx, failure };
        var name = ["tagpin-recovery", String(cfg.app).replace(/[^\w-]+/g, "-").slice(0, 40), m.created_at.replace(/[:.]/g, "-"), m.id.slice(0, 8)];
        return { name: name.join("-") + ".json", text: JSON.stringify(m).slice(0, -1) + ',"state":' + JSON.stringify(state) + ',"sha256":"' + sum + '"}' };
      });
    }
    function save(file) {
      var a = el("a");
      if (G.Blob && "download" in a) {
        var url = URL.createObjectURL(new Blob([file.text], { type: "application/json" }));
        a.href = url; a.download = file.name; DOC.body.appendChild(a); a.click(); a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);  // >= 30 s: a slow save dialog still reads it
      } else if (cfg.echoUrl) {  // no Blob downloads here: the server echoes the file back as an attachment
        var f = el("form"), i = el("input");
        f.method = "POST"; f.action = cfg.echoUrl; i.type = "hidden"; i.name = "file"; i.value = file.text;
        f.appendChild(i); DOC.body.appendChild(f); f.submit(); f.remove();
      } else warn("cannot save files here.");
    }
    api.download = () => pending ? Promise.resolve(save(pending)) : make(null).then(save);
    function beacon(event, status) {
      if (!cfg.beaconUrl) return;
      var body = JSON.stringify({ tenant: cfg.tenant, app: cfg.app, app_version: cfg.appVersion, event, status });
      try { if (!G.navigator.sendBeacon(cfg.beaconUrl, body)) throw 0; } catch (e) {
        fetch0 && fetch0(cfg.beaconUrl, { method: "POST", body, keepalive: true, mode: "no-cors" }).catch(() => {});
      }
    }
    function fail(failure) {
      if (failure.status === 409) beacon("submit_failed", 409);
      var state = JSON.stringify(cfg.getState());
      if (jrev !== rev) journal(state);  // skip a needless clone of a big state
      return new Promise(ok => setTimeout(ok))  /* shorter main-thread tasks */.then(() => make(failure, state)).then(file => {
        pending = file;
        bar("Not submitted (" + failure.message + "); your work is saved in a file on this computer.");
        if (!episode && cfg.autoDownload) save(file);  // one automatic download per failure episode, not per retry
        episode = true;
      }, e => warn("no recovery file: " + e.message));
    }
    api.submit = fn => {
      var ctl = G.AbortController && new AbortController(), r0 = rev, late = false, t;
      var clock = new Promise((_, no) => {
        t = setTimeout(() => { late = true; if (ctl) ctl.abort(); no(oops("TimeoutError", "timeout", "no answer within " + cfg.timeout / 1000 + " s")); }, cfg.timeout);
      });
      return Promise.race([Promise.resolve().then(() => fn(ctl && ctl.signal)), clock]).then(res => {
        clearTimeout(t);
        return Promise.resolve(res && res.ok === false ? "HTTP " + res.status
          : cfg.isFailure && cfg.isFailure(res)).then(bad => {
          if (!bad) return success(r0).then(() => res);
          var failure = { kind: "http", status: res && res.status || null, message: bad === true ? "rejected by the application" : String(bad) };
          return fail(failure).then(() => { var e = oops("SubmitFailed", failure.kind, "submit failed: " + failure.message); e.failure = failure; e.response = res; throw e; });
        });
      }, e => {
        clearTimeout(t);
        var failure = late ? { kind: "timeout", status: null, message: e.message } : { kind: "network", status: null, message: String(e && e.message || e) };
        return fail(failure).then(() => { e.failure = e.failure || failure; throw e; });
      });
    };
    function success(r0) {  // the server accepted the work: only now may the journal go
      pending = null; episode = false;
      if (ui) ui.style.display = "none";
      if (rev !== r0) return journal();  // edits made during the submit were not part of it
      saved = rev; clearTimeout(timer); memory = null;
      return tx("readwrite", s => s.delete(cfg.app)).catch(() => {});
    }
    api.wrapFetch = match => {  // for apps that cannot call submit() themselves
      var f = G.fetch;
      G.fetch = (input, opt) => {
        var method = (opt && opt.method || input.method || "GET").toUpperCase(), url = String(input.url || input);
        if (match ? !match(url, method) : method === "GET" || method === "HEAD") return f.call(G, input, opt);
        return api.submit(signal => f.call(G, input, Object.assign({ signal }, opt)));
      };
      return () => G.fetch = f;
    };

    api.restore = file => {
      var no = (code, m) => { throw oops("RestoreError", code, m); }, x;
            return Promise.resolve(file).then(f => {
        if (f.size > cfg.maxBytes) no("too_large", "This file is " + mb(f.size) + "; the limit is " + mb(cfg.maxBytes) + ".");
        return f.text ? f.text() : new Response(f).text();
      }).then(text => {
        try { x = JSON.parse(text); } catch (e) { no("not_json", "Not a recovery file: not valid JSON (cut short?)."); }
        if (!x || x.format !== FORMAT) no("format", "This file is not a tagpin recovery file.");
        if (x.version !== VERSION) no("version", x.version > VERSION ? "This recovery file is newer than this page: reload it and retry." : "Unknown recovery file version.");
        if (typeof x.state !== "string" || !/^[0-9a-f]{64}$/.test(x.sha256)) no("format", "This recovery file has no state or checksum.");
        return sha256(x.state);
      }).then(sum => {
        if (sum !== x.sha256) no("checksum", "This recovery file was changed or damaged since it was saved (checksum mismatch).");
        if (x.app !== cfg.app) no("app", "This recovery file belongs to \"" + x.app + "\", not to \"" + cfg.app + "\".");
        var state = JSON.parse(x.state), meta = Object.assign({}, x);
        delete meta.state;
        if (cfg.onRestore) cfg.onRestore(state, meta);
        api.changed();
        return state;
      });
    };

    // The banner: persistent, because an automatic download can be blocked or missed.
    function bar(msg, sticky) {
      if (!cfg.banner || !DOC) return;
      if (!ui) {
        ui = el("div"); ui.setAttribute("role", "alert"); ui.id = "tagpin-recovery";
        ui.style.cssText = "position:fixed;inset:auto 8px 8px;z-index:2147483647;padding:8px;background:#fff4d6;color:#222;border:1px solid #c80;font:14px system-ui";
        ui.note = ui.appendChild(el("div")); ui.msg = ui.appendChild(el("span"));
        var input = el("input"), btn = (label, fn) => {
          var b = ui.appendChild(el("button")); b.type = "button"; b.textContent = label; b.onclick = fn; b.style.marginLeft = "8px"; return b;
        };
        btn("Download my work", api.download);
        ui.rs = btn("Restore saved work", api.restoreSaved); ui.rs.hidden = true;
        btn("Restore from file", () => input.click());
        input.type = "file"; input.accept = ".json"; input.hidden = true; ui.appendChild(input);
        input.onchange = () => {
          if (input.files[0]) api.restore(input.files[0]).then(() => bar("Restored."), e => bar(e.message));
          input.value = "";
        };
        DOC.body.appendChild(ui);
      }
      (sticky ? ui.note : ui.msg).textContent = msg;
      ui.style.display = "";
    }
    api.banner = bar;

    G.addEventListener("beforeunload", e => { if (cfg.warnOnLeave && api.unsaved) { e.preventDefault(); e.returnValue = ""; } });
    api.ready = api.saved().then(x => {
      if (x && cfg.onJournal) cfg.onJournal(x);
      if (x) { bar("Unsaved work from " + new Date(x.saved_at).toLocaleString() + " was found in this browser."); ui && (ui.rs.hidden = false); }
    });
    beacon("load", null);
    return api;
  }
  G.TagpinRecovery = { init, version: VERSION, sha256, sha256js };
})(window);
