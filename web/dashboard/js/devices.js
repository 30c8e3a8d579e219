// The device registry as the dashboard knows it, and its list on the page.

import { compareMetrics, formatAge, formatValue } from './format.js';

/**
 * A device is online if it was heard from within ONLINE_MS, or the cloud's
 * --offline-after, which GET /api/devices sends in a header.
 */
export const ONLINE_MS = 30 * 1000;

/**
 * Devices tracks every device: when it was last heard from and its newest
 * value per series. Times are on the browser's clock: the REST API's
 * last_seen (the cloud's clock) is shifted by the measured offset between the
 * two, so a field laptop with a wrong clock still gets online/offline right.
 */
export class Devices {
  constructor() {
    this.byId = new Map(); // id -> {id, heardAt, lastSeq, latest: Map "sensor/metric" -> reading}
    this.onlineMs = ONLINE_MS;
  }

  get(id) { return this.byId.get(id); }

  ensure(id) {
    let d = this.byId.get(id);
    if (!d) {
      d = { id, heardAt: NaN, lastSeq: 0, latest: new Map() };
      this.byId.set(id, d);
    }
    return d;
  }

  /** load merges GET /api/devices; offsetMs is browser clock minus cloud clock. */
  load(list, offsetMs) {
    for (const item of list) {
      const d = this.ensure(item.id);
      const seen = Date.parse(item.last_seen) + offsetMs;
      // Keep the later of the two; heardAt is NaN for a device never heard.
      if (Number.isFinite(seen) && !(seen <= d.heardAt)) d.heardAt = seen;
      d.lastSeq = Math.max(d.lastSeq, item.last_seq || 0);
      for (const r of item.latest || []) this.keepLatest(d, r);
    }
  }

  /** heard records readings from the stream, received now. */
  heard(readings, now) {
    for (const r of readings) {
      const d = this.ensure(r.device);
      d.heardAt = now;
      d.lastSeq = Math.max(d.lastSeq, r.seq);
      this.keepLatest(d, r);
    }
  }

  keepLatest(d, r) {
    const key = `${r.sensor}/${r.metric}`;
    const old = d.latest.get(key);
    if (!old || r.seq >= old.seq) d.latest.set(key, r);
  }

  online(d, now) { return now - d.heardAt < this.onlineMs; }

  /** sorted returns the devices by id. */
  sorted() { return [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)); }

  /** snapshot is the plain-data view of every device, for tests. */
  snapshot(now) {
    return this.sorted().map((d) => ({
      id: d.id,
      online: this.online(d, now),
      lastSeen: Number.isFinite(d.heardAt) ? new Date(d.heardAt).toISOString() : null,
      lastSeq: d.lastSeq,
      latest: [...d.latest.values()].map(({ sensor, metric, value, unit, ts, seq }) => ({ sensor, metric, value, unit, ts, seq })),
    }));
  }
}

/** stateText is "online · 3 s ago" or "offline · 5 min ago". */
export function stateText(devices, d, now) {
  const age = formatAge(now - d.heardAt);
  return devices.online(d, now) ? `online · ${age}` : `offline · ${age}`;
}

// latestParts lists a device's newest values as [label, formatted value]
// pairs, shown as "temperature 21.4 °C · door closed". A metric measured by
// several sensors is labelled with the sensor: "temperature (sht31)".
function latestParts(d) {
  const rs = [...d.latest.values()].sort((a, b) => compareMetrics(a.metric, b.metric) || a.sensor.localeCompare(b.sensor));
  const count = new Map();
  for (const r of rs) count.set(r.metric, (count.get(r.metric) || 0) + 1);
  return rs.map((r) => [
    count.get(r.metric) > 1 ? `${r.metric} (${r.sensor})` : r.metric,
    formatValue(r.metric, r.value, r.unit),
  ]);
}

/**
 * DeviceList renders devices as buttons in ul, reusing elements across
 * renders so that focus and scrolling survive the once-a-second refresh.
 * onSelect(id) is called when one is clicked.
 */
export class DeviceList {
  constructor(ul, devices, onSelect) {
    this.ul = ul;
    this.devices = devices;
    this.onSelect = onSelect;
    this.items = new Map(); // id -> {li, button, name, state, latest}
  }

  render(selected, now) {
    const list = this.devices.sorted();
    list.forEach((d, i) => {
      let it = this.items.get(d.id);
      if (!it) {
        it = this.create(d.id);
        this.items.set(d.id, it);
      }
      if (this.ul.children[i] !== it.li) this.ul.insertBefore(it.li, this.ul.children[i] || null);
      const online = this.devices.online(d, now);
      it.button.classList.toggle('online', online);
      it.button.setAttribute('aria-current', d.id === selected ? 'true' : 'false');
      it.state.textContent = stateText(this.devices, d, now);
      it.latest.replaceChildren(...latestParts(d).flatMap(([label, value], j) => {
        const b = document.createElement('b');
        b.textContent = value;
        return [j ? ` · ${label} ` : `${label} `, b];
      }));
    });
  }

  create(id) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'device';
    button.dataset.device = id;
    const row = document.createElement('span');
    row.className = 'row';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = id;
    const state = document.createElement('span');
    state.className = 'state';
    row.append(name, state);
    const latest = document.createElement('span');
    latest.className = 'latest';
    button.append(row, latest);
    button.addEventListener('click', () => this.onSelect(id));
    li.append(button);
    return { li, button, state, latest };
  }
}
