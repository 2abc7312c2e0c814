// The operators' web console: the floor and every robot live (from the /api/v1/stream WebSocket,
// drawn on a canvas at the display's frame rate, positions interpolated between stream frames),
// the robot clicked (its task and why it waits), KPIs, the order queue, alarms, and the operator
// commands of /api/v1 (writes carry the bearer token typed in the header).
"use strict";

const API = "/api/v1";
const MODE_COLOURS = {
  idle: "#9e9e9e", moving: "#1e88e5", waiting: "#fdd835", lifting: "#8e24aa", dropping: "#8e24aa",
  picking: "#43a047", charging: "#00acc1", failed: "#000000", stopped: "#e53935",
};
const KPI_NAMES = {
  sim_time_s: "sim time [s]", robots: "robots", orders_received: "orders received",
  orders_rejected: "orders rejected", orders_completed: "orders completed", orders_cancelled: "orders cancelled",
  order_lines_picked: "lines picked", robots_out_of_service: "robots out of service",
};

// what the tests and the frame-rate benchmark read
const stats = { frames: 0, streamFrames: 0, streamBytes: 0, fps: 0, robots: 0, connected: false };
window.consoleStats = stats;
// where robot ``id`` is drawn, in canvas pixels from its top-left corner (null: not on the floor)
window.consoleLocate = (id) => {
  const row = current.get(id);
  return row ? [px(row[1]), py(row[2])] : null;
};

const canvas = document.getElementById("floor");
const ctx = canvas.getContext("2d");
let layout = null;
let fleet = { robots: [], paused: false, estop: false, zones: [] };
let previous = new Map();  // robot -> [x, y] of the stream frame before the last
let current = new Map();   // robot -> row of the last stream frame
let frameAt = 0, framePeriod = 500;
let selected = null;
let view = { scale: 1, ox: 0, oy: 0 };

const $ = (id) => document.getElementById(id);
$("token").value = sessionStorage.getItem("warehouseToken") || "";
$("token").addEventListener("change", () => sessionStorage.setItem("warehouseToken", $("token").value));

function say(text, bad) {
  $("message").textContent = text;
  $("message").style.color = bad ? "#ff8a80" : "#b9f6ca";
}

async function write(method, path, body) {
  const headers = { Authorization: "Bearer " + $("token").value };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const answer = await r.json().catch(() => ({}));
  const detail = answer.detail !== undefined ? [].concat(answer.detail).join("; ") : answer.message;
  say(r.ok ? (detail || "done") : `${r.status}: ${detail}`, !r.ok);
  return { ok: r.ok, answer };
}

for (const command of ["pause", "resume", "estop", "reset"]) {
  $(command).addEventListener("click", () => write("POST", `/fleet/${command}`));
}
$("out-of-service").addEventListener("click", () => selected && write("POST", `/robots/${selected}/out_of_service`));
$("in-service").addEventListener("click", () => selected && write("POST", `/robots/${selected}/in_service`));
$("order-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const order = {
    consumer_id: $("order-consumer").value, deadline_s: 3600,
    lines: [{ sku: $("order-sku").value, quantity: Number($("order-qty").value) }],
  };
  const { ok, answer } = await write("POST", "/orders", order);
  $("order-result").textContent = ok ? `${answer.order_id}: ${answer.status}` : "refused";
  if (ok) $("order-result").dataset.orderId = answer.order_id;
});

// -- the floor ------------------------------------------------------------------------------
function fit() {
  const r = canvas.getBoundingClientRect();
  canvas.width = r.width; canvas.height = r.height;
  if (!layout) return;
  const [x0, y0, x1, y1] = layout.bounds;
  view.scale = Math.min(canvas.width / (x1 - x0), canvas.height / (y1 - y0)) * 0.96;
  view.ox = (canvas.width - (x1 - x0) * view.scale) / 2 - x0 * view.scale;
  view.oy = (canvas.height + (y1 - y0) * view.scale) / 2 + y0 * view.scale;
}
const px = (x) => view.ox + x * view.scale;
const py = (y) => view.oy - y * view.scale;  // map +y is up, the canvas's down

function cells(points, colour, size) {
  ctx.fillStyle = colour;
  const s = layout.cell_size * view.scale * size;
  for (const p of points) ctx.fillRect(px(p[0]) - s / 2, py(p[1]) - s / 2, s, s);
}

function zoneRect(z) {  // cells [x0, y0, x1, y1] -> canvas rectangle (rows count down from the top)
  const cs = layout.cell_size, [ox, oy] = layout.origin, rows = layout.rows;
  const left = ox + z[0] * cs, right = ox + (z[2] + 1) * cs;
  const top = oy + (rows - z[1]) * cs, bottom = oy + (rows - z[3] - 1) * cs;
  return [px(left), py(top), (right - left) * view.scale, (top - bottom) * view.scale];
}

function draw(now) {
  stats.frames += 1;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (layout) {
    cells(layout.walls, "#37474f", 1.0);
    cells(layout.storage, "#e0e0e0", 0.8);
    cells(layout.chargers, "#80deea", 0.8);
    for (const s of layout.stations) { cells(s.queue, "#bbdefb", 0.7); cells([s.pick], "#1565c0", 0.9); }
    ctx.strokeStyle = "#f9a825"; ctx.lineWidth = 3;
    for (const z of fleet.zones) ctx.strokeRect(...zoneRect(z));
    const f = Math.min(1, (now - frameAt) / framePeriod);
    const r = Math.max(2, layout.cell_size * view.scale * 0.35);
    for (const [id, row] of current) {
      const was = previous.get(id) || [row[1], row[2]];
      const x = was[0] + (row[1] - was[0]) * f, y = was[1] + (row[2] - was[1]) * f;
      ctx.beginPath(); ctx.arc(px(x), py(y), r, 0, 2 * Math.PI);
      ctx.fillStyle = MODE_COLOURS[row[4]] || "#607d8b";
      if (row[5]) ctx.fill(); else { ctx.lineWidth = 2; ctx.strokeStyle = ctx.fillStyle; ctx.stroke(); }
      if (id === selected) { ctx.lineWidth = 3; ctx.strokeStyle = "#d50000"; ctx.stroke(); }
    }
  }
  requestAnimationFrame(draw);
}

canvas.addEventListener("click", (e) => {
  const rect = canvas.getBoundingClientRect();
  const cx = e.clientX - rect.left, cy = e.clientY - rect.top;
  let best = null, bestD = Infinity;
  for (const [id, row] of current) {
    const d = Math.hypot(px(row[1]) - cx, py(row[2]) - cy);
    if (d < bestD) { best = id; bestD = d; }
  }
  if (best !== null && bestD < Math.max(12, layout.cell_size * view.scale)) select(best);
});

async function select(id) {
  selected = id;
  $("out-of-service").disabled = $("in-service").disabled = false;
  const r = await fetch(`${API}/robots/${encodeURIComponent(id)}`);
  if (!r.ok) return;
  const robot = await r.json();
  const waits = robot.waiting_for.length ? `waits for ${robot.waiting_for.join(" → ")}` : "not waiting for a robot";
  $("robot").innerHTML = "";
  for (const line of [`${robot.id}: ${robot.mode}${robot.in_service ? "" : " (out of service)"}`,
    `task ${robot.task_id || "none"}, battery ${(robot.battery * 100).toFixed(0)} %`, waits,
    `at ${robot.x.toFixed(2)}, ${robot.y.toFixed(2)} m`]) {
    const div = document.createElement("div"); div.textContent = line; $("robot").appendChild(div);
  }
}

// -- live data --------------------------------------------------------------------------------
function onFrame(text) {
  const frame = JSON.parse(text);
  stats.streamFrames += 1; stats.streamBytes += text.length;
  const now = performance.now();
  if (frameAt) framePeriod = Math.max(50, Math.min(2000, now - frameAt));
  previous = new Map([...current].map(([id, row]) => [id, [row[1], row[2]]]));
  current = new Map(frame.robots.map((row) => [row[0], row]));
  frameAt = now;
  stats.robots = current.size;
  fleet = frame;
  $("simtime").textContent = `sim ${frame.t.toFixed(0)} s`;
  const state = frame.estop ? "E-STOP" : frame.paused ? "PAUSED" : frame.zones.length ? "ZONE PAUSED" : "running";
  $("state").textContent = state;
  $("state").className = "badge " + (frame.estop ? "estop" : frame.paused || frame.zones.length ? "paused" : "");
  $("kpis").innerHTML = "";
  for (const [k, v] of Object.entries(frame.kpis)) {
    const tr = $("kpis").insertRow(); tr.insertCell().textContent = KPI_NAMES[k] || k; tr.insertCell().textContent = v;
  }
  for (const a of frame.alarms) {
    const li = document.createElement("li");
    li.className = a.kind; li.textContent = `${a.time.toFixed(0)} s ${a.message}`;
    $("alarms").prepend(li);
  }
  while ($("alarms").children.length > 200) $("alarms").lastChild.remove();
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${API}/stream`);
  ws.onopen = () => { stats.connected = true; };
  ws.onmessage = (e) => onFrame(e.data);
  ws.onclose = () => {
    stats.connected = false;
    $("state").textContent = "offline"; $("state").className = "badge offline";
    setTimeout(connect, 1000);
  };
}

async function refreshOrders() {
  const r = await fetch(`${API}/orders?limit=30`).catch(() => null);
  if (r && r.ok) {
    $("orders").innerHTML = "";
    for (const o of await r.json()) {
      const tr = $("orders").insertRow();
      tr.insertCell().textContent = o.order_id; tr.insertCell().textContent = o.status;
      tr.insertCell().textContent = `${o.lines_picked}/${o.lines_total}`;
      const cancel = document.createElement("button");
      cancel.textContent = "Cancel"; cancel.className = "cancel"; cancel.dataset.orderId = o.order_id;
      cancel.addEventListener("click", () => write("DELETE", `/orders/${encodeURIComponent(o.order_id)}`));
      tr.insertCell().appendChild(cancel);
    }
  }
  setTimeout(refreshOrders, 2000);
}

async function start() {
  layout = await (await fetch(`${API}/layout`)).json();
  const skus = await (await fetch(`${API}/skus`)).json();
  for (const s of skus.filter((s) => s.available > 0).slice(0, 200)) {
    const o = document.createElement("option"); o.value = s.sku; $("skus").appendChild(o);
  }
  fit();
  window.addEventListener("resize", fit);
  connect();
  refreshOrders();
  requestAnimationFrame(draw);
  let last = stats.frames;
  setInterval(() => { stats.fps = stats.frames - last; last = stats.frames; }, 1000);
}

start();
