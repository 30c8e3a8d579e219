// Tributary dashboard: wires the device list, the charts of the selected
// device and the live stream together.
//
// Data flow: GET /api/devices (page by page, following Link rel="next")
// fills the device list; one WebSocket to
// /api/stream (all devices) keeps it live. Selecting a device (the URL hash
// #device=ID) loads its recent history from GET /api/devices/ID/readings,
// then the stream's readings are appended. After a gap in the stream (a
// reconnect, or the cloud losing Redis) the history is loaded again; the
// charts drop the readings they already hold, by seq.

import { ChartBoard } from './charts.js';
import { Commands } from './commands.js';
import { DeviceList, Devices } from './devices.js';
import { formatAge } from './format.js';
import { Stream } from './stream.js';

// Readings fetched when a device is selected: about 10 minutes of a device
// with five metrics sampled every second (the charts' window).
const HISTORY_LIMIT = 3000;
// The Date header has whole seconds, so a smaller difference is not a skew.
const MIN_SKEW_MS = 2000;
const NARROW = window.matchMedia('(max-width: 720px)');

const $ = (id) => document.getElementById(id);

const devices = new Devices();
const board = new ChartBoard($('charts'));
const list = new DeviceList($('device-list'), devices, (id) => {
  location.hash = `device=${encodeURIComponent(id)}`;
  select(id);
  // On a phone the charts are below the list: bring them into view (after
  // rendering, which unhides the header to scroll to).
  if (NARROW.matches) {
    render();
    $('detail-head').scrollIntoView({ block: 'start' });
  }
});

const commands = new Commands($('actuators'), {
  apiURL, devices, send: (msg) => stream.send(msg), onChange: () => scheduleRender(),
});

let selected = null; // id of the device whose charts are shown
let historyToken = 0; // identifies the latest history request
let historyLoads = 0; // history responses applied, for tests
let devicesMsg = { text: 'Loading devices…', error: false };
let detailMsg = { text: 'Select a device to see its readings.', error: false };

// apiURL resolves a path against the page, so the dashboard also works
// behind a reverse proxy that mounts the cloud under a prefix. Credentials
// typed into the address bar (http://user:pw@host/) are dropped: fetch
// refuses such URLs, and the browser sends the cached ones by itself.
function apiURL(path) {
  const u = new URL(path, document.baseURI);
  u.username = '';
  u.password = '';
  return u;
}

function streamURL() {
  const u = apiURL('api/stream');
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

function deviceFromHash() {
  const m = /^#device=(.+)$/.exec(location.hash);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null; // a malformed link selects nothing
  }
}

// retryDelay is the wait before attempt n+1 of a failed request: 1, 2, 4 ...
// up to 30 seconds. The stream's resume reloads too, so this only covers a
// request that failed while the stream stayed up.
function retryDelay(attempt) {
  return Math.min(30000, 1000 * 2 ** attempt);
}

let devicesToken = 0; // identifies the latest device list request

// nextPage returns the URL of a response's Link rel="next" (resolved
// against the response's URL), or null on the last page.
function nextPage(res) {
  const m = /<([^>]*)>\s*;\s*rel="?next"?/.exec(res.headers.get('Link') || '');
  if (!m) return null;
  const u = new URL(m[1], res.url);
  u.username = '';
  u.password = '';
  return u;
}

// loadDevices fetches GET /api/devices page by page (the cloud answers
// with a page and a Link to the next) and merges each as it comes.
async function loadDevices(attempt = 0) {
  const token = ++devicesToken;
  try {
    let url = apiURL('api/devices');
    let offset = 0;
    for (let page = 0; url; page++) {
      const res = await fetch(url, { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      if (token !== devicesToken) return; // a newer load took over
      if (page === 0) {
        const cloudNow = Date.parse(res.headers.get('Date'));
        offset = Number.isFinite(cloudNow) ? Date.now() - cloudNow : 0;
        if (Math.abs(offset) < MIN_SKEW_MS) offset = 0;
        const onlineMs = Number(res.headers.get('Tributary-Offline-After-Ms'));
        if (onlineMs > 0) devices.onlineMs = onlineMs;
      }
      devices.load(await res.json(), offset);
      const next = nextPage(res);
      url = next && next.href !== url.href ? next : null;
      scheduleRender();
    }
    devicesMsg = { text: 'No devices yet: waiting for readings…', error: false };
  } catch (err) {
    devicesMsg = { text: `Could not load the devices (${err.message}); retrying.`, error: true };
    setTimeout(() => { if (token === devicesToken) loadDevices(attempt + 1); }, retryDelay(attempt));
  }
  scheduleRender();
}

async function loadHistory(id, attempt = 0) {
  const token = ++historyToken;
  if (!board.size) detailMsg = { text: `Loading readings of ${id}…`, error: false };
  scheduleRender();
  try {
    const url = apiURL(`api/devices/${encodeURIComponent(id)}/readings?limit=${HISTORY_LIMIT}`);
    const res = await fetch(url, { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = await res.json();
    if (token !== historyToken) return; // another device was selected meanwhile
    board.add(body.readings || []);
    historyLoads++;
    detailMsg = { text: `No readings from ${id} yet.`, error: false };
  } catch (err) {
    if (token !== historyToken) return;
    detailMsg = { text: `Could not load the readings of ${id} (${err.message}); retrying.`, error: true };
    setTimeout(() => { if (token === historyToken) loadHistory(id, attempt + 1); }, retryDelay(attempt));
  }
  scheduleRender();
}

function select(id) {
  if (id === selected) return;
  selected = id;
  board.reset(id);
  commands.select(id);
  document.title = id ? `${id} · Tributary` : 'Tributary';
  if (id) {
    loadHistory(id);
  } else {
    historyToken++; // drop a response still in flight
    detailMsg = { text: 'Select a device to see its readings.', error: false };
  }
  scheduleRender();
}

function showMsg(el, msg, show) {
  el.hidden = !show;
  el.textContent = msg.text;
  el.classList.toggle('error', msg.error);
}

function renderConn(info) {
  const el = $('conn');
  let text;
  let detail = '';
  switch (info.state) {
    case 'live': text = 'Live'; break;
    case 'down':
      // The cloud is up but gets no live data; its reason names the cause.
      text = /redis/i.test(info.reason) ? 'Redis down' : 'Not live';
      detail = info.reason.replace(/^redis:\s*/i, '');
      break;
    case 'reconnecting': {
      text = 'Reconnecting…';
      const s = Math.ceil(info.retryInMs / 1000);
      detail = s > 0 ? `next try in ${s} s` : '';
      break;
    }
    default: text = 'Connecting…';
  }
  el.dataset.state = info.state;
  el.title = info.reason || text;
  $('conn-text').textContent = text;
  $('conn-detail').textContent = detail;
}

function render() {
  const now = Date.now();
  list.render(selected, now);
  const all = devices.sorted();
  const online = all.filter((d) => devices.online(d, now)).length;
  $('device-count').textContent = all.length ? `(${online}/${all.length} online)` : '';
  showMsg($('devices-msg'), devicesMsg, all.length === 0 || devicesMsg.error);

  const d = selected && devices.get(selected);
  $('detail-head').hidden = !selected;
  if (selected) {
    $('detail-title').textContent = selected;
    const pill = $('detail-state');
    const on = !!d && devices.online(d, now);
    pill.textContent = d ? (on ? 'online' : 'offline') : 'unknown';
    pill.classList.toggle('online', on);
    $('detail-seen').textContent = d ? `last seen ${formatAge(now - d.heardAt)} · seq ${d.lastSeq}` : '';
  }
  showMsg($('detail-msg'), detailMsg, !selected || board.size === 0 || detailMsg.error);
  commands.render();
  renderConn(stream.info());
}

let renderFrame = 0;
function scheduleRender() {
  if (!renderFrame) renderFrame = requestAnimationFrame(() => { renderFrame = 0; render(); });
}

const stream = new Stream(streamURL(), {
  onReadings(readings) {
    devices.heard(readings, Date.now());
    board.add(readings);
    scheduleRender();
  },
  onState: renderConn,
  onFrame: (frame) => commands.frame(frame),
  onResume() {
    // Readings may have been missed: refresh the list and refill the charts.
    loadDevices();
    if (selected) loadHistory(selected);
    commands.reload();
  },
});

// The read-only hook for tests and for poking at from the console. Every
// call returns a fresh plain-data snapshot.
window.tributary = Object.freeze({
  /** devices: [{id, online, lastSeen, lastSeq, latest: [reading...]}], by id */
  devices: () => devices.snapshot(Date.now()),
  /** selected: the id of the device shown, or null */
  selected: () => selected,
  /** charts: [{metric, unit, sensors, points, canvas: {width, height} | null}], in page order */
  charts: () => board.summary(),
  /** chartPoints(metric): how many values the charts of metric draw */
  chartPoints: (metric) => board.points(metric),
  /** commands: {user, operator, note, actuators: [{name, kind, state, disabled}], records: [{id, actuator, value, by, state, text}]} */
  commands: () => commands.snapshot(),
  /** connection: {state, reason, reconnects, retryInMs, historyLoads} */
  connection: () => ({ ...stream.info(), historyLoads }),
});

window.addEventListener('hashchange', () => select(deviceFromHash()));
stream.start();
loadDevices();
select(deviceFromHash());
render();
// Ages ("3 s ago") and online state move with time, not only with readings.
setInterval(render, 1000);
