// Mobile VLA console: one WebSocket carries the camera, the state and every control action.
//
// Liveness: the console sends its state telemetry_rate_hz times a second, and that stream is
// the page's heartbeat. With no state for page_stale_s (the link lost, the console stopped
// or hung, the network stalled) the page is NOT LIVE: control, e-stop state, telemetry and
// the camera are greyed as unknown, a held key is released and stays blocked until it is
// pressed again, and an e-stop says loudly that it could not be confirmed (and tries the
// REST API too). The camera greys on its own when no frame came for a while.
'use strict';

const KEYS = 'wasdqezcrt';
const MODE_KEYS = { m: 'manual', v: 'vla', h: 'hybrid' };   // the original control node's keys
const REPEAT_MS = 100;          // a held key is repeated this often (the server stops it after 0.3 s)
const CHECK_MS = 100;           // how often the page checks that it is live
// The arbiter's control/state must show an e-stop this long after the console took it.
const ARBITER_CONFIRM_MS = 1000;
const ESTOP_ANSWER_MS = 1000;   // an e-stop the console has not answered by then goes over REST too
const REST_TIMEOUT_MS = 1500;   // how long the REST e-stop may take
const FPS_WINDOW_MS = 2000;     // the frame rate shown is over this window (it counts down to 0)
const SLEPT_MS = 1000;          // the wall clock ran ahead of the page's clock by this: the computer slept
const INFO_EVERY = 5;           // the camera overlay is rewritten every 5th check while frames come
const SCENARIOS = ['1box_vert_left', '1box_vert_right', '1box_hori_left', '1box_hori_right',
  '2box_vert_left', '2box_vert_right', '2box_hori_left', '2box_hori_right'];
const $ = (id) => document.getElementById(id);
const KEPT = 200;               // replies, events and alarms kept in consoleStats (newest)
function remember(list, item) { list.push(item); if (list.length > KEPT) list.shift(); }
const wallNow = () => performance.timeOrigin + performance.now();

// Figures the page measures, for people (the overlay) and for tests.
const stats = window.consoleStats = {
  frames: 0, fps: 0, latencies: [], arrivals: [], lastStamp: 0, estopClickedAt: null,
  replies: [], events: [], state: null, live: false, staleSince: null, liveSince: null,
  alarms: [], restarts: 0,
};

let token = null;
let ws = null;
let me = null;
let helloSeen = false;
let instance = null;
let held = null;
let repeat = null;
let nextId = 1;
let plotWindow = 10;
let throttleStep = null;     // f / g, from the console's hello
let history = [];   // [t, cmd_vel[3] or null, robot_action[3] or null]
let staleMs = 500;          // page_stale_s, from the console's hello
let cameraStaleMs = 500;    // the larger of page_stale_s and three frame periods
let lastText = -Infinity;   // performance.now() of the last state or hello
let lastFrame = -Infinity;  // performance.now() of the last frame drawn
let lastState = null;

// --------------------------------------------------------------- identity
// Every page has a short random tag for the tab, and may carry a name (#name=alice in the
// URL, kept for this browser): a takeover then says who took over.
function pageName() {
  const match = location.hash.match(/[#&]name=([^&]+)/);
  let given = null;
  if (match) {
    try { given = decodeURIComponent(match[1]); } catch (err) { given = match[1]; }
    try { localStorage.setItem('mobile_vla_name', given); } catch (err) { /* kept for this load only */ }
  }
  let tag = sessionStorage.getItem('mobile_vla_tag');
  if (!tag) {
    tag = Array.from(crypto.getRandomValues(new Uint8Array(2)), (b) => b.toString(16).padStart(2, '0')).join('');
    sessionStorage.setItem('mobile_vla_tag', tag);
  }
  let kept = null;
  try { kept = localStorage.getItem('mobile_vla_name'); } catch (err) { kept = null; }
  return given || kept || `console ${tag}`;
}
const myName = pageName();

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

// ------------------------------------------------------------------ link
function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = ws = new WebSocket(`${scheme}://${location.host}/api/ws`);
  socket.binaryType = 'arraybuffer';
  socket.onopen = () => socket.send(JSON.stringify({ type: 'hello', token, name: myName }));
  socket.onmessage = (msg) => {
    if (socket !== ws) return;
    if (typeof msg.data !== 'string') { onFrame(msg.data); return; }
    let data;
    try { data = JSON.parse(msg.data); } catch (err) { return; }   // never stop the page
    onText(data);
  };
  socket.onclose = (ev) => {
    if (socket !== ws) return;
    const refused = {
      4401: 'token refused', 4429: 'too many wrong tokens: wait a minute', 4503: 'console full',
      1009: 'disconnected: a message was too large for the console',
    };
    helloSeen = false;
    setLive(false, refused[ev.code] || 'disconnected: reconnecting…');
    if (ev.code === 1009) banner('The console closed the connection: a message was far over its size limit. Control was released.', 10000);
    if (ev.code === 4401 || ev.code === 4429) { $('tokenbox').hidden = false; return; }
    setTimeout(connect, ev.code === 4503 ? 10000 : 1000);
  };
}
// A fresh connection at once (the old one may never close cleanly).
function reconnectNow() {
  const old = ws;
  ws = null;
  helloSeen = false;
  if (old) { old.onclose = null; old.onmessage = null; try { old.close(); } catch (err) { /* gone */ } }
  setLive(false, 'reconnecting…');
  connect();
}

// Every message says when the page sent it, by the page's own clock: the console drops a
// drive message that waited in a stalled link (see ClockOffset in api.py).
function send(message) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify({ ...message, sent_ms: performance.now() }));
  return true;
}
// A control action the console would act on late (queued in a stalled link) is not sent
// while the page is not live; only the e-stop always goes out.
function act(message) {
  if (!stats.live && !(message.type === 'estop' && message.engaged === true)) {
    banner(`Not sent (${message.type}): the console is not live; try again once it is.`);
    return false;
  }
  return send({ ...message, id: nextId++ });
}

function setLinkPill(ok, text) {
  const link = $('link');
  link.textContent = text;
  link.className = 'pill ' + (ok ? 'ok' : 'bad');
}

// ------------------------------------------------------------- liveness
let lastWall = Date.now();
let lastMono = performance.now();
function checkLive() {
  const now = performance.now();
  const wall = Date.now();
  const slept = (wall - lastWall) - (now - lastMono) > SLEPT_MS;
  lastWall = wall;
  lastMono = now;
  if (slept && ws) { pageEvent('this computer slept: reconnecting'); reconnectNow(); return; }
  const open = ws && ws.readyState === WebSocket.OPEN && helloSeen;
  const quiet = now - lastText;
  if (open && quiet <= staleMs) {
    if (!stats.live) setLive(true, 'connected');
  } else if (stats.live) {
    setLive(false, open ? `stalled: nothing from the console for ${(quiet / 1000).toFixed(1)} s` : 'disconnected: reconnecting…');
  } else if (open && stats.staleSince !== null) {
    setLinkPill(false, `stalled: nothing from the console for ${(quiet / 1000).toFixed(1)} s`);
  }
  // The camera: its own staleness, and the frame rate counting down.
  while (stats.arrivals.length && stats.arrivals[0] < wallNow() - FPS_WINDOW_MS) stats.arrivals.shift();
  stats.fps = stats.arrivals.length / (FPS_WINDOW_MS / 1000);
  const cameraStale = !stats.live || now - lastFrame > cameraStaleMs;
  $('camera-box').classList.toggle('stale', cameraStale);
  checks += 1;
  if (cameraStale || checks % INFO_EVERY === 0) showCameraInfo(cameraStale, now);
}
let checks = 0;
setInterval(checkLive, CHECK_MS);

let everLive = false;
function setLive(live, text) {
  const was = stats.live;
  stats.live = live;
  document.body.classList.toggle('stale', !live);
  document.body.dataset.live = String(live);
  setLinkPill(live, text);
  if (live) {
    const gap = stats.staleSince === null ? 0 : (wallNow() - stats.staleSince) / 1000;
    stats.liveSince = wallNow();
    if (everLive && gap > 0.1) pageEvent(`live again after ${gap.toFixed(1)} s`);
    everLive = true;
    stats.staleSince = null;
    if (lastState) render(lastState);
    return;
  }
  if (stats.staleSince === null) stats.staleSince = wallNow();
  if (was) pageEvent(`not live: ${text}`);
  // Nothing here may be trusted: a held key stops and drives again only on a new press.
  blockKeys(true);
  showStale();
}

function showStale() {
  const control = $('control');
  control.textContent = 'control: unknown (console not live)';
  control.className = 'pill';
  $('take').hidden = true;
  const estop = $('estop-state');
  estop.textContent = 'e-stop: unknown (console not live)';
  estop.className = 'estop-state';
  estop.title = '';
  document.querySelectorAll('[data-mode]').forEach((b) => b.classList.remove('active'));
  document.querySelectorAll('kbd[data-key]').forEach((k) => k.classList.remove('held'));
  for (const id of ['cmd_vel', 'robot_action', 'control_state']) $(id).textContent = '– (not live)';
}

// --------------------------------------------------------------- alarms
// An alarm stays until it is dismissed or what it warns of is over (an e-stop confirmed).
function alarm(text, kind) {
  const box = $('alarm');
  $('alarm-text').textContent = text;
  box.dataset.kind = kind || '';
  box.hidden = false;
  remember(stats.alarms, text);
}
function clearAlarm(kind) {
  const box = $('alarm');
  if (!kind || box.dataset.kind === kind) box.hidden = true;
}

// Events the console sends and what the page itself notices, newest first.
function pageEvent(text) { showEvent({ type: 'event', kind: 'page', text, local: true }); }
function showEvent(event) {
  remember(stats.events, event);
  const li = document.createElement('li');
  const time = document.createElement('span');
  time.className = 'muted';
  time.textContent = new Date().toLocaleTimeString() + ' ';
  li.append(time, document.createTextNode(event.text));
  li.className = 'ev-' + (event.kind || 'page');
  const list = $('events');
  list.prepend(li);
  while (list.children.length > 12) list.lastChild.remove();
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
    const now = wallNow();
    lastFrame = performance.now();
    stats.frames += 1;
    stats.lastStamp = stampMs;
    stats.latencies.push(now - stampMs);
    stats.arrivals.push(now);
    if (stats.latencies.length > 600) stats.latencies.shift();
    while (stats.arrivals.length && stats.arrivals[0] < now - FPS_WINDOW_MS) stats.arrivals.shift();
    stats.fps = stats.arrivals.length / (FPS_WINDOW_MS / 1000);
  }
  drawing = false;
}
function percentile(values, q) {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
function showCameraInfo(stale, now) {
  const recent = stats.latencies.slice(-60);
  const p50 = percentile(recent, 0.5);
  const p95 = percentile(recent, 0.95);
  let text = stats.frames
    ? `${stats.fps.toFixed(1)} fps · ${p50.toFixed(0)} ms (p95 ${p95.toFixed(0)}) capture to page`
    : 'no frames yet';
  if (stale && stats.frames) {
    const age = (now - lastFrame) / 1000;
    text = `NOT LIVE: last frame ${age.toFixed(1)} s ago · ${stats.fps.toFixed(1)} fps`;
  }
  $('camera-info').textContent = text;
}
setInterval(() => {
  const recent = stats.latencies.slice(-60);
  send({ type: 'stats', fps: stats.fps, latency_ms_p50: percentile(recent, 0.5),
    latency_ms_p95: percentile(recent, 0.95), frames: stats.frames });
}, 1000);

// ---------------------------------------------------------------- state
function onText(m) {
  if (m.type === 'hello') {
    me = m.you;
    helloSeen = true;
    lastText = performance.now();
    $('tokenbox').hidden = true;
    history = m.history || [];
    const config = m.config || {};
    plotWindow = config.plot_window_s || plotWindow;
    throttleStep = config.throttle_step || throttleStep;
    if (config.page_stale_s) staleMs = config.page_stale_s * 1000;
    cameraStaleMs = Math.max(staleMs, config.stream_fps ? 3000 / config.stream_fps : 0);
    if (config.max_instruction_chars) {
      $('instruction').maxLength = config.max_instruction_chars;
      $('rec-instruction').maxLength = config.max_instruction_chars;
    }
    if (instance !== null && m.instance !== instance) {
      stats.restarts += 1;
      pageEvent('the console restarted (a new run of it answered): control and held keys were reset');
      banner('The console restarted: nobody has control until someone acts.', 8000);
    }
    instance = m.instance;
    lastState = m;
    checkLive();
    render(m);
  } else if (m.type === 'state') {
    lastText = performance.now();
    lastState = m;
    if (!stats.live) checkLive();
    if (stats.live) render(m);
  } else if (m.type === 'event') {
    showEvent(m);
    if (m.kind === 'control' && m.taken_from === me) {
      blockKeys();
      banner(`Control taken over: ${m.text}`, 10000);
    }
  } else if (m.type === 'reply') {
    remember(stats.replies, m);
    onEstopReply(m);
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

const fmt = (v, what) => (v ? v.map((x) => (x === null ? ' ?' : (x >= 0 ? ' ' : '') + x.toFixed(2))).join('  ') : `– (no ${what} lately)`);

function render(s) {
  stats.state = s;
  history.push([s.t, s.cmd_vel, s.robot_action]);
  while (history.length && history[0][0] < s.t - plotWindow) history.shift();
  renderAlerts(s.diagnostics || {}, s.silent_nodes || {});
  renderDiagnostics(s.diagnostics || {}, s.silent_nodes || {});
  renderRecorder(s.recorder, s.episodes || []);
  renderPlan(s.vla_status, s.vla_status_stale || !stats.live);
  const recent = $('recent');
  recent.replaceChildren(...(s.recent_instructions || []).map((t) => { const o = document.createElement('option'); o.value = t; return o; }));
  drawPlot(s.t);
  if (!stats.live) { showStale(); return; }
  const mine = s.controller && s.controller.id === me;
  const control = $('control');
  control.textContent = s.controller ? (mine ? 'you have control' : `control: ${s.controller.label}`) : 'control: nobody';
  control.className = 'pill' + (mine ? ' mine' : '');
  $('take').hidden = !s.controller || mine;
  const estop = $('estop-state');
  // s.estop is the arbiter's word only; an e-stop this console sent waits for it.
  const unconfirmed = s.estop !== true && s.estop_sent;
  estop.textContent = unconfirmed ? 'E-STOP SENT: not confirmed by the arbiter'
    : s.estop === null || s.estop === undefined ? 'e-stop: unknown (no control/state)' : (s.estop ? 'E-STOP ENGAGED' : 'e-stop released');
  estop.title = s.estop_release_requested ? 'release requested: the arbiter releases once every input (keys and policy) is zero; stop the policy first' : '';
  $('release').textContent = s.estop_release_requested ? 'Release requested: waiting for every input to be zero (stop the policy)' : 'Release e-stop';
  estop.className = 'estop-state ' + (s.estop || unconfirmed ? 'engaged' : s.estop === false ? 'released' : '');
  if (s.estop === true) clearAlarm('estop');   // the arbiter has it: the alarm is over
  document.querySelectorAll('[data-mode]').forEach((b) => b.classList.toggle('active', b.dataset.mode === s.mode));
  $('throttle').textContent = `throttle ${s.throttle} %`;
  document.querySelectorAll('kbd[data-key]').forEach((k) => k.classList.toggle('held', k.dataset.key === s.drive_key));
  $('cmd_vel').textContent = fmt(s.cmd_vel, 'cmd_vel');
  $('robot_action').textContent = fmt(s.robot_action, 'robot/action');
  const cs = s.control_state;
  const fresh = s.mode !== null && s.mode !== undefined;
  $('control_state').textContent = cs && fresh ? `${cs.mode} · source ${cs.active_source || 'none'}${cs.reason && cs.reason !== 'source' ? ' · zero: ' + cs.reason : ''}` : '– (no control/state lately)';
}

function renderPlan(status, stale) {
  const body = $('plan-body');
  body.classList.toggle('stale-text', Boolean(stale));
  if (!status) { body.textContent = 'no instruction yet (vla/status)'; return; }
  const steps = status.plan || [];
  const parts = [];
  const head = document.createElement('div');
  const said = `${status.state}${status.step ? ` · step ${status.step} of ${status.steps}` : ''}${status.reason ? ' · ' + status.reason : ''}`;
  // A silent inference (or a console not live) leaves its last word: never shown as now.
  head.textContent = stale ? `unknown: vla_inference is silent or the console not live (last said: ${said})` : said;
  parts.push(head);
  const instr = document.createElement('div');
  instr.className = 'muted';
  instr.textContent = status.instruction ? `“${status.instruction}”` : '';
  parts.push(instr);
  if (status.target && status.target.kind) {  // what the current navigation step drives to
    const target = document.createElement('div');
    target.id = 'plan-target';
    const {text, colour, kind} = status.target;  // the planner's words (older nodes: none)
    target.textContent = `target: ${text || [colour, kind].filter(Boolean).join(' ')}`;
    parts.push(target);
  }
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
    name.title = e.instruction ? `instruction: ${e.instruction}` : '';
    const size = document.createElement('td'); size.textContent = e.size_mb;
    const ok = document.createElement('td');
    ok.textContent = e.valid ? 'valid' : 'invalid';
    ok.className = e.valid ? 'valid' : 'invalid';
    ok.title = (e.problems || []).join('\n');
    if (e.complete === false) {
      const short = document.createElement('span');
      short.className = 'incomplete';
      short.textContent = ` · incomplete (${e.frames}/${e.target_frames})`;
      ok.append(short);
    }
    tr.append(name, size, ok);
    return tr;
  });
  $('episodes').tBodies[0].replaceChildren(...rows);
}

// Loud: every status at WARN or worse, and every node gone silent, as text (never HTML).
const ALERT_LEVELS = ['WARN', 'ERROR', 'STALE'];
const MAX_ALERT_VALUES = 8;
function renderAlerts(diags, silent) {
  const items = [];
  Object.keys(silent).sort().forEach((node) => {
    const li = document.createElement('li');
    li.className = 'lvl-ERROR';
    li.textContent = `${node}: SILENT for ${silent[node].toFixed(0)} s (no /diagnostics: stopped, hung or gone)`;
    items.push(li);
  });
  Object.keys(diags).sort().forEach((name) => {
    const d = diags[name];
    if (!ALERT_LEVELS.includes(d.level)) return;
    const li = document.createElement('li');
    li.className = 'lvl-' + d.level;
    li.textContent = `${d.level} ${name}: ${d.message}`;
    const values = Object.entries(d.values || {});
    if (name.endsWith(': qos') && values.length) {
      const ul = document.createElement('ul');
      values.slice(0, MAX_ALERT_VALUES).forEach(([key, value]) => {
        const v = document.createElement('li');
        v.textContent = `${key}: ${value}`;
        ul.append(v);
      });
      if (values.length > MAX_ALERT_VALUES) {
        const more = document.createElement('li');
        more.textContent = `… and ${values.length - MAX_ALERT_VALUES} more`;
        ul.append(more);
      }
      li.append(ul);
    }
    items.push(li);
  });
  $('alerts').replaceChildren(...items);
  $('alerts').hidden = items.length === 0;
}

function renderDiagnostics(diags, silent) {
  const items = Object.keys(diags).sort().map((name) => {
    const d = diags[name];
    const li = document.createElement('li');
    const quiet = d.node in silent;
    li.className = 'lvl-' + (quiet ? 'STALE' : d.level);
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
      let drawing = false;   // unknown values break the line
      history.forEach((p) => {
        const v = p[which] && p[which][axis];
        if (v === null || v === undefined) { drawing = false; return; }
        if (drawing) plotCtx.lineTo(x(p[0]), y(v)); else plotCtx.moveTo(x(p[0]), y(v));
        drawing = true;
      });
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
function textField() {
  const el = document.activeElement;
  return el && (el.tagName === 'TEXTAREA' || (el.tagName === 'INPUT' && !['button', 'checkbox', 'radio', 'submit'].includes(el.type)));
}
// Keys held down now (by their place on the keyboard), and keys that do nothing until they
// are released: after an e-stop, a takeover, a refused drive or a time not live, the robot
// never starts moving again on a key pressed before the stop.
const down = new Set();
const blocked = new Set();
function blockKeys(all = false) {
  if (held !== null) blocked.add(held);
  if (all) down.forEach((k) => blocked.add(k));
  stopDriving();
}
function startDriving(key) {
  if (!stats.live || blocked.has(key)) { blocked.add(key); return; }
  if (held === key) return;
  held = key;
  act({ type: 'drive', key });
  clearInterval(repeat);
  repeat = setInterval(() => { if (stats.live) send({ type: 'drive', key: held }); else blockKeys(true); }, REPEAT_MS);
}
function stopDriving() {
  clearInterval(repeat);
  repeat = null;
  if (held !== null) { held = null; send({ type: 'drive', key: null }); }
}

// ---------------------------------------------------------------- e-stop
// Sent on the WebSocket whenever it is open (late is better than never); when the page is
// not live, or the console does not answer within ESTOP_ANSWER_MS, the REST API is tried
// too, and the page says loudly what it could and could not confirm.
let estopPending = null;   // {id}: the WebSocket e-stop waiting for its answer
function estop() {
  stats.estopClickedAt = wallNow();
  blockKeys(true);
  const id = nextId;
  const sent = act({ type: 'estop', engaged: true });
  if (!stats.live) {
    estopByRest(sent ? 'the console is not live, nothing came from it lately' : 'the page is disconnected from the console');
    return;
  }
  estopPending = { id };
  setTimeout(() => {
    if (estopPending && estopPending.id === id) {
      estopPending = null;
      estopByRest('the console did not answer the e-stop within 1 s');
    }
  }, ESTOP_ANSWER_MS);
}
function onEstopReply(m) {
  if (!estopPending || m.id !== estopPending.id) return;
  estopPending = null;
  if (!m.ok) { alarm(`E-STOP REFUSED by the console: ${m.error}`, 'estop'); return; }
  // The console published it; only the arbiter's control/state says it took it.
  setTimeout(() => {
    if (!(stats.live && lastState && lastState.estop === true)) {
      alarm('E-STOP SENT BUT NOT CONFIRMED: the arbiter has not reported it engaged within '
        + `${ARBITER_CONFIRM_MS / 1000} s (is control_arbiter running?). Use the robot's own e-stop.`, 'estop');
    }
  }, ARBITER_CONFIRM_MS);
}
function estopByRest(why) {
  alarm(`E-STOP NOT CONFIRMED: ${why}. Trying the REST API… If the robot moves, use its own e-stop.`, 'estop');
  const confirmed = () => stats.live && lastState && lastState.estop === true;
  const request = fetch('/api/estop', {
    method: 'POST', cache: 'no-store',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ engaged: true }), signal: AbortSignal.timeout(REST_TIMEOUT_MS),
  });
  request.then((r) => r.json().then((body) => ({ status: r.status, body }))).then(({ status, body }) => {
    if (status === 200) {
      if (!confirmed()) {
        alarm('E-stop sent over the REST API: the console accepted it and published it. '
          + 'The e-stop state shows once the page is live again.', 'estop');
      }
    } else {
      alarm(`E-STOP FAILED: the console refused it over REST (${status}: ${body.error}). Use the robot's own e-stop.`, 'estop');
    }
  }).catch(() => {
    if (confirmed()) return;
    alarm(`E-STOP FAILED: could not reach the robot: ${why}, and the REST API did not answer either. `
      + "It may still arrive if the console recovers. Use the robot's own e-stop.", 'estop');
  });
}

// Letters by their place on the keyboard (ev.code), so any layout drives with WASD.
function keyOf(ev) {
  if (ev.code && ev.code.startsWith('Key')) return ev.code.slice(3).toLowerCase();
  if (ev.code === 'Space') return ' ';
  return ev.key.toLowerCase();
}
// Escape engages the e-stop from anywhere, text boxes and lists included (seen first, in
// the capture phase); space does too, except in a text box, where it types a space.
window.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' || (ev.code === 'Space' && !textField() && !ev.ctrlKey && !ev.metaKey && !ev.altKey)) {
    ev.preventDefault();
    ev.stopPropagation();
    if (!ev.repeat) estop();
  }
}, true);
document.addEventListener('keydown', (ev) => {
  const key = keyOf(ev);
  if (KEYS.includes(key) && key.length === 1) down.add(key);
  if (typing() || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (KEYS.includes(key) && key.length === 1) { ev.preventDefault(); startDriving(key); return; }
  if ((key === 'f' || key === 'g') && !ev.repeat && throttleStep) act({ type: 'throttle', delta: key === 'f' ? -throttleStep : throttleStep });
  if (MODE_KEYS[key] && !ev.repeat) act({ type: 'mode', mode: MODE_KEYS[key] });
});
document.addEventListener('keyup', (ev) => {
  const key = keyOf(ev);
  down.delete(key);
  blocked.delete(key);
  if (key === held) stopDriving();
});
window.addEventListener('blur', () => { down.clear(); stopDriving(); });
document.addEventListener('visibilitychange', () => { if (document.hidden) stopDriving(); });

// ---------------------------------------------------------------- controls
$('estop').addEventListener('click', estop);
$('release').addEventListener('click', () => act({ type: 'estop', engaged: false }));
$('take').addEventListener('click', () => act({ type: 'take_control' }));
$('alarm-close').addEventListener('click', () => clearAlarm());
document.querySelectorAll('[data-mode]').forEach((b) => b.addEventListener('click', () => act({ type: 'mode', mode: b.dataset.mode })));
$('instruct').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('instruction').value;
  if (act({ type: 'instruction', text })) $('instruction').blur();
});
$('stop-policy').addEventListener('click', () => act({ type: 'instruction', text: 'stop' }));
const scenario = $('scenario');
SCENARIOS.forEach((name, i) => { const o = document.createElement('option'); o.value = i + 1; o.textContent = `${i + 1}: ${name}`; scenario.append(o); });
$('rec-start').addEventListener('click', () => {
  const instruction = $('rec-instruction').value.trim();
  act({ type: 'record', action: 'start', scenario: Number(scenario.value), ...(instruction ? { instruction } : {}) });
});
$('rec-keep').addEventListener('click', () => act({ type: 'record', action: 'keep' }));
$('rec-discard').addEventListener('click', () => act({ type: 'record', action: 'discard' }));
$('token-save').addEventListener('click', () => {
  token = $('token').value.trim();
  sessionStorage.setItem('mobile_vla_token', token);
  $('tokenbox').hidden = true;
  reconnectNow();
});

$('me').textContent = `you: ${myName}`;
token = readToken();
setLive(false, 'connecting…');
connect();
