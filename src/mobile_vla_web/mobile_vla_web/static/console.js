// Mobile VLA console: one WebSocket carries the camera, the state and every control action.
'use strict';

const KEYS = 'wasdqezcrt';
const MODE_KEYS = { m: 'manual', v: 'vla', h: 'hybrid' };   // the original control node's keys
const REPEAT_MS = 100;          // a held key is repeated this often (the server stops it after 0.3 s)
const SCENARIOS = ['1box_vert_left', '1box_vert_right', '1box_hori_left', '1box_hori_right',
  '2box_vert_left', '2box_vert_right', '2box_hori_left', '2box_hori_right'];
const $ = (id) => document.getElementById(id);

// Figures the page measures, for people (the overlay) and for tests.
const stats = window.consoleStats = {
  frames: 0, fps: 0, latencies: [], arrivals: [], lastStamp: 0, estopClickedAt: null,
  replies: [], events: [], state: null,
};

let token = null;
let ws = null;
let me = null;
let held = null;
let repeat = null;
let nextId = 1;
let plotWindow = 10;
let history = [];   // [t, cmd_vel[3], robot_action[3]]

function readToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    let value = match[1];
    try { value = decodeURIComponent(value); } catch (err) { /* keep it as written */ }
    sessionStorage.setItem('mobile_vla_token', value);
    history_replace();
  }
  return sessionStorage.getItem('mobile_vla_token');
}
function history_replace() { window.history.replaceState(null, '', location.pathname); }

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  ws = new WebSocket(`${scheme}://${location.host}/api/ws`);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', token }));
  ws.onmessage = (msg) => {
    if (typeof msg.data !== 'string') { onFrame(msg.data); return; }
    let data;
    try { data = JSON.parse(msg.data); } catch (err) { return; }   // never stop the page
    onText(data);
  };
  ws.onclose = (ev) => {
    const refused = { 4401: 'token refused', 4429: 'too many wrong tokens: wait a minute', 4503: 'console full' };
    setLink(false, refused[ev.code] || 'disconnected');
    stopDriving();
    if (ev.code === 4401 || ev.code === 4429) { $('tokenbox').hidden = false; return; }
    setTimeout(connect, ev.code === 4503 ? 10000 : 1000);
  };
}

function send(message) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(message));
  return true;
}
function act(message) { return send({ ...message, id: nextId++ }); }

function setLink(ok, text) {
  const link = $('link');
  link.textContent = text;
  link.className = 'pill ' + (ok ? 'ok' : 'bad');
}

// ---------------------------------------------------------------- camera
const camera = $('camera');
const cameraCtx = camera.getContext('2d');
let drawing = false;
let pending = null;

function onFrame(buffer) {
  pending = buffer;      // a newer frame replaces one not drawn yet
  if (!drawing) drawNext();
}
async function drawNext() {
  drawing = true;
  while (pending) {
    const buffer = pending;
    pending = null;
    const view = new DataView(buffer);
    const stampMs = Number(view.getBigInt64(0, true)) / 1e6;
    const width = view.getUint16(12, true);
    const height = view.getUint16(14, true);
    try {
      const bitmap = await createImageBitmap(new Blob([new Uint8Array(buffer, 16)], { type: 'image/jpeg' }));
      if (camera.width !== width || camera.height !== height) { camera.width = width; camera.height = height; }
      cameraCtx.drawImage(bitmap, 0, 0);
      bitmap.close();
    } catch (err) { continue; }
    const now = performance.timeOrigin + performance.now();
    stats.frames += 1;
    stats.lastStamp = stampMs;
    stats.latencies.push(now - stampMs);
    stats.arrivals.push(now);
    if (stats.latencies.length > 600) stats.latencies.shift();
    while (stats.arrivals.length && stats.arrivals[0] < now - 2000) stats.arrivals.shift();
    stats.fps = stats.arrivals.length / 2;
  }
  drawing = false;
}
function percentile(values, q) {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
setInterval(() => {
  const recent = stats.latencies.slice(-60);
  const p50 = percentile(recent, 0.5);
  const p95 = percentile(recent, 0.95);
  $('camera-info').textContent = stats.frames
    ? `${stats.fps.toFixed(1)} fps · ${p50.toFixed(0)} ms (p95 ${p95.toFixed(0)}) capture to page`
    : 'no frames yet';
  send({ type: 'stats', fps: stats.fps, latency_ms_p50: p50, latency_ms_p95: p95, frames: stats.frames });
}, 1000);

// ---------------------------------------------------------------- state
function onText(m) {
  if (m.type === 'hello') {
    me = m.you;
    setLink(true, 'connected');
    $('tokenbox').hidden = true;
    history = m.history || [];
    plotWindow = (m.config && m.config.plot_window_s) || plotWindow;
    if (m.config && m.config.max_instruction_chars) $('instruction').maxLength = m.config.max_instruction_chars;
    render(m);
  } else if (m.type === 'state') {
    render(m);
  } else if (m.type === 'event') {
    stats.events.push(m);
    if (m.kind === 'control' && m.taken_from === me) {
      blockKeys();
      banner(`Control taken over: ${m.text}`, 10000);
    }
  } else if (m.type === 'reply') {
    stats.replies.push(m);
    if (m.status === 401) $('tokenbox').hidden = false;   // watching without a token
    if (!m.ok && held !== null) blockKeys();              // a refused drive: stop repeating it
    if (!m.ok && m.error && Date.now() > bannerHoldUntil) banner(m.error);
  } else if (m.type === 'refused') {
    banner(m.error);
  }
}

let bannerTimer = null;
let bannerHoldUntil = 0;
function banner(text, holdMs = 0) {
  const el = $('banner');
  el.textContent = text;
  el.hidden = false;
  bannerHoldUntil = Date.now() + holdMs;   // an important message is not overwritten
  clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => { el.hidden = true; }, Math.max(6000, holdMs));
}

const fmt = (v) => (v || [0, 0, 0]).map((x) => (x >= 0 ? ' ' : '') + x.toFixed(2)).join('  ');

function render(s) {
  stats.state = s;
  history.push([s.t, s.cmd_vel, s.robot_action]);
  while (history.length && history[0][0] < s.t - plotWindow) history.shift();
  const mine = s.controller && s.controller.id === me;
  const control = $('control');
  control.textContent = s.controller ? (mine ? 'you have control' : `control: ${s.controller.id} (${s.controller.address})`) : 'control: nobody';
  control.className = 'pill' + (mine ? ' mine' : '');
  $('take').hidden = !s.controller || mine;
  const estop = $('estop-state');
  estop.textContent = s.estop === null || s.estop === undefined ? 'e-stop: unknown (no control/state)' : (s.estop ? 'E-STOP ENGAGED' : 'e-stop released');
  estop.title = s.estop_release_requested ? 'release requested: the arbiter releases once every input (keys and policy) is zero; stop the policy first' : '';
  $('release').textContent = s.estop_release_requested ? 'Release requested: waiting for every input to be zero (stop the policy)' : 'Release e-stop';
  estop.className = 'estop-state ' + (s.estop ? 'engaged' : s.estop === false ? 'released' : '');
  document.querySelectorAll('[data-mode]').forEach((b) => b.classList.toggle('active', b.dataset.mode === s.mode));
  $('throttle').textContent = `throttle ${s.throttle} %`;
  document.querySelectorAll('kbd[data-key]').forEach((k) => k.classList.toggle('held', k.dataset.key === s.drive_key));
  $('cmd_vel').textContent = fmt(s.cmd_vel);
  $('robot_action').textContent = fmt(s.robot_action);
  const cs = s.control_state;
  $('control_state').textContent = cs ? `${cs.mode} · source ${cs.active_source || 'none'}${cs.reason && cs.reason !== 'source' ? ' · zero: ' + cs.reason : ''}` : '–';
  renderPlan(s.vla_status);
  renderRecorder(s.recorder, s.episodes || []);
  renderDiagnostics(s.diagnostics || {});
  const recent = $('recent');
  recent.replaceChildren(...(s.recent_instructions || []).map((t) => { const o = document.createElement('option'); o.value = t; return o; }));
  drawPlot(s.t);
}

function renderPlan(status) {
  const body = $('plan-body');
  if (!status) { body.textContent = 'no instruction yet (vla/status)'; return; }
  const steps = status.plan || [];
  const parts = [];
  const head = document.createElement('div');
  head.innerHTML = '';
  head.textContent = `${status.state}${status.step ? ` · step ${status.step} of ${status.steps}` : ''}${status.reason ? ' · ' + status.reason : ''}`;
  parts.push(head);
  const instr = document.createElement('div');
  instr.className = 'muted';
  instr.textContent = status.instruction ? `“${status.instruction}”` : '';
  parts.push(instr);
  steps.forEach((text, i) => {
    const el = document.createElement('div');
    el.className = 'step' + (status.step === i + 1 && status.state === 'running' ? ' current' : status.step > i + 1 || status.state === 'done' ? ' done' : '');
    el.textContent = `${i + 1}. ${text}`;
    parts.push(el);
  });
  body.replaceChildren(...parts);
}

function renderRecorder(rec, episodes) {
  $('recorder').textContent = rec && rec.message ? `recorder: ${rec.message}` : 'recorder: no diagnostics yet';
  const rows = episodes.map((e) => {
    const tr = document.createElement('tr');
    const name = document.createElement('td'); name.textContent = e.name;
    const size = document.createElement('td'); size.textContent = e.size_mb;
    const ok = document.createElement('td');
    ok.textContent = e.valid ? 'valid' : 'invalid';
    ok.className = e.valid ? 'valid' : 'invalid';
    ok.title = (e.problems || []).join('\n');
    tr.append(name, size, ok);
    return tr;
  });
  $('episodes').tBodies[0].replaceChildren(...rows);
}

function renderDiagnostics(diags) {
  const items = Object.keys(diags).sort().map((name) => {
    const d = diags[name];
    const li = document.createElement('li');
    li.className = 'lvl-' + d.level;
    li.textContent = `${name}: ${d.message}${d.age_s > 3 ? ` (${d.age_s.toFixed(0)} s ago)` : ''}`;
    return li;
  });
  $('diagnostics').replaceChildren(...items);
}

// ----------------------------------------------------------------- plot
const plot = $('plot');
const plotCtx = plot.getContext('2d');
const COLOURS = ['#ff7b72', '#7ee787', '#79c0ff'];
function drawPlot(now) {
  const w = plot.width, h = plot.height, limit = 1.3;
  plotCtx.clearRect(0, 0, w, h);
  plotCtx.strokeStyle = '#333';
  plotCtx.beginPath(); plotCtx.moveTo(0, h / 2); plotCtx.lineTo(w, h / 2); plotCtx.stroke();
  const x = (t) => w - ((now - t) / plotWindow) * w;
  const y = (v) => h / 2 - (v / limit) * (h / 2 - 4);
  for (const [which, dash] of [[1, []], [2, [4, 3]]]) {
    for (let axis = 0; axis < 3; axis++) {
      plotCtx.strokeStyle = COLOURS[axis];
      plotCtx.setLineDash(dash);
      plotCtx.beginPath();
      history.forEach((p, i) => { const px = x(p[0]), py = y(p[which][axis]); i ? plotCtx.lineTo(px, py) : plotCtx.moveTo(px, py); });
      plotCtx.stroke();
    }
  }
  plotCtx.setLineDash([]);
}

// -------------------------------------------------------------- driving
function typing() {
  const el = document.activeElement;
  return el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT');
}
// After an e-stop, a takeover or a refused drive, a held key does nothing until it is
// released: the robot never starts moving again on a key pressed before the stop.
let keysBlocked = false;
function blockKeys() { if (held !== null) { stopDriving(); keysBlocked = true; } }
function startDriving(key) {
  if (keysBlocked || held === key) return;
  held = key;
  act({ type: 'drive', key });
  clearInterval(repeat);
  repeat = setInterval(() => send({ type: 'drive', key: held }), REPEAT_MS);
}
function stopDriving() {
  clearInterval(repeat);
  repeat = null;
  if (held !== null) { held = null; send({ type: 'drive', key: null }); }
}
function estop() {
  stats.estopClickedAt = performance.timeOrigin + performance.now();
  act({ type: 'estop', engaged: true });
  blockKeys();
}
// Letters by their place on the keyboard (ev.code), so any layout drives with WASD.
function keyOf(ev) {
  if (ev.code && ev.code.startsWith('Key')) return ev.code.slice(3).toLowerCase();
  if (ev.code === 'Space') return ' ';
  return ev.key.toLowerCase();
}
document.addEventListener('keydown', (ev) => {
  if (typing() || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const key = keyOf(ev);
  if (key === ' ') { ev.preventDefault(); if (!ev.repeat) estop(); return; }
  if (KEYS.includes(key) && key.length === 1) { ev.preventDefault(); startDriving(key); return; }
  if ((key === 'f' || key === 'g') && !ev.repeat) act({ type: 'throttle', delta: key === 'f' ? -10 : 10 });
  if (MODE_KEYS[key] && !ev.repeat) act({ type: 'mode', mode: MODE_KEYS[key] });
});
document.addEventListener('keyup', (ev) => {
  const key = keyOf(ev);
  if (KEYS.includes(key)) keysBlocked = false;
  if (key === held) stopDriving();
});
window.addEventListener('blur', stopDriving);
document.addEventListener('visibilitychange', () => { if (document.hidden) stopDriving(); });

// ---------------------------------------------------------------- controls
$('estop').addEventListener('click', estop);
$('release').addEventListener('click', () => act({ type: 'estop', engaged: false }));
$('take').addEventListener('click', () => act({ type: 'take_control' }));
document.querySelectorAll('[data-mode]').forEach((b) => b.addEventListener('click', () => act({ type: 'mode', mode: b.dataset.mode })));
$('instruct').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('instruction').value;
  if (act({ type: 'instruction', text })) $('instruction').blur();
});
$('stop-policy').addEventListener('click', () => act({ type: 'instruction', text: 'stop' }));
const scenario = $('scenario');
SCENARIOS.forEach((name, i) => { const o = document.createElement('option'); o.value = i + 1; o.textContent = `${i + 1}: ${name}`; scenario.append(o); });
$('rec-start').addEventListener('click', () => act({ type: 'record', action: 'start', scenario: Number(scenario.value) }));
$('rec-keep').addEventListener('click', () => act({ type: 'record', action: 'keep' }));
$('rec-discard').addEventListener('click', () => act({ type: 'record', action: 'discard' }));
$('token-save').addEventListener('click', () => {
  token = $('token').value.trim();
  sessionStorage.setItem('mobile_vla_token', token);
  $('tokenbox').hidden = true;
  connect();
});

token = readToken();
connect();
