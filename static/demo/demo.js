// The demo annotation app: spans over one text, submitted through TagpinRecovery.submit().
(function () {
  "use strict";
  var TEXT = "On Monday, Ada Lovelace met Charles Babbage at the Analytical Society in London to discuss " +
    "a letter from the Royal Institution in Turin about the engine.";
  var $ = function (id) { return document.getElementById(id); };
  var params = new URLSearchParams(location.search);
  var store = {
    text_id: "t42", spans: [],
    serialize: function () { return { text_id: store.text_id, spans: store.spans }; },
    load: function (state) { store.spans = state.spans || []; render(); },
  };
  var recovery = TagpinRecovery.init({
    app: "annotator", appVersion: "1.10.0", tenant: "demo",
    timeout: Number(params.get("timeout") || 3000),
    beaconUrl: "/recovery/beacon",
    context: function () { return { user: "demo-user", task: store.text_id }; },
    getState: store.serialize,
    onRestore: function (state) { store.load(state); },
  });

  function render() {
    var text = $("text"), at = 0, spans = store.spans.slice().sort(function (a, b) { return a.start - b.start; });
    text.textContent = "";
    spans.forEach(function (s) {
      if (s.start < at) return;  // overlapping spans are listed but not drawn twice
      text.appendChild(document.createTextNode(TEXT.slice(at, s.start)));
      var mark = document.createElement("mark"), sup = document.createElement("sup");
      mark.className = s.label; mark.textContent = TEXT.slice(s.start, s.end); sup.textContent = s.label;
      mark.appendChild(sup); text.appendChild(mark); at = s.end;
    });
    text.appendChild(document.createTextNode(TEXT.slice(at)));
    var list = $("spans");
    list.textContent = "";
    store.spans.forEach(function (s, i) {
      var li = document.createElement("li"), rm = document.createElement("button");
      li.textContent = s.label + ": \u201c" + s.text + "\u201d";
      rm.type = "button"; rm.textContent = "remove";
      rm.onclick = function () { store.spans.splice(i, 1); recovery.changed(); render(); };
      li.appendChild(rm); list.appendChild(li);
    });
    $("count").textContent = String(store.spans.length);
  }

  // Offsets count characters of the plain text, ignoring the label superscripts.
  function offset(node, off) {
    var n = 0, walker = document.createTreeWalker($("text"), NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      var t = walker.currentNode;
      if (t === node) return n + off;
      if (t.parentNode.nodeName !== "SUP") n += t.length;
    }
    return n;
  }
  function addSpan(label, start, end) {
    if (end <= start) return;
    store.spans.push({ start: start, end: end, label: label, text: TEXT.slice(start, end) });
    recovery.changed(); render();
  }
  document.querySelectorAll("#labels button").forEach(function (b) {
    b.onclick = function () {
      var sel = getSelection();
      if (!sel.rangeCount || sel.isCollapsed) { status("Select some words first.", ""); return; }
      var r = sel.getRangeAt(0);
      addSpan(b.dataset.label, offset(r.startContainer, r.startOffset), offset(r.endContainer, r.endOffset));
      sel.removeAllRanges();
    };
  });

  function status(msg, cls) { $("status").textContent = msg; $("status").className = cls; }
  $("submit").onclick = function () {
    status("Submitting\u2026", "");
    return recovery.submit(function (signal) {
      return fetch("/demo/api/submit", { method: "POST", signal: signal, body: JSON.stringify(store.serialize()),
        headers: { "Content-Type": "application/json", "X-App-Version": "1.10.0" } });
    }).then(function () { status("Submitted \u2713", "ok"); },
      function (e) { status("Not submitted: " + e.message + ". Your work is safe in a file.", "bad"); });
  };
  $("restore").onchange = function (ev) {
    var file = ev.target.files[0];
    if (file) recovery.restore(file).then(function () { status("Restored from " + file.name, "ok"); },
      function (e) { status(e.message, "bad"); });
    ev.target.value = "";
  };
  $("mode").onchange = function (ev) {
    fetch("/demo/api/mode", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ mode: ev.target.value }) });
  };
  fetch("/demo/api/mode").then(function (r) { return r.json(); }).then(function (m) {
    var input = document.querySelector("#mode input[value='" + m.mode + "']");
    if (input) input.checked = true;
  });
  render();
  window.demo = { store: store, recovery: recovery, addSpan: addSpan, render: render };
})();
