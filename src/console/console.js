// runnel's web console: a single page over /v1/console/* (the same functions
// as the `runnel` command line) and /metrics (the live charts). No framework
// and no build step: the file is served from the binary as written.
"use strict";

const api = "/v1/console";
const view = document.getElementById("view");
let timers = [];
let routeToken = 0;

// ---------- small helpers ----------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "html") el.innerHTML = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function call(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const res = await fetch(api + path, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text }; }
  if (!res.ok) throw new Error((data && data.error) || res.statusText);
  return data;
}

function toast(message, isError) {
  const t = document.getElementById("toast");
  t.textContent = message;
  t.className = "toast" + (isError ? " error" : "");
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, isError ? 6000 : 3000);
}

function every(ms, fn) {
  fn();
  timers.push(setInterval(fn, ms));
}

function fmtBytes(n) {
  if (n === null || n === undefined || isNaN(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : Math.round(n)) + " " + units[i];
}

function fmtNum(n, digits = 0) {
  if (n === null || n === undefined || isNaN(n)) return "–";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits });
}

function fmtTime(ms) {
  if (ms === null || ms === undefined || ms < 0) return "–";
  const d = new Date(ms);
  return d.toISOString().replace("T", " ").replace("Z", " UTC");
}

function badge(text, kind) { return h("span", { class: "badge " + (kind || "") }, text); }

// A broker in controlled shutdown: still serving while the controller moves
// its leaderships and ISR places to the others.
function stoppingBadge() {
  return h("span", { title: "in controlled shutdown: handing over its leaderships before it stops" },
    badge("stopping", "warn stopping"));
}

function stateBadge(state) {
  const s = (state || "").toLowerCase();
  const kind = s === "stable" ? "ok" : s === "empty" ? "" : s === "dead" ? "bad" : "warn";
  return badge(state || "–", kind);
}

// A partition's replicas, and while a reassignment moves it the replicas it
// adds (+) and removes (-), as kafka-topics.sh --describe lists them.
function replicasCell(p) {
  const adding = p.adding_replicas || [], removing = p.removing_replicas || [];
  if (!adding.length && !removing.length) return p.replicas.join(", ");
  const moves = adding.map((n) => "+" + n).concat(removing.map((n) => "-" + n)).join(" ");
  return h("span", {}, p.replicas.join(", ") + " ", badge("moving " + moves, "info moving"));
}

function setCrumbs(...parts) {
  const c = document.getElementById("crumbs");
  c.textContent = "";
  parts.forEach((p, i) => {
    if (i) c.append(h("span", { class: "sep" }, "/"));
    c.append(p.href ? h("a", { href: p.href }, p.text) : h("span", {}, p.text));
  });
}

function panel(title, right, ...body) {
  return h("div", { class: "panel" },
    h("div", { class: "panel-head" }, h("h2", {}, title), right || ""),
    ...body);
}

function table(headers, rows, opts = {}) {
  if (!rows.length) return h("div", { class: "empty" }, opts.empty || "Nothing here yet.");
  return h("table", { id: opts.id },
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { class: opts.num && opts.num.includes(t) ? "num" : "" }, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((cell, i) =>
      h("td", { class: opts.num && opts.num.includes(headers[i]) ? "num" : "" }, cell))))));
}

function card(label, value, id) {
  return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value", id }, value));
}

// ---------- /metrics: parsed samples and rates between scrapes ----------

const metrics = { last: null, lastAt: 0, prev: null, prevAt: 0 };

function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const l of m[3].matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: parseFloat(m[4]) });
  }
  return samples;
}

async function scrape() {
  const res = await fetch("/metrics");
  const samples = parseMetrics(await res.text());
  metrics.prev = metrics.last; metrics.prevAt = metrics.lastAt;
  metrics.last = samples; metrics.lastAt = Date.now();
  return samples;
}

function sum(samples, name, filter) {
  let total = 0;
  for (const s of samples || []) if (s.name === name && (!filter || filter(s.labels))) total += s.value;
  return total;
}

// Per-second rate of a counter between two scrapes of one broker (`m`:
// {last, lastAt, prev, prevAt}; this broker's /metrics by default).
function rate(name, filter, m = metrics) {
  if (!m.prev) return null;
  const dt = (m.lastAt - m.prevAt) / 1000;
  if (dt <= 0) return null;
  return Math.max(0, (sum(m.last, name, filter) - sum(m.prev, name, filter)) / dt);
}

// A quantile of histograms over the last scrape interval (from the bucket
// deltas), over one broker's scrapes or several brokers' together.
function quantile(name, q, filter, ms = [metrics]) {
  const buckets = new Map();
  const add = (samples, sign) => {
    for (const s of samples) {
      if (s.name !== name + "_bucket" || (filter && !filter(s.labels))) continue;
      const le = s.labels.le === "+Inf" ? Infinity : parseFloat(s.labels.le);
      buckets.set(le, (buckets.get(le) || 0) + sign * s.value);
    }
  };
  let any = false;
  for (const m of ms) {
    if (!m.prev) continue;
    any = true;
    add(m.last, 1); add(m.prev, -1);
  }
  if (!any) return null;
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.length ? sorted[sorted.length - 1][1] : 0;
  if (total <= 0) return null;
  let prevLe = 0, prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= q * total) {
      if (le === Infinity) return prevLe;
      const inBucket = count - prevCount;
      return inBucket > 0 ? prevLe + (le - prevLe) * ((q * total - prevCount) / inBucket) : le;
    }
    prevLe = le; prevCount = count;
  }
  return prevLe;
}

// ---------- the cluster's metrics: every broker's /metrics, read by this one ----------

// node id -> {last, lastAt, prev, prevAt, status, error, admin, self, seen}.
// A broker seen before that no longer answers (or left the cluster) stays,
// shown as unreachable, until the page is left.
const brokerMetrics = new Map();

async function scrapeCluster() {
  const answer = await call("GET", "/cluster/metrics");
  const now = Date.now();
  let list = answer.brokers;
  if (!list.length) {  // a single node: this broker's own /metrics
    const res = await fetch("/metrics");
    list = [{ node_id: "this broker", self: false, status: "ok", metrics: await res.text(), admin: location.origin }];
  }
  const present = new Set();
  for (const b of list) {
    present.add(String(b.node_id));
    const m = brokerMetrics.get(String(b.node_id)) || { last: null, lastAt: 0, prev: null, prevAt: 0 };
    m.status = b.status; m.error = b.error || ""; m.admin = b.admin; m.self = b.self; m.seen = now;
    m.stopping = !!b.controlled_shutdown;
    if (b.status === "ok") {
      m.prev = m.last; m.prevAt = m.lastAt;
      m.last = parseMetrics(b.metrics); m.lastAt = now;
    } else {
      m.prev = null; m.last = null;
    }
    brokerMetrics.set(String(b.node_id), m);
  }
  for (const [id, m] of brokerMetrics) {
    if (present.has(id)) continue;
    m.status = "unreachable"; m.error = "no longer registered in the cluster (stopped, crashed or cut off)";
    m.stopping = false;
    m.prev = null; m.last = null;
  }
}

// The sum over the brokers that answered twice of a per-broker number.
function clusterTotal(fn) {
  let total = null;
  for (const m of brokerMetrics.values()) {
    const v = fn(m);
    if (v !== null && v !== undefined) total = (total || 0) + v;
  }
  return total;
}

// ---------- a small line chart on a canvas ----------

class Chart {
  constructor(title, series, format) {
    this.series = series.map((s) => ({ ...s, points: [] }));
    this.format = format;
    this.canvas = h("canvas");
    this.valueEls = this.series.map(() => h("b"));
    this.el = h("div", { class: "panel chart" },
      h("div", { class: "panel-head" }, h("h2", {}, title),
        h("div", { class: "legend" }, this.series.map((s, i) =>
          h("span", {}, h("i", { style: "background:" + s.color }), s.label + " ", this.valueEls[i])))),
      h("div", { class: "panel-body" }, this.canvas));
  }
  push(values) {
    const now = Date.now();
    values.forEach((v, i) => {
      const pts = this.series[i].points;
      pts.push([now, v]);
      while (pts.length > 90) pts.shift();
      this.valueEls[i].textContent = v === null ? "–" : this.format(v);
    });
    this.draw();
  }
  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || 300, hgt = c.clientHeight || 160;
    c.width = w * dpr; c.height = hgt * dpr;
    const g = c.getContext("2d");
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, hgt);
    let max = 0;
    for (const s of this.series) for (const [, v] of s.points) if (v !== null) max = Math.max(max, v);
    max = max > 0 ? max * 1.15 : 0;
    g.strokeStyle = "#eef0f3"; g.fillStyle = "#9ca3af"; g.font = "11px system-ui"; g.lineWidth = 1;
    for (let i = 0; i <= 3; i++) {
      const y = 8 + (hgt - 24) * (i / 3);
      g.beginPath(); g.moveTo(48, y); g.lineTo(w, y); g.stroke();
      if (max > 0) g.fillText(this.format(max * (1 - i / 3)), 0, y + 4);
    }
    const t1 = Date.now(), t0 = t1 - 180000;
    for (const s of this.series) {
      g.strokeStyle = s.color; g.lineWidth = 2; g.beginPath();
      let started = false;
      for (const [t, v] of s.points) {
        if (v === null) continue;
        const x = 48 + (w - 48) * ((t - t0) / (t1 - t0));
        const y = 8 + (hgt - 24) * (max > 0 ? 1 - v / max : 1);
        if (!started) { g.moveTo(x, y); started = true; } else g.lineTo(x, y);
      }
      g.stroke();
    }
  }
}

// ---------- pages ----------

async function overview(token) {
  setCrumbs({ text: "Overview" });
  const cards = h("div", { class: "cards" },
    card("Brokers", "…", "ov-brokers"), card("Controller", "…", "ov-controller"),
    card("Topics", "…", "ov-topics"), card("Partitions", "…", "ov-partitions"),
    card("Under-replicated", "…", "ov-under"), card("Consumer groups", "…", "ov-groups"));
  const throughput = new Chart("Throughput", [
    { label: "in", color: "#2563eb" }, { label: "out", color: "#16a34a" }], (v) => fmtBytes(v) + "/s");
  const records = new Chart("Records in", [
    { label: "records/s", color: "#7c3aed" }], (v) => fmtNum(v));
  const latency = new Chart("Latency p99", [
    { label: "Produce", color: "#ea580c" }, { label: "Fetch", color: "#0891b2" }], (v) => fmtNum(v * 1000, 1) + " ms");
  const brokers = h("div");
  const brokerLoad = h("div", { id: "broker-metrics" }, h("div", { class: "empty" }, "Loading…"));
  brokerMetrics.clear();
  view.replaceChildren(cards,
    h("div", { class: "muted" }, "Live, every 2 s, the whole cluster: every broker's /metrics, read by this one"),
    h("div", { class: "charts" }, throughput.el, records.el, latency.el),
    panel("Brokers", null, brokers),
    panel("Load per broker", null, brokerLoad));
  every(2000, async () => {
    try {
      const [status, groups] = await Promise.all([call("GET", "/cluster"), call("GET", "/groups")]);
      if (token !== routeToken) return;
      const topics = new Set(status.partitions.map((p) => p.topic));
      document.getElementById("ov-brokers").textContent = status.brokers.length;
      document.getElementById("ov-controller").textContent = status.controller_id;
      document.getElementById("ov-topics").textContent = topics.size;
      document.getElementById("ov-partitions").textContent = status.partitions.length;
      const under = status.partitions.filter((p) => p.under_replicated).length;
      document.getElementById("ov-under").replaceChildren(under ? badge(String(under), "warn") : badge("0", "ok"));
      document.getElementById("ov-groups").textContent = groups.length;
      document.getElementById("cluster-id").textContent = "cluster " + status.cluster_id;
      const led = {};
      for (const p of status.partitions) led[p.leader] = (led[p.leader] || 0) + 1;
      brokers.replaceChildren(table(["Node", "Host", "Port", "Rack", "Leads", "Role"],
        status.brokers.map((b) => [String(b.node_id), b.host, String(b.port), b.rack || "–", String(led[b.node_id] || 0),
          h("span", {}, b.node_id === status.controller_id ? badge("controller", "info") : "",
            (brokerMetrics.get(String(b.node_id)) || {}).stopping ? stoppingBadge() : "")]), { num: ["Leads"] }));
    } catch (e) { if (token === routeToken) toast(e.message, true); }
  });
  const produce = (l) => l.api === "Produce", fetchApi = (l) => l.api === "Fetch";
  every(2000, async () => {
    try {
      await scrapeCluster();
      if (token !== routeToken) return;
      const all = [...brokerMetrics.values()];
      throughput.push([clusterTotal((m) => rate("runnel_topic_bytes_in_total", null, m)),
        clusterTotal((m) => rate("runnel_topic_bytes_out_total", null, m))]);
      records.push([clusterTotal((m) => rate("runnel_topic_records_in_total", null, m))]);
      latency.push([quantile("runnel_request_handle_seconds", 0.99, produce, all),
        quantile("runnel_request_handle_seconds", 0.99, fetchApi, all)]);
      const ids = [...brokerMetrics.keys()].sort((a, b) => Number(a) - Number(b));
      const num = (v, f) => (v === null || v === undefined ? "–" : f(v));
      const rows = ids.map((id) => {
        const m = brokerMetrics.get(id);
        const ok = m.status === "ok";
        const status = ok ? (m.stopping ? stoppingBadge() : badge("ok", "ok"))
          : h("span", { title: m.error }, badge(m.status, "bad"));
        return [id + (m.self ? " (this)" : ""), m.admin || "–", status,
          ok ? num(rate("runnel_topic_bytes_in_total", null, m), (v) => fmtBytes(v) + "/s") : "–",
          ok ? num(rate("runnel_topic_bytes_out_total", null, m), (v) => fmtBytes(v) + "/s") : "–",
          ok ? num(rate("runnel_topic_records_in_total", null, m), (v) => fmtNum(v, 1)) : "–",
          ok ? num(quantile("runnel_request_handle_seconds", 0.99, produce, [m]), (v) => fmtNum(v * 1000, 1) + " ms") : "–",
          ok ? num(quantile("runnel_request_handle_seconds", 0.99, fetchApi, [m]), (v) => fmtNum(v * 1000, 1) + " ms") : "–",
          ok ? fmtNum(sum(m.last, "runnel_connections")) : "–",
          ok ? fmtNum(sum(m.last, "runnel_partitions_led")) : "–"];
      });
      const totals = ["Cluster", "", "",
        num(clusterTotal((m) => rate("runnel_topic_bytes_in_total", null, m)), (v) => fmtBytes(v) + "/s"),
        num(clusterTotal((m) => rate("runnel_topic_bytes_out_total", null, m)), (v) => fmtBytes(v) + "/s"),
        num(clusterTotal((m) => rate("runnel_topic_records_in_total", null, m)), (v) => fmtNum(v, 1)),
        num(quantile("runnel_request_handle_seconds", 0.99, produce, all), (v) => fmtNum(v * 1000, 1) + " ms"),
        num(quantile("runnel_request_handle_seconds", 0.99, fetchApi, all), (v) => fmtNum(v * 1000, 1) + " ms"),
        num(clusterTotal((m) => (m.last ? sum(m.last, "runnel_connections") : null)), (v) => fmtNum(v)), ""];
      brokerLoad.replaceChildren(table(["Node", "Admin", "Status", "Bytes in", "Bytes out", "Records/s",
        "Produce p99", "Fetch p99", "Connections", "Leads"], [...rows, totals],
      { id: "broker-metrics-table", num: ["Bytes in", "Bytes out", "Records/s", "Produce p99", "Fetch p99",
        "Connections", "Leads"] }));
    } catch (e) { /* the admin listener may be restarting */ }
  });
}

async function topics(token) {
  setCrumbs({ text: "Topics" });
  let list = h("div", { class: "empty" }, "Loading…");
  const internal = h("input", { type: "checkbox", id: "show-internal", onchange: () => refresh() });
  const name = h("input", { id: "new-topic-name", placeholder: "orders", required: true });
  const parts = h("input", { id: "new-topic-partitions", type: "number", min: 1, placeholder: "default" });
  const rf = h("input", { id: "new-topic-rf", type: "number", min: 1, placeholder: "default" });
  const configs = h("input", { id: "new-topic-configs", placeholder: "cleanup.policy=compact, retention.ms=86400000" });
  const create = h("form", { class: "form", id: "create-topic", onsubmit: async (ev) => {
    ev.preventDefault();
    const body = { name: name.value.trim() };
    if (parts.value) body.partitions = parseInt(parts.value, 10);
    if (rf.value) body.replication_factor = parseInt(rf.value, 10);
    body.configs = {};
    for (const kv of configs.value.split(",")) {
      const i = kv.indexOf("=");
      if (i > 0) body.configs[kv.slice(0, i).trim()] = kv.slice(i + 1).trim();
    }
    try {
      await call("POST", "/topics", body);
      toast("Topic " + body.name + " created");
      name.value = ""; configs.value = "";
      refresh();
    } catch (e) { toast(e.message, true); }
  } },
  h("label", { class: "grow" }, "Name", name), h("label", {}, "Partitions", parts),
  h("label", {}, "Replication factor", rf), h("label", { class: "grow" }, "Configs", configs),
  h("button", { class: "primary", type: "submit" }, "Create topic"));
  brokerMetrics.clear();
  view.replaceChildren(panel("New topic", null, h("div", { class: "panel-body" }, create)),
    panel("Topics", h("label", { class: "muted" }, internal, " internal topics"), list));

  async function refresh() {
    try {
      const [all] = await Promise.all([call("GET", "/topics" + (internal.checked ? "?internal=true" : "")),
        scrapeCluster()]);
      if (token !== routeToken) return;
      // Sizes and rates of the whole cluster: each broker reports the
      // partitions it leads, so the sum counts every partition once.
      const size = {}, recs = {};
      for (const m of brokerMetrics.values()) {
        for (const s of m.last || []) {
          if (s.name === "runnel_partition_size_bytes") size[s.labels.topic] = (size[s.labels.topic] || 0) + s.value;
        }
      }
      for (const t of all)
        recs[t.name] = clusterTotal((m) => rate("runnel_topic_records_in_total", (l) => l.topic === t.name, m));
      all.sort((a, b) => a.name.localeCompare(b.name));
      const next = table(["Name", "Partitions", "Replicas", "Size", "Records/s", ""],
        all.map((t) => [h("a", { href: "#/topics/" + encodeURIComponent(t.name) }, t.name), String(t.partitions),
          String(t.replicas), fmtBytes(size[t.name] || 0), recs[t.name] === null ? "–" : fmtNum(recs[t.name], 1),
          t.internal ? badge("internal") : ""]),
        { id: "topics-table", num: ["Partitions", "Replicas", "Size", "Records/s"], empty: "No topics yet: create one above." });
      list.replaceWith(next);
      list = next;
    } catch (e) { if (token === routeToken) toast(e.message, true); }
  }
  every(5000, refresh);
}

function renderValue(text, b64, mode) {
  if (text === null || text === undefined) return h("pre", { class: "muted" }, "null");
  if (mode === "hex" && b64 !== undefined && b64 !== null) {
    const bytes = atob(b64);
    let out = "";
    for (let i = 0; i < bytes.length; i += 16) {
      const row = [...bytes.slice(i, i + 16)].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(" ");
      const ascii = [...bytes.slice(i, i + 16)].map((c) => (c >= " " && c <= "~" ? c : ".")).join("");
      out += i.toString(16).padStart(6, "0") + "  " + row.padEnd(48) + "  " + ascii + "\n";
    }
    return h("pre", {}, out || "(empty)");
  }
  if (mode === "json") {
    try { return h("pre", {}, JSON.stringify(JSON.parse(text), null, 2)); } catch (e) { /* not JSON: as text */ }
  }
  return h("pre", {}, text === "" ? "(empty)" : text);
}

async function topic(token, name) {
  setCrumbs({ text: "Topics", href: "#/topics" }, { text: name });
  const summary = h("div", { class: "cards" });
  let partsBox = h("div", { class: "empty" }, "Loading…");
  const configsBox = h("div");
  const messagesBox = h("div", { id: "messages" });
  let described = null;
  let mode = "json";

  const partitionSel = h("select", { id: "browse-partition" }, h("option", { value: "" }, "all partitions"));
  const fromSel = h("select", { id: "browse-from" },
    h("option", { value: "end" }, "newest"), h("option", { value: "beginning" }, "oldest"),
    h("option", { value: "offset" }, "from offset"), h("option", { value: "timestamp" }, "from time"));
  const fromInput = h("input", { id: "browse-at", placeholder: "offset or 2026-12-01T12:00:00Z", size: 24 });
  const limit = h("input", { id: "browse-limit", type: "number", value: 20, min: 1, max: 500, style: "width:80px" });
  const tabs = h("div", { class: "tabs" }, ["json", "text", "hex"].map((m) =>
    h("button", { type: "button", class: m === mode ? "active" : "", "data-mode": m, onclick: (ev) => {
      mode = m;
      for (const b of tabs.children) b.classList.toggle("active", b.dataset.mode === m);
      showMessages(lastMessages);
    } }, m.toUpperCase())));
  let lastMessages = [];

  function showMessages(list) {
    lastMessages = list;
    if (!list.length) { messagesBox.replaceChildren(h("div", { class: "empty" }, "No messages at this position.")); return; }
    messagesBox.replaceChildren(...list.map((m) => h("div", { class: "message" },
      h("div", { class: "meta" }, h("span", {}, "partition ", h("b", {}, m.partition)), h("span", {}, "offset ", h("b", {}, m.offset)),
        h("span", {}, fmtTime(m.timestamp))),
      h("div", { class: "kv" },
        h("span", {}, "key"), renderValue(m.key, m.key_base64, mode === "json" ? "text" : mode),
        h("span", {}, "value"), renderValue(m.value, m.value_base64, mode),
        (m.headers || []).length ? [h("span", {}, "headers"),
          h("pre", {}, m.headers.map((x) => x.key + ": " + (x.value === null ? "null" : x.value)).join("\n"))] : ""))));
  }

  async function browse(ev) {
    if (ev) ev.preventDefault();
    let from = fromSel.value;
    if (from === "offset") from = String(parseInt(fromInput.value || "0", 10));
    if (from === "timestamp") {
      const t = Date.parse(fromInput.value);
      if (isNaN(t)) { toast("Give a time such as 2026-12-01T12:00:00Z", true); return; }
      from = "@" + t;
    }
    const q = new URLSearchParams({ from, limit: limit.value || "20" });
    if (partitionSel.value !== "") q.set("partition", partitionSel.value);
    try {
      const res = await call("GET", "/topics/" + encodeURIComponent(name) + "/messages?" + q);
      if (token === routeToken) showMessages(res.messages);
    } catch (e) { toast(e.message, true); }
  }

  const pKey = h("input", { id: "produce-key", placeholder: "key (optional)" });
  const pValue = h("textarea", { id: "produce-value", placeholder: '{"hello": "world"}' });
  const pHeaders = h("input", { id: "produce-headers", placeholder: "source=console, trace=1" });
  const pPartition = h("select", { id: "produce-partition" }, h("option", { value: "" }, "by key / any"));
  const produce = h("form", { class: "form", id: "produce-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const body = { value: pValue.value, headers: {} };
    if (pKey.value) body.key = pKey.value;
    if (pPartition.value !== "") body.partition = parseInt(pPartition.value, 10);
    for (const kv of pHeaders.value.split(",")) {
      const i = kv.indexOf("=");
      if (i > 0) body.headers[kv.slice(0, i).trim()] = kv.slice(i + 1).trim();
    }
    try {
      const r = await call("POST", "/topics/" + encodeURIComponent(name) + "/messages", body);
      toast("Produced to partition " + r.partition + " at offset " + r.offset);
      await load();
      fromSel.value = "end"; partitionSel.value = String(r.partition);
      await browse();
    } catch (e) { toast(e.message, true); }
  } },
  h("label", {}, "Partition", pPartition), h("label", {}, "Key", pKey), h("label", { class: "grow" }, "Headers", pHeaders),
  h("label", { style: "width:100%" }, "Value", pValue), h("button", { class: "primary", type: "submit" }, "Produce message"));

  const addCount = h("input", { id: "add-partitions", type: "number", min: 1, value: 1, style: "width:70px" });
  const actions = h("div", { class: "toolbar" },
    h("label", { class: "muted" }, "Add ", addCount, " partitions "),
    h("button", { onclick: async () => {
      try {
        await call("POST", "/topics/" + encodeURIComponent(name) + "/partitions", { count: parseInt(addCount.value, 10) });
        toast("Partitions added"); load();
      } catch (e) { toast(e.message, true); }
    } }, "Add"),
    h("button", { class: "danger", id: "delete-topic", onclick: async () => {
      if (!confirm("Delete topic " + name + " and all its messages?")) return;
      try { await call("DELETE", "/topics/" + encodeURIComponent(name)); toast("Topic " + name + " deleted"); location.hash = "#/topics"; } catch (e) { toast(e.message, true); }
    } }, "Delete topic"));

  const cfgKey = h("input", { id: "config-key", placeholder: "retention.ms" });
  const cfgValue = h("input", { id: "config-value", placeholder: "86400000" });
  const cfgForm = h("form", { class: "form", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await call("POST", "/topics/" + encodeURIComponent(name) + "/configs", { set: { [cfgKey.value.trim()]: cfgValue.value } });
      toast(cfgKey.value + " set"); load();
    } catch (e) { toast(e.message, true); }
  } }, h("label", {}, "Config", cfgKey), h("label", {}, "Value", cfgValue), h("button", { type: "submit" }, "Set"));

  view.replaceChildren(summary,
    panel("Partitions", actions, partsBox),
    panel("Messages", h("div", { class: "toolbar" }, tabs),
      h("div", { class: "panel-body" }, h("form", { class: "form", onsubmit: browse },
        h("label", {}, "Partition", partitionSel), h("label", {}, "Start", fromSel), h("label", {}, "At", fromInput),
        h("label", {}, "Limit", limit), h("button", { class: "primary", type: "submit", id: "browse" }, "Load"))),
      messagesBox),
    panel("Produce a message", null, h("div", { class: "panel-body" }, produce)),
    panel("Configs", null, h("div", { class: "panel-body" }, cfgForm), configsBox));

  async function load() {
    try {
      described = await call("GET", "/topics/" + encodeURIComponent(name));
      if (token !== routeToken) return;
      const total = described.partitions.reduce((n, p) => n + Math.max(0, p.high_watermark - p.log_start_offset), 0);
      summary.replaceChildren(card("Partitions", described.partitions.length), card("Replicas", described.replicas),
        card("Messages", fmtNum(total), "topic-messages"), card("Topic id", h("span", { class: "mono" }, described.id)));
      const nextParts = table(["#", "Leader", "Epoch", "Replicas", "ISR", "Start offset", "High watermark", "Messages"],
        described.partitions.map((p) => [String(p.partition), p.leader < 0 ? badge("offline", "bad") : String(p.leader),
          String(p.leader_epoch), replicasCell(p),
          p.isr.length < p.replicas.length ? badge(p.isr.join(", ") || "none", "warn") : p.isr.join(", "),
          fmtNum(p.log_start_offset), fmtNum(p.high_watermark), fmtNum(p.high_watermark - p.log_start_offset)]),
        { id: "partitions-table", num: ["Start offset", "High watermark", "Messages"] });
      partsBox.replaceWith(nextParts);
      partsBox = nextParts;
      for (const sel of [partitionSel, pPartition]) {
        const keep = sel.value;
        while (sel.options.length > 1) sel.remove(1);
        for (const p of described.partitions) sel.append(h("option", { value: String(p.partition) }, "partition " + p.partition));
        sel.value = keep;
      }
      const dynamic = described.configs.filter((c) => c.source === "DYNAMIC_TOPIC_CONFIG");
      const rest = described.configs.filter((c) => c.source !== "DYNAMIC_TOPIC_CONFIG");
      const row = (c) => [h("span", { class: "mono" }, c.name), h("span", { class: "mono" }, c.value === null ? "null" : c.value),
        c.source === "DYNAMIC_TOPIC_CONFIG" ? badge("topic", "info") : badge(c.source.toLowerCase().replace(/_config$/, "").replace(/_/g, " ")),
        c.source === "DYNAMIC_TOPIC_CONFIG" ? h("button", { onclick: async () => {
          try { await call("POST", "/topics/" + encodeURIComponent(name) + "/configs", { remove: [c.name] }); toast(c.name + " reset"); load(); } catch (e) { toast(e.message, true); }
        } }, "Reset") : ""];
      configsBox.replaceChildren(table(["Name", "Value", "Source", ""], dynamic.map(row), { id: "configs-table", empty: "Every config is at its default." }),
        h("details", { class: "panel-body" }, h("summary", {}, "Defaults (" + rest.length + ")"), table(["Name", "Value", "Source", ""], rest.map(row))));
    } catch (e) { if (token === routeToken) toast(e.message, true); }
  }
  await load();
  await browse();
  every(5000, () => { if (document.activeElement === document.body) load(); });
}

async function groups(token) {
  setCrumbs({ text: "Consumer groups" });
  let box = h("div", { class: "empty" }, "Loading…");
  view.replaceChildren(panel("Consumer groups", null, box));
  every(3000, async () => {
    try {
      const all = await call("GET", "/groups");
      if (token !== routeToken) return;
      const next = table(["Group", "State", "Protocol type"], all.map((g) => [
        h("a", { href: "#/groups/" + encodeURIComponent(g.group) }, g.group), stateBadge(g.state), g.protocol_type || "–"]),
      { id: "groups-table", empty: "No consumer groups yet." });
      box.replaceWith(next); box = next;
    } catch (e) { if (token === routeToken) toast(e.message, true); }
  });
}

async function group(token, id) {
  setCrumbs({ text: "Consumer groups", href: "#/groups" }, { text: id });
  const summary = h("div", { class: "cards" });
  let lagBox = h("div", { class: "empty" }, "Loading…");
  let membersBox = h("div");
  const to = h("select", { id: "seek-to" }, h("option", { value: "beginning" }, "earliest"), h("option", { value: "end" }, "latest"),
    h("option", { value: "offset" }, "offset"), h("option", { value: "timestamp" }, "time"));
  const at = h("input", { id: "seek-at", placeholder: "offset or time", size: 20 });
  const topicFilter = h("input", { id: "seek-topic", placeholder: "all topics" });
  const seek = h("form", { class: "form", id: "seek-form", onsubmit: async (ev) => {
    ev.preventDefault();
    let where = to.value;
    if (where === "offset") where = String(parseInt(at.value || "0", 10));
    if (where === "timestamp") where = "@" + Date.parse(at.value);
    try {
      await call("POST", "/groups/" + encodeURIComponent(id) + "/seek", { to: where, topics: topicFilter.value ? [topicFilter.value.trim()] : [] });
      toast("Offsets reset"); refresh();
    } catch (e) { toast(e.message, true); }
  } }, h("label", {}, "Reset to", to), h("label", {}, "At", at), h("label", {}, "Topic", topicFilter),
  h("button", { type: "submit" }, "Reset offsets"),
  h("button", { type: "button", class: "danger", onclick: async () => {
    if (!confirm("Delete group " + id + " and its committed offsets?")) return;
    try { await call("DELETE", "/groups/" + encodeURIComponent(id)); toast("Group deleted"); location.hash = "#/groups"; } catch (e) { toast(e.message, true); }
  } }, "Delete group"));
  view.replaceChildren(summary, panel("Lag per partition", null, lagBox), panel("Members", null, membersBox),
    panel("Reset offsets (the group must be empty)", null, h("div", { class: "panel-body" }, seek)));

  async function refresh() {
    try {
      const g = await call("GET", "/groups/" + encodeURIComponent(id));
      if (token !== routeToken) return;
      const totalLag = g.partitions.reduce((n, p) => n + (p.lag || 0), 0);
      summary.replaceChildren(card("State", stateBadge(g.state)), card("Type", g.type), card("Members", g.members.length),
        card("Total lag", fmtNum(totalLag), "group-total-lag"), card("Assignor", g.assignor || "–"));
      const maxLag = Math.max(1, ...g.partitions.map((p) => p.lag || 0));
      const nextLag = table(["Topic", "Partition", "Committed", "Log end", "Lag", "", "Member"],
        g.partitions.map((p) => [p.topic, String(p.partition), p.committed_offset === null ? "–" : fmtNum(p.committed_offset),
          p.log_end_offset === null ? "–" : fmtNum(p.log_end_offset), p.lag === null ? "–" : fmtNum(p.lag),
          h("div", { class: "lagbar" }, h("i", { style: "width:" + Math.round(100 * (p.lag || 0) / maxLag) + "%" })),
          h("span", { class: "mono" }, p.member_id || "–")]),
        { id: "lag-table", num: ["Partition", "Committed", "Log end", "Lag"], empty: "No committed offsets yet." });
      lagBox.replaceWith(nextLag); lagBox = nextLag;
      const nextMembers = table(["Member", "Client", "Host", "Instance", "Assignment"],
        g.members.map((m) => [h("span", { class: "mono" }, m.member_id), m.client_id, m.host, m.instance_id || "–",
          Object.entries(m.assignment).map(([t, ps]) => t + ": " + ps.join(", ")).join("; ") || "–"]),
        { id: "members-table", empty: "No active members." });
      membersBox.replaceWith(nextMembers); membersBox = nextMembers;
    } catch (e) { if (token === routeToken) toast(e.message, true); }
  }
  every(2000, refresh);
}

// ---------- router and health ----------

function route() {
  for (const t of timers) clearInterval(t);
  timers = [];
  const token = ++routeToken;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const page = parts[0] || "overview";
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === page);
  metrics.prev = null; metrics.last = null;
  if (page === "topics" && parts[1]) return topic(token, parts[1]);
  if (page === "topics") return topics(token);
  if (page === "groups" && parts[1]) return group(token, parts[1]);
  if (page === "groups") return groups(token);
  return overview(token);
}

async function health() {
  const el = document.getElementById("health");
  try {
    const res = await fetch("/v1/health");
    const hlt = await res.json();
    el.replaceChildren(hlt.ready ? badge("ready", "ok") : badge("not ready", "bad"), " node " + hlt.node_id);
    el.title = hlt.reason || "";
  } catch (e) { el.replaceChildren(badge("unreachable", "bad")); }
}

window.addEventListener("hashchange", route);
route();
health();
setInterval(health, 5000);
