/* tagpin recovery.js (DESIGN.md) */
(G => {
var FORMAT = "tagpin-recovery", VERSION = 1, DOC = G.document, J = JSON.stringify, enc = new TextEncoder(), K = [], H0 = [], last = 0;
var hex = b => Array.from(b, x => x.toString(16).padStart(2, 0)).join("");
var frac = x => (x - Math.floor(x)) * 2 ** 32 | 0;
for (var n = 2, i = 0; i < 64; n++) {
  for (var d = 2; d * d <= n && n % d; d++);
  if (d * d > n) { if (i < 8) H0[i] = frac(Math.sqrt(n)); K[i++] = frac(n ** (1 / 3)); }
}
var r = (x, s) => (x >>> s) | (x << (32 - s));
// for insecure contexts
function sha256js(b) {
  var l = b.length, n = ((l + 72) >> 6) << 4, W = new Int32Array(n), w = [], H = H0.slice(), i, j;
  for (i = 0; i < l; i++) W[i >> 2] |= b[i] << (24 - (i & 3) * 8);
  W[l >> 2] |= 0x80 << (24 - (l & 3) * 8);
  W[n - 1] = l * 8; W[n - 2] = l / 2 ** 29;
  for (i = 0; i < n; i += 16) {
    var [a, c, e, f, g, h, k, m] = H, t, u;
    for (j = 0; j < 64; j++) {
      if (j < 16) w[j] = W[i + j];
      else { t = w[j - 15]; u = w[j - 2]; w[j] = (r(t, 7) ^ r(t, 18) ^ (t >>> 3)) + (r(u, 17) ^ r(u, 19) ^ (u >>> 10)) + w[j - 7] + w[j - 16] | 0; }
      t = m + (r(g, 6) ^ r(g, 11) ^ r(g, 25)) + ((g & h) ^ (~g & k)) + K[j] + w[j] | 0;
      u = (r(a, 2) ^ r(a, 13) ^ r(a, 22)) + ((a & c) ^ (a & e) ^ (c & e)) | 0;
      m = k; k = h; h = g; g = f + t | 0; f = e; e = c; c = a; a = t + u | 0;
    }
    [a, c, e, f, g, h, k, m].map((v, x) => H[x] = H[x] + v | 0);
  }
  return H.map(x => (x >>> 0).toString(16).padStart(8, 0)).join("");
}
var dig = async b => crypto.subtle ? hex(new Uint8Array(await crypto.subtle.digest("SHA-256", b))) : sha256js(b);
var sha256 = s => dig(enc.encode(s));
var pace = async () => { if (performance.now() - last > 40) await (G.scheduler?.yield ? scheduler.yield() : new Promise(r => setTimeout(r))), last = performance.now(); };
var plain = (x, d) => d < 6 && x && !x.toJSON && (Array.isArray(x) || x.constructor == Object);
var oops = (name, code, msg, e) => Object.assign(Error(msg), { name, code }, e), no = (code, m, e) => { throw oops("RestoreError", code, m, e); };

function init(o) {
  if (!o?.app || !o.getState) throw TypeError("init needs {app, getState}");
  var cfg = { appVersion: "", timeout: 3e4, debounce: 500, maxBytes: 104857600, banner: 1, autoDownload: 1, warnOnLeave: 1, ...o };
  var el = t => DOC.createElement(t), pending, episode, rev = 0, saved = 0, jw = -1, gen = 0, timer, memory, dbp, ui;
  var api = { storage: "indexeddb", get unsaved() { return rev !== saved || !!pending; } };
  var warn = m => { console.warn("tagpin: " + m); cfg.onWarning?.(m); bar(m, 1); };

  function tx(mode, fn) {
    if (api.storage == "memory") return Promise.reject(0);
    return (dbp = dbp || new Promise((ok, no) => {
      var q = indexedDB.open(FORMAT, 1);
      q.onupgradeneeded = () => q.result.createObjectStore("journal");
      q.onsuccess = () => ok(q.result); q.onerror = () => no(q.error);
    })).then(x => new Promise((ok, no) => {
      var t = x.transaction("journal", mode), q = fn(t.objectStore("journal"));
      t.oncomplete = () => ok(q.result); t.onerror = t.onabort = () => no(t.error);
    })).catch(e => {
      if (e && api.storage != "memory") {
        api.storage = "memory";
        warn("your work is kept in memory only (" + e.name + "): keep this page open.");
      }
      throw e;
    });
  }
  // ~50 KB slices, no long task (bench/bench_recovery.py)
  async function snap(q) {
    var r = rev, B = [], E = [], m = 0, n = 0, len = 0, t = "", b, put = x => {
      len += x.length; t += x;
      if (t.length > 5e4 || !x) { B.push(b = enc.encode(t)); m += b.length; q && E.push(enc.encode(J(t).slice(1, -1))); t = ""; }
    };
    async function walk(v, d) {
      var a = Array.isArray(v), ks = a ? v : Object.keys(v), n = ks.length, k = 1, sep = "", i, j, s, x;
      put(a ? "[" : "{");
      for (i = 0; i < n; i += j) {
        await pace(); j = len; x = a ? v[i] : v[ks[i]];
        if ((n < 65 && d < 3 || k < 2) && plain(x, d)) { put(sep + (a ? "" : J(ks[i]) + ":")); await walk(x, d + 1); sep = ","; }
        else if (s = J(a ? v.slice(i, i + k) : Object.fromEntries(ks.slice(i, i + k).map(y => [y, v[y]]))).slice(1, -1)) { put(sep + s); sep = ","; }
        [j, k] = [k, n < 65 && d < 3 ? 1 : Math.min(k * 4, k * 5e4 / (len - j + 1)) + 1 | 0];
      }
      put(a ? "]" : "}");
    }
    plain(b = cfg.getState(), 0) ? await walk(b, 1) : put(J(b));
    if (r != (r = rev)) B = [], E = [], m = 0, t = "", put(J(cfg.getState()));  // edited: redo untorn
    put("");
    await pace();
    b = new Uint8Array(m);
    B.map(x => (b.set(x, n), n += x.length));
    return { b, e: E, r };
  }
  function journal(S) {
    var g = gen;
    S || clearTimeout(timer);
    return (S ? pace().then(() => S) : snap()).then(S => {
      if (g != gen || S.r < jw) return;
      var rec = memory = { saved_at: new Date().toISOString(), app_version: cfg.appVersion, state: new Blob([S.b]) };
      jw = S.r;
      return tx("readwrite", s => s.put(rec, cfg.app));
    }).catch(() => {});
  }
  api.changed = () => { rev++; clearTimeout(timer); timer = setTimeout(api.flush, cfg.debounce); };
  api.flush = () => journal();
  api.saved = () => tx("readonly", s => s.get(cfg.app)).catch(() => memory)
    .then(x => x?.state.text ? x.state.text().then(state => ({ ...x, state })) : x);
  api.restoreSaved = () => api.saved().then(x => x && (x = use(JSON.parse(x.state), { source: "journal", saved_at: x.saved_at, app_version: x.app_version }), bar("Restored."), x));
  var use = (state, meta) => {
    try { cfg.onRestore?.(state, meta); } catch (cause) { no("rejected", "This page could not load the work in this file.", { cause }); }
    return api.changed(), state;
  };

  async function make(failure, S) {
    var ctx = cfg.context?.() ?? {};
    S = S || await snap(1);
    await pace(); var sum = await dig(S.b); await pace();
    var m = { format: FORMAT, version: VERSION, id: hex(crypto.getRandomValues(new Uint8Array(16))),
      created_at: new Date().toISOString(), app: cfg.app, app_version: cfg.appVersion, context: ctx, failure };
    return { name: [FORMAT, String(cfg.app).replace(/[^\w-]+/g, "-").slice(0, 40), m.created_at.replace(/[:.]/g, "-"), m.id.slice(0, 8)].join("-") + ".json", blob: new Blob([J(m).slice(0, -1) + ',"state":"', ...S.e, '","sha256":"' + sum + '"}'], { type: "application/json" }) };
  }
  function save(file) {
    var a = el("a"), url = a.href = URL.createObjectURL(file.blob);
    a.download = file.name; DOC.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 6e4);  // for slow dialogs
  }
  api.download = async () => save(pending || await make(null));
  var beacon = (event, status) => { try { cfg.beaconUrl && navigator.sendBeacon(cfg.beaconUrl, J({ tenant: cfg.tenant, app: cfg.app, app_version: cfg.appVersion, event, status })); } catch {} };
  function fail(failure) {
    if (failure.status == 409) beacon("submit_failed", 409);
    return snap(1).then(S => make(failure, S).then(file => {
      pending = file;
      bar("Not submitted (" + failure.message + "); your work is saved in a file on this computer.");
      if (!episode && cfg.autoDownload) save(file);
      episode = 1;
      if (jw != S.r) journal(S);
    }), e => warn("no recovery file: " + e.message));
  }
  api.submit = async fn => {
    var ctl = new AbortController(), r0 = rev, late, t, res, bad, failure;
    try {
      res = await Promise.race([(async () => fn(ctl.signal))(), new Promise((_, no) => t = setTimeout(() => {
        late = 1; ctl.abort(); no(oops("TimeoutError", "timeout", "no answer within " + cfg.timeout / 1000 + " s"));
      }, cfg.timeout))]);
    } catch (e) {
      clearTimeout(t);
      await fail(failure = { kind: late ? "timeout" : "network", status: null, message: String(e?.message || e) });
      e.failure ||= failure; throw e;
    }
    clearTimeout(t);
    if (!(bad = await (res?.ok === false ? "HTTP " + res.status : cfg.isFailure?.(res)))) return await success(r0), res;
    await fail(failure = { kind: "http", status: res?.status || null, message: bad === true ? "rejected by the application" : String(bad) });
    throw oops("SubmitFailed", "http", "submit failed: " + failure.message, { failure, response: res });
  };
  function success(r0) {
    pending = episode = null; gen++;
    ui && (ui.hidden = 1);
    if (rev != r0) return journal();
    saved = rev; clearTimeout(timer); memory = null;
    return tx("readwrite", s => s.delete(cfg.app)).catch(() => {});
  }
  api.wrapFetch = match => {
    var f = G.fetch;
    G.fetch = (input, opt) => {
      var method = (opt?.method || input.method || "GET").toUpperCase();
      if (match ? !match(String(input.url || input), method) : method == "GET" || method == "HEAD") return f.call(G, input, opt);
      return api.submit(signal => f.call(G, input, { signal, ...opt }));
    };
    return () => G.fetch = f;
  };

  var str = v => typeof v == "string" && v, obj = v => v && typeof v == "object" && !Array.isArray(v),
    deep = (v, d) => v && typeof v == "object" && (d > 255 || Object.values(v).some(w => deep(w, d + 1))),
    // as recovery/fileformat.py checks
    FIELDS = { id: str, created_at: str, app: str, context: obj, failure: f => f === null || obj(f) && ["network", "http", "timeout"].includes(f.kind) };
  api.restore = async file => {
    var x, k, v, read = (t, c, m) => { try { t = JSON.parse(t); } catch { no(c, m); } return deep(t, 0) ? no(c, m) : t; };
    file = await file;
    if (file.size > cfg.maxBytes) no("too_large", "This file is larger than the " + (cfg.maxBytes / 1048576).toFixed(1) + " MB limit.");
    x = read(await file.text(), "not_json", "Not valid JSON (cut short?), or nested too deep.");
    if (x?.format !== FORMAT) no("format", "This file is not a tagpin recovery file.");
    if ((v = x.version) !== VERSION) no("version", v > VERSION && typeof v == "number" ? "This file is newer than this page: reload and retry." : "Unknown file version.");
    if (typeof x.state != "string" || !/^"[0-9a-f]{64}"$/.test(J(x.sha256))) no("format", "This file has no state or checksum.");
    if (await sha256(x.state) !== x.sha256) no("checksum", "Changed or damaged since it was saved (checksum mismatch).");
    for (k in FIELDS) FIELDS[k](x[k]) || no("format", "Its " + k + " is missing or invalid.");
    if (x.app !== cfg.app) no("app", "It belongs to \"" + x.app + "\", not to \"" + cfg.app + "\".");
    var { state, ...meta } = x;
    return use(read(state, "state", "Its state is not valid JSON, or nested too deep."), meta);
  };

  function bar(msg, sticky) {
    if (!cfg.banner) return;
    if (!ui) {
      ui = el("div"); ui.setAttribute("role", "alert"); ui.id = FORMAT;
      ui.style.cssText = "position:fixed;inset:auto 8px 8px;z-index:2147483647;padding:8px;background:#fe8;color:#000;font:14px sans-serif";
      ui.note = ui.appendChild(el("div")); ui.msg = ui.appendChild(el("span"));
      var input = el("input"), btn = (textContent, onclick) => ui.appendChild(Object.assign(el("button"), { type: "button", textContent, onclick, style: "margin-left:8px" }));
      btn("Download my work", api.download);
      ui.rs = btn("Restore saved work", api.restoreSaved); ui.rs.hidden = 1;
      btn("Restore from file", () => input.click());
      ui.append(Object.assign(input, { type: "file", accept: ".json", hidden: true, onchange() {
        if (input.files[0]) api.restore(input.files[0]).then(() => bar("Restored."), e => bar(e.message));
        input.value = "";
      } }));
      DOC.body.append(ui);
    }
    (sticky ? ui.note : ui.msg).textContent = msg;
    ui.hidden = 0;
  }

  addEventListener("beforeunload", e => { if (cfg.warnOnLeave && api.unsaved) { e.preventDefault(); e.returnValue = ""; } });
  api.ready = api.saved().then(x => {
    if (x) { bar("Unsaved work from " + new Date(x.saved_at).toLocaleString() + " was found in this browser."); ui && (ui.rs.hidden = 0); }
  });
  beacon("load", null);
  return api;
}
G.TagpinRecovery = { init, version: VERSION, sha256 };
})(window);
