// The actuators of the selected device: a control for each (a switch or a
// slider), its current state (from its state readings: sensor = the
// actuator's name, metric "on" or "duty"), each command's progress as the
// device reports it, and the recent audit trail (who, when, what, outcome).
//
// Commands go on the open WebSocket ({"type":"command",...}); while it is
// down, by POST api/devices/ID/commands. Only operators (GET api/me) get
// live controls; a viewer sees them disabled, with a note.

const AUDIT_LIMIT = 20; // records shown
const MAX_RECORDS = 200; // records kept
const MAX_STATUSES = 8; // statuses kept per record
const TIMEOUT = '30s'; // a command not applied within this is refused by the device, never applied late

/** newID makes up a command id the answers can be matched with. */
function newID() {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return 'd-' + [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function timeText(iso) {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toLocaleTimeString() : '';
}

/**
 * Commands renders into root. apiURL(path) resolves API paths; devices is
 * the Devices registry (for state readings); send(msg) sends a message on
 * the WebSocket and reports whether it could; onChange() asks for a render.
 */
export class Commands {
  constructor(root, { apiURL, devices, send, onChange }) {
    this.root = root;
    this.apiURL = apiURL;
    this.devices = devices;
    this.sendWS = send;
    this.onChange = onChange;
    this.me = null; // {user, operator, commands}
    this.device = null;
    this.actuators = [];
    this.records = new Map(); // id -> {command, statuses, error, sentAt}
    this.loadError = '';
    this.token = 0;
    this.controls = new Map(); // actuator name -> {row, input, state, progress}
    // Settles once api/me has answered: a server without commands is
    // never asked for actuators.
    this.ready = new Promise((resolve) => { this.meLoaded = resolve; });
    this.loadMe();
  }

  async loadMe(attempt = 0) {
    try {
      const res = await fetch(this.apiURL('api/me'), { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.me = await res.json();
      this.meLoaded();
      this.build();
    } catch {
      setTimeout(() => this.loadMe(attempt + 1), Math.min(30000, 1000 * 2 ** attempt));
    }
  }

  /** select shows id's actuators (null: none). */
  select(id) {
    this.token++; // a load for the device shown before is dropped
    this.device = id;
    this.actuators = [];
    this.records.clear();
    this.loadError = '';
    this.build();
    if (id) this.load(id);
  }

  /** reload refetches the actuators and the audit trail (after a gap in the stream). */
  reload() { if (this.device) this.load(this.device); }

  async load(id, attempt = 0) {
    const token = ++this.token;
    await this.ready;
    if (token !== this.token || !this.me.commands) return;
    try {
      const dev = encodeURIComponent(id);
      const [a, l] = await Promise.all([
        fetch(this.apiURL(`api/devices/${dev}/actuators`), { cache: 'no-store' }),
        fetch(this.apiURL(`api/devices/${dev}/commands?limit=${AUDIT_LIMIT}`), { cache: 'no-store' }),
      ]);
      if (a.status === 404) return; // a server without commands
      if (!a.ok || !l.ok) throw new Error(`HTTP ${a.ok ? l.status : a.status}`);
      const acts = await a.json();
      const log = await l.json();
      if (token !== this.token) return;
      this.actuators = acts.actuators || [];
      for (const r of log.commands || []) this.merge(r.command, r.statuses || [], r.local);
      this.loadError = '';
      this.build();
    } catch (err) {
      if (token !== this.token) return;
      this.loadError = `Could not load the actuators (${err.message}); retrying.`;
      setTimeout(() => { if (token === this.token) this.load(id, attempt + 1); }, Math.min(30000, 1000 * 2 ** attempt));
    }
    this.onChange();
  }

  merge(cmd, statuses, local = false) {
    let r = this.records.get(cmd.id);
    if (!r) {
      r = { command: cmd, statuses: [], error: '', local };
      this.records.set(cmd.id, r);
    }
    r.local = r.local || local;
    r.command = { ...r.command, ...cmd };
    for (const s of statuses) {
      if (r.statuses.length < MAX_STATUSES && !r.statuses.some((o) => o.state === s.state && o.ts === s.ts)) r.statuses.push(s);
    }
    // A device flooding events must not grow the page without bound: the
    // oldest records go first (a Map iterates in insertion order).
    for (const id of this.records.keys()) {
      if (this.records.size <= MAX_RECORDS) break;
      this.records.delete(id);
    }
  }

  /** frame takes a command or error frame from the stream. */
  frame(f) {
    if (f.type === 'command') {
      const c = f.command || f.command_status;
      if (!c || c.device !== this.device) return;
      if (f.command) this.merge(f.command, [], !!f.local);
      else this.merge({ id: c.id, device: c.device, actuator: c.actuator, value: c.value }, [c]);
    } else if (f.type === 'error' && f.id && this.records.has(f.id)) {
      this.records.get(f.id).error = f.error;
    } else {
      return;
    }
    this.onChange();
  }

  /** send asks the device to set actuator to value. */
  async send(actuator, value) {
    const id = newID();
    const device = this.device;
    this.records.set(id, {
      command: { id, device, actuator, value, by: this.me ? this.me.user : '', at: new Date().toISOString() },
      statuses: [], error: '', sending: true,
    });
    this.onChange();
    const msg = { type: 'command', id, device, actuator, value, timeout: TIMEOUT };
    if (this.sendWS(msg)) return;
    try {
      const res = await fetch(this.apiURL(`api/devices/${encodeURIComponent(device)}/commands`), {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, cache: 'no-store',
        body: JSON.stringify({ id, actuator, value, timeout: TIMEOUT }),
      });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
      this.merge(body, []);
    } catch (err) {
      const r = this.records.get(id);
      if (r) r.error = err.message;
    }
    this.onChange();
  }

  /** state is an actuator's value from its newest state reading, or null. */
  state(a) {
    const d = this.device && this.devices.get(this.device);
    const r = d && d.latest.get(`${a.name}/${a.kind === 'switch' ? 'on' : 'duty'}`);
    return r ? r.value : null;
  }

  /** progress is a record's state in words. */
  static progress(r) {
    if (r.error) return { state: 'error', text: `not sent: ${r.error}` };
    const s = r.statuses[r.statuses.length - 1];
    if (!s && r.command.deadline && Date.parse(r.command.deadline) < Date.now()) {
      // The device said nothing by the deadline: it will never apply it.
      return { state: 'silent', text: 'no answer by its deadline: the device will not apply it' };
    }
    if (!s) return r.command.deadline ? { state: 'recorded', text: 'recorded, waiting for the device' } : { state: 'sending', text: 'sending…' };
    let text = s.state;
    if (s.reason) text += `: ${s.reason.replaceAll('_', ' ')}`;
    if (s.detail) text += ` (${s.detail})`;
    return { state: s.state, text };
  }

  /** pending is the newest record for actuator that is not final. */
  pending(name) {
    let best = null;
    for (const r of this.records.values()) {
      if (r.command.actuator !== name || r.error) continue;
      const st = Commands.progress(r).state;
      if (['sending', 'recorded', 'accepted'].includes(st) && (!best || r.command.at > best.command.at)) best = r;
    }
    return best;
  }

  sorted() {
    return [...this.records.values()].sort((a, b) => (a.command.at < b.command.at ? 1 : a.command.at > b.command.at ? -1 : 0));
  }

  mayAct() { return !!(this.me && this.me.operator); }

  note() {
    if (!this.me) return '';
    if (this.me.operator) return '';
    if (!this.me.user) return 'Commands are off: this server has no sign-in, and only operators may switch actuators.';
    return `Signed in as ${this.me.user}, a viewer: only operators may switch actuators.`;
  }

  /** build lays out the panel's controls (once per device and list). */
  build() {
    const root = this.root;
    root.replaceChildren();
    this.controls.clear();
    root.hidden = !this.device || !this.me || !this.me.commands || (this.actuators.length === 0 && !this.loadError);
    if (root.hidden) return;
    root.append(el('h3', 'act-title', 'Actuators'));
    const note = el('p', 'act-note');
    note.id = 'act-note';
    root.append(note);
    const list = el('ul', 'act-list');
    for (const a of this.actuators) {
      const row = el('li', 'act');
      row.dataset.actuator = a.name;
      const name = el('div', 'act-name');
      name.append(el('span', 'act-label', a.label || a.name));
      if (a.label) name.append(el('span', 'muted act-id', a.name));
      const state = el('span', 'act-state');
      const ctl = el('label', 'act-ctl');
      let input;
      if (a.kind === 'switch') {
        input = el('input', 'act-switch');
        input.type = 'checkbox';
        input.setAttribute('role', 'switch');
        input.setAttribute('aria-label', `${a.label || a.name} on`);
        input.addEventListener('change', () => this.send(a.name, input.checked ? 1 : 0));
        ctl.append(input);
      } else {
        input = el('input', 'act-slider');
        input.type = 'range';
        input.min = 0; // off is always allowed; between 0 and min snaps to min
        input.max = a.max;
        input.step = 1;
        input.setAttribute('aria-label', `${a.label || a.name} level`);
        const out = el('output', 'act-out');
        input.addEventListener('input', () => { out.textContent = `${input.value} %`; input.dataset.editing = '1'; });
        input.addEventListener('change', () => {
          delete input.dataset.editing;
          let v = Number(input.value);
          if (v > 0 && v < a.min) v = a.min;
          this.send(a.name, v);
        });
        ctl.append(input, out);
      }
      const progress = el('span', 'act-progress');
      progress.setAttribute('role', 'status');
      row.append(name, state, ctl, progress);
      list.append(row);
      this.controls.set(a.name, { a, row, input, state, progress });
    }
    root.append(list);
    root.append(el('h4', 'act-title', 'Recent commands'));
    const audit = el('ol', 'act-audit');
    audit.id = 'act-audit';
    root.append(audit);
    this.render();
  }

  /** render updates states, progress and the audit list in place. */
  render() {
    if (this.root.hidden) return;
    const may = this.mayAct();
    const note = this.root.querySelector('#act-note');
    note.textContent = this.loadError || this.note();
    note.classList.toggle('error', !!this.loadError);
    note.hidden = !note.textContent;
    for (const { a, row, input, state, progress } of this.controls.values()) {
      const v = this.state(a);
      const p = this.pending(a.name);
      state.textContent = v === null ? 'state unknown' : a.kind === 'switch' ? (v >= 1 ? 'on' : 'off') : `${Math.round(v)} %`;
      row.dataset.state = v === null ? 'unknown' : a.kind === 'switch' ? (v >= 1 ? 'on' : 'off') : 'level';
      input.disabled = !may;
      if (a.kind === 'switch') {
        input.checked = p ? p.command.value >= 1 : v !== null && v >= 1;
      } else if (!input.dataset.editing) {
        const want = p ? p.command.value : v;
        if (want !== null) {
          input.value = want;
          input.nextSibling.textContent = `${Math.round(want)} %`;
        }
      }
      const last = this.sorted().find((r) => r.command.actuator === a.name);
      const pr = last ? Commands.progress(last) : null;
      progress.textContent = pr ? pr.text : '';
      progress.dataset.state = pr ? pr.state : '';
    }
    const audit = this.root.querySelector('#act-audit');
    audit.replaceChildren();
    for (const r of this.sorted().slice(0, AUDIT_LIMIT)) {
      const c = r.command;
      const p = Commands.progress(r);
      const li = el('li', 'act-rec');
      li.dataset.id = c.id;
      li.dataset.state = p.state;
      // A local command's sender is the device's word for it: never shown
      // as if the cloud had authenticated it.
      const who = r.local ? (c.by ? `on the device (${c.by})` : 'on the device') : (c.by || 'anonymous');
      li.append(el('span', 'muted', timeText(c.at)), el('span', 'act-who', who),
        el('span', 'act-what', `${c.actuator} → ${c.value}`), el('span', 'act-outcome', p.text));
      audit.append(li);
    }
  }

  /** snapshot is the plain-data view for tests. */
  snapshot() {
    return {
      user: this.me ? this.me.user : null,
      operator: this.mayAct(),
      note: this.loadError || this.note(),
      actuators: [...this.controls.values()].map(({ a, input, state }) => ({
        name: a.name, kind: a.kind, state: state.textContent, disabled: input.disabled,
      })),
      records: this.sorted().map((r) => ({
        id: r.command.id, actuator: r.command.actuator, value: r.command.value, by: r.command.by,
        ...Commands.progress(r),
      })),
    };
  }
}
