// The web view's behaviour: charts drawn with uPlot when they scroll into view, live run updates
// (polling with If-None-Match), log tailing, run actions (cancel, tag), compare selection, device sign-in.
(() => {
  "use strict";
  const $ = (s, el = document) => el.querySelector(s);
  const $$ = (s, el = document) => Array.from(el.querySelectorAll(s));
  const body = document.body;
  const ws = body.dataset.ws;
  const TERMINAL = ["Completed", "Failed", "Canceled"];
  const CHARTED = ["scalar", "list"];
  const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#65a30d",
                   "#4f46e5", "#b45309", "#0f766e", "#7c3aed"];
  const LOG_WINDOW = 1 << 20;  // a log longer than this starts at its last MiB
  // Steps are whole numbers: ticks at 1, 2, 5, 10, 20, 50, ... (uPlot would also try 0.25).
  const STEP_TICKS = [];
  for (let p = 1; p <= 1e12; p *= 10) STEP_TICKS.push(p, 2 * p, 5 * p);
  let axis = "step";
  const plots = new Map();

  function showError(text) {
    const box = $("#action-error");
    if (box) { box.textContent = text; box.hidden = false; }
  }

  async function errorText(r) {
    try { const j = await r.json(); return j.message || j.error || r.statusText; } catch (_) { return r.statusText; }
  }

  // ------------------------------------------------------------------ charts
  function seriesURL(fig) {
    const runs = fig.dataset.runs || body.dataset.run;
    const width = Math.max(100, Math.round($(".plot", fig).clientWidth));
    return `/ui/api/workspaces/${ws}/series?key=${encodeURIComponent(fig.dataset.key)}` +
      `&runs=${encodeURIComponent(runs)}&axis=${axis}&width=${width}`;
  }

  async function draw(fig) {
    if (fig.dataset.loading) { fig.dataset.again = "1"; return; }
    fig.dataset.loading = "1";
    try {
      const r = await fetch(seriesURL(fig), { credentials: "same-origin" });
      if (!r.ok) { fig.dataset.error = await errorText(r); $(".plot", fig).textContent = fig.dataset.error; return; }
      const data = await r.json();
      const box = $(".plot", fig);
      const many = data.series.length > 1;
      const labels = (fig.dataset.labels || "").split(",");
      const aligned = many ? uPlot.join(data.series.map(s => [s.x, s.y])) : [data.series[0].x, data.series[0].y];
      const series = [{ label: axis === "step" ? "step" : "time" }].concat(data.series.map((s, i) => ({
        label: many ? `run ${labels[i] || s.run}` : data.key, stroke: PALETTE[i % PALETTE.length],
        width: many ? 1 : 1.5, spanGaps: true, points: { show: false } })));
      const old = plots.get(fig);
      if (old) old.destroy();
      box.textContent = "";
      if (!aligned[0].length) { box.textContent = "no numeric values"; fig.dataset.drawn = "1"; return; }
      const opts = {
        width: Math.max(100, box.clientWidth), height: fig.classList.contains("wide") ? 360 : 200,
        scales: { x: { time: axis === "timestamp" } }, series, legend: { show: data.series.length <= 12 },
        axes: [axis === "step" ? { incrs: STEP_TICKS } : {}, { size: 64 }], cursor: { drag: { x: true, y: false } },
      };
      plots.set(fig, new uPlot(opts, aligned, box));
      fig.dataset.points = String(aligned[0].length);
      fig.dataset.axis = axis;
      fig.dataset.drawn = "1";
    } finally {
      delete fig.dataset.loading;
      if (fig.dataset.again) { delete fig.dataset.again; draw(fig); }
    }
  }

  const inView = new IntersectionObserver(entries => {
    for (const e of entries) {
      if (e.isIntersecting) { inView.unobserve(e.target); e.target.dataset.visible = "1"; draw(e.target); }
    }
  }, { rootMargin: "150px" });

  function watchCharts() { $$(".chart").forEach(fig => inView.observe(fig)); }

  function setAxis(value) {
    axis = value;
    for (const fig of $$(".chart")) {
      if (fig.dataset.visible) draw(fig);
    }
  }

  // ------------------------------------------------------------------ live run page
  function fmtDuration(s) {
    if (s == null) return "";
    if (s < 60) return `${s.toFixed(1)}s`;
    const m = Math.floor(s / 60), sec = Math.floor(s % 60);
    if (m < 60) return `${m}m ${String(sec).padStart(2, "0")}s`;
    return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
  }

  function ensureChart(key, lastId) {
    let fig = $$(".chart").find(f => f.dataset.key === key);
    if (fig) return fig;
    fig = document.createElement("figure");
    fig.className = "chart";
    fig.dataset.key = key;
    fig.dataset.last = String(lastId);
    const cap = document.createElement("figcaption");
    cap.textContent = key;
    const plot = document.createElement("div");
    plot.className = "plot";
    fig.append(cap, plot);
    $("#charts").append(fig);
    const none = $("#no-metrics");
    if (none) none.remove();
    inView.observe(fig);
    return fig;
  }

  function ensureLog(name) {
    let pre = $$("pre.log").find(p => p.dataset.name === name);
    if (pre) return pre;
    const det = document.createElement("details");
    det.open = true;
    const sum = document.createElement("summary");
    sum.textContent = name;
    pre = document.createElement("pre");
    pre.className = "log";
    pre.dataset.name = name;
    pre.dataset.offset = "0";
    det.append(sum, pre);
    $("#log-list").append(det);
    const none = $("#no-logs");
    if (none) none.remove();
    return pre;
  }

  const decoders = new Map();
  async function tail(pre, size) {
    let offset = Number(pre.dataset.offset);
    if (size <= offset || pre.dataset.busy) return;
    pre.dataset.busy = "1";
    try {
      if (offset === 0 && size > LOG_WINDOW) {
        offset = size - LOG_WINDOW;
        pre.textContent = "… (the start is cut: download the file for all of it)\n";
      }
      const url = `${body.dataset.api}/files/tail?container=${encodeURIComponent("runs/" + body.dataset.run)}` +
        `&name=${encodeURIComponent(pre.dataset.name)}&offset=${offset}`;
      const r = await fetch(url, { credentials: "same-origin" });
      if (!r.ok) return;
      const buf = await r.arrayBuffer();
      if (!decoders.has(pre)) decoders.set(pre, new TextDecoder());
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(decoders.get(pre).decode(buf, { stream: true }));
      pre.dataset.offset = String(offset + buf.byteLength);
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    } finally {
      delete pre.dataset.busy;
    }
  }

  function setTags(tags) {
    const table = $("#tags tbody");
    if (!table) return;
    const rows = Object.keys(tags).sort().map(k => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      const td = document.createElement("td");
      th.textContent = k;
      td.textContent = tags[k];
      tr.append(th, td);
      return tr;
    });
    table.replaceChildren(...rows);
  }

  let etag = null;
  let lastTags = null;
  async function poll() {
    let state = null;
    try {
      const r = await fetch(body.dataset.live, { credentials: "same-origin", headers: etag ? { "If-None-Match": etag } : {} });
      if (r.status === 200) {
        etag = r.headers.get("ETag");
        state = await r.json();
        apply(state);
      }
    } catch (_) { /* the server restarting: try again on the next tick */ }
    if (!TERMINAL.includes(body.dataset.status)) setTimeout(poll, 1000);
  }

  function apply(s) {
    const status = $("#status");
    status.textContent = s.status;
    status.className = `status s-${s.status}`;
    body.dataset.status = s.status;
    $("#duration").textContent = s.duration_s == null ? "" : fmtDuration(s.duration_s);
    if (TERMINAL.includes(s.status)) {
      const cancel = $("#cancel");
      if (cancel) cancel.remove();
      if (s.end_time) $("#ended").textContent = new Date(s.end_time).toISOString().replace("T", " ").slice(0, 19);
    }
    const tagsJSON = JSON.stringify(s.tags);
    if (lastTags !== null && tagsJSON !== lastTags) setTags(s.tags);
    lastTags = tagsJSON;
    for (const [key, [kind, lastId, lastStep]] of Object.entries(s.metrics)) {
      if (!CHARTED.includes(kind) || lastStep < 1) continue;
      const fig = ensureChart(key, lastId);
      if (fig.dataset.last !== String(lastId)) {
        fig.dataset.last = String(lastId);
        if (fig.dataset.visible) draw(fig);
      }
    }
    const count = $("#chart-count");
    if (count) { const n = $$(".chart").length; count.textContent = `${n} chart${n === 1 ? "" : "s"}`; }
    for (const [name, size] of Object.entries(s.logs)) tail(ensureLog(name), size);
  }

  async function cancelRun() {
    const button = $("#cancel");
    button.disabled = true;
    button.textContent = "Cancelling…";
    const r = await fetch(`${body.dataset.api}/runs/${body.dataset.run}/cancel`,
      { method: "POST", credentials: "same-origin", headers: { "X-AML-UI": "1" } });
    if (!r.ok) { showError(`Cancel failed: ${await errorText(r)}`); button.disabled = false; button.textContent = "Cancel run"; }
  }

  async function setTag(ev) {
    ev.preventDefault();
    const form = ev.target;
    const values = {};
    values[form.key.value] = form.value.value;
    const r = await fetch(`${body.dataset.api}/runs/${body.dataset.run}/attributes/tag`, {
      method: "PUT", credentials: "same-origin",
      headers: { "X-AML-UI": "1", "Content-Type": "application/json" }, body: JSON.stringify({ values }) });
    if (!r.ok) { showError(`Setting the tag failed: ${await errorText(r)}`); return; }
    form.reset();
    etag = null;
    const live = await fetch(body.dataset.live, { credentials: "same-origin" });
    if (live.ok) setTags((await live.json()).tags);
  }

  // ------------------------------------------------------------------ runs table and sign-in
  function wireRunsTable() {
    const button = $("#compare-selected");
    if (!button) return;
    const picks = () => $$(".pick").filter(p => p.checked).map(p => p.value);
    const update = () => { button.disabled = picks().length === 0; };
    $$(".pick").forEach(p => p.addEventListener("change", update));
    const all = $("#select-all");
    if (all) all.addEventListener("change", () => { $$(".pick").forEach(p => { p.checked = all.checked; }); update(); });
    button.addEventListener("click", () => { location.href = `${button.dataset.base}?runs=${encodeURIComponent(picks().join(","))}`; });
  }

  function wireDeviceSignIn() {
    const start = $("#device-start");
    if (!start) return;
    start.addEventListener("click", async () => {
      start.disabled = true;
      const r = await fetch("/login/device", { method: "POST", credentials: "same-origin" });
      if (!r.ok) { start.disabled = false; start.textContent = `Try again (${await errorText(r)})`; return; }
      const info = await r.json();
      const line = $("#device-code");
      $(".code", line).textContent = info.user_code;
      line.hidden = false;
      const check = async () => {
        const p = await fetch("/login/device/poll", { method: "POST", credentials: "same-origin" });
        const state = (await p.json()).state;
        if (state === "approved") { location.href = start.dataset.next || "/ui/workspaces"; return; }
        if (state === "pending") { setTimeout(check, 1000); return; }
        line.textContent = `The code was ${state}; get a new one.`;
        start.disabled = false;
      };
      setTimeout(check, 1000);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    watchCharts();
    $$('input[name="axis"]').forEach(r => r.addEventListener("change", () => setAxis(r.value)));
    if (body.dataset.page === "run") {
      const cancel = $("#cancel");
      if (cancel) cancel.addEventListener("click", cancelRun);
      const form = $("#tag-form");
      if (form) form.addEventListener("submit", setTag);
      poll();
    }
    wireRunsTable();
    wireDeviceSignIn();
  });
})();
