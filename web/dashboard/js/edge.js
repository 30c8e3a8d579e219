// The edge panel: on an edge agent's own dashboard (edge --listen), what
// the agent knows of itself from GET api/edge: its uplink, its spool
// backlog, each sensor's health and its local history. Only a page the
// edge serves asks: its html element has data-site="edge" (cmd/edge marks
// it). The cloud has no api/edge; a 404 hides the panel for good.

import { formatAge } from './format.js';

const POLL_MS = 2000;
const panel = document.getElementById('edge');

let info = null; // the last answer
let fetchedAt = 0; // Date.now() when it came
let loads = 0;
let failure = ''; // why the last request failed, if it did
let gone = false; // the server has no api/edge: not an edge

function apiURL(path) {
  const u = new URL(path, document.baseURI);
  u.username = '';
  u.password = '';
  return u;
}

async function poll() {
  try {
    const res = await fetch(apiURL('api/edge'), { cache: 'no-store' });
    if (res.status === 404) {
      gone = true;
      panel.hidden = true;
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    info = await res.json();
    fetchedAt = Date.now();
    failure = '';
    loads++;
  } catch (err) {
    failure = err.message;
  }
  render();
  setTimeout(poll, POLL_MS);
}

// ago is how long before the edge's now (moved on since the answer) t was.
function ago(t) {
  const at = Date.parse(t);
  if (!Number.isFinite(at)) return 'never';
  return formatAge(Date.parse(info.now) + (Date.now() - fetchedAt) - at);
}

// lasted is how long since t: "6 s", "3 min".
function lasted(t) {
  return ago(t).replace(/ ago$/, '');
}

function bytes(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

// fact is one row of the facts list: a term, a state pill or null, and text.
function fact(term, pill, text, id) {
  const dd = el('dd', { id });
  if (pill) dd.append(el('span', { class: `pill ${pill.cls}` }, pill.text), ' ');
  dd.append(text);
  return [el('dt', {}, term), dd];
}

function uplinkFact(u) {
  let pill;
  let text = '';
  if (!u.since) {
    pill = { cls: 'wait', text: 'not tried yet' };
  } else if (u.connected) {
    pill = { cls: 'online', text: 'connected' };
    text = `for ${lasted(u.since)}`;
  } else {
    pill = { cls: 'bad', text: 'down' };
    text = `for ${lasted(u.since)}, ${u.errors} failed sends`;
  }
  const rows = fact('Uplink', pill, text, 'edge-uplink');
  rows[1].append(el('span', { class: 'edge-sub' }, u.via));
  if (u.last_error && !u.connected) {
    rows[1].append(el('span', { class: 'edge-sub edge-err' }, u.last_error));
  } else if (u.last_error) {
    rows[1].append(el('span', { class: 'edge-sub muted' }, `last error ${ago(u.last_error_at)}: ${u.last_error}`));
  }
  return rows;
}

function render() {
  if (gone || !info) return;
  const s = info.spool;
  const h = info.history;
  const backlog = s.readings > 0 ? `${s.readings} waiting, oldest ${ago(s.oldest)} (${bytes(s.bytes)})` : 'empty: everything sent';
  const dl = el('dl', { class: 'edge-facts' },
    ...uplinkFact(info.uplink),
    ...fact('Spool', { cls: s.readings > 100 ? 'warn' : 'online', text: String(s.readings) }, backlog, 'edge-spool'),
    ...fact('History', null, `${h.readings} readings, ${bytes(h.bytes)} of ${bytes(h.max_bytes)}` +
      (h.oldest ? `, since ${ago(h.oldest)}` : ''), 'edge-history'),
    ...fact('Device', null, `${info.device} · boot ${info.boot}`, 'edge-device'));
  if (s.last_error) dl.append(...fact('Spool error', { cls: 'bad', text: 'error' }, s.last_error, 'edge-spool-error'));

  const rows = info.sensors.map((x) => {
    const cls = x.state === 'ok' ? 'online' : x.state === 'starting' ? 'wait' : 'bad';
    const detail = x.last_error
      ? `${x.state === 'ok' ? `recovered; last error: ` : ''}${x.last_error_kind ? `${x.last_error_kind}: ` : ''}${x.last_error}`
      : x.last_ok ? `read ${ago(x.last_ok)}` : '';
    return el('tr', { 'data-sensor': x.sensor },
      el('th', { scope: 'row' }, x.sensor + (x.simulated ? ' (simulated)' : '')),
      el('td', {}, el('span', { class: `pill ${cls}` }, x.state)),
      el('td', { class: 'edge-detail' }, detail));
  });
  const table = el('table', { class: 'edge-sensors' },
    el('caption', {}, 'Sensors'),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Sensor'), el('th', { scope: 'col' }, 'State'), el('th', { scope: 'col' }, 'Detail'))),
    el('tbody', {}, ...rows));
  const head = el('h2', { id: 'edge-title' }, 'This edge');
  const kids = [head, dl, table];
  if (failure) kids.push(el('p', { class: 'msg error' }, `Could not update (${failure}); retrying.`));
  panel.replaceChildren(...kids);
  panel.setAttribute('aria-labelledby', 'edge-title');
  panel.hidden = false;
}

// The read-only test hook, as window.tributary is for the rest.
window.tributaryEdge = Object.freeze({
  /** shown: whether the panel is on the page */
  shown: () => !panel.hidden,
  /** info: the last GET api/edge answer, or null */
  info: () => (info ? structuredClone(info) : null),
  /** loads: answers applied; gone: the server said it is no edge */
  state: () => ({ loads, gone, failure }),
});

if (panel && document.documentElement.dataset.site === 'edge') {
  poll();
  setInterval(render, 1000); // ages move
}
