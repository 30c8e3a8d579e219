// Display formatting: unit codes, values and ages.

// Readings carry UCUM unit codes (see reading/doc.go and reading/unit);
// these are the ones worth showing differently. Anything else is shown as
// sent.
const UNIT_LABELS = {
  Cel: '°C',
  '[degF]': '°F',
  '%RH': '% RH', // readings stored before humidity became UCUM's "%"
  'mm[Hg]': 'mmHg',
  "[in_i'Hg]": 'inHg',
  '[ppm]': 'ppm',
  '[ppb]': 'ppb',
  'ug/m3': 'µg/m³',
  '1': '',
};

// Codes that readings used to carry, and the code stored now: old data
// is charted with new data of the same metric. Relative humidity was
// "%RH" until Tributary stored UCUM's "%".
const UNIT_RENAMED = { '%RH': '%' };

/** canonicalUnit returns the code stored now for a unit code, old or new. */
export function canonicalUnit(code) {
  return Object.hasOwn(UNIT_RENAMED, code) ? UNIT_RENAMED[code] : code;
}

// isHumidity tells the metrics whose "%" is relative humidity.
function isHumidity(metric) {
  return /(^|_)humidity($|_)/.test(metric ?? '');
}

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

/**
 * unitLabel returns how to show a unit code ("" for dimensionless) of a
 * metric: "%" of a humidity metric is relative humidity, "% RH".
 */
export function unitLabel(code, metric) {
  if (code === '%' && isHumidity(metric)) return '% RH';
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
  const u = unitLabel(unit, metric);
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
