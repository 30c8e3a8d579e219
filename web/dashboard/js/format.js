// Display formatting: unit codes, values and ages.

// Readings carry UCUM-style unit codes (see reading/doc.go); these are the
// ones worth showing differently. Anything else is shown as sent.
const UNIT_LABELS = {
  Cel: '°C',
  '[degF]': '°F',
  '%RH': '% RH',
  '[ppm]': 'ppm',
  '1': '',
};

// These metrics come first, in this order, in charts and lists; the rest by name.
const METRIC_ORDER = ['temperature', 'humidity', 'pressure', 'illuminance', 'voltage', 'door'];

/** compareMetrics orders metric names for display. */
export function compareMetrics(a, b) {
  const rank = (m) => {
    const i = METRIC_ORDER.indexOf(m);
    return i < 0 ? METRIC_ORDER.length : i;
  };
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** unitLabel returns how to show a unit code ("" for dimensionless). */
export function unitLabel(code) {
  return Object.hasOwn(UNIT_LABELS, code) ? UNIT_LABELS[code] : code;
}

/** formatNumber rounds for reading at a glance: fewer decimals for larger values. */
export function formatNumber(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  const digits = a >= 10000 ? 0 : a >= 100 ? 1 : 2;
  return v.toLocaleString(undefined, { maximumFractionDigits: digits, useGrouping: false });
}

/**
 * formatValue shows a reading's value with its unit. A door contact
 * (metric "door": 0 closed, 1 open) is shown as a word.
 */
export function formatValue(metric, value, unit) {
  if (metric === 'door' && (value === 0 || value === 1)) return value ? 'open' : 'closed';
  const u = unitLabel(unit);
  return u ? `${formatNumber(value)} ${u}` : formatNumber(value);
}

/** formatAge turns a duration in ms into "3 s ago", "5 min ago", ... */
export function formatAge(ms) {
  if (!Number.isFinite(ms)) return 'never';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}
