// A bounded, time-ordered window of one series' points.

/**
 * SeriesWindow holds the points of one series (one sensor's metric of one
 * device), sorted by sample time, each (device, seq) at most once, and
 * bounded: points older than windowMs before the newest one, and the oldest
 * beyond maxPoints, are dropped. History and live readings may overlap and
 * arrive in any order (a history reload races the stream); add sorts that out.
 */
export class SeriesWindow {
  constructor({ windowMs, maxPoints }) {
    this.windowMs = windowMs;
    this.maxPoints = maxPoints;
    this.ts = []; // sample times, unix ms, ascending
    this.vs = []; // values, parallel to ts
    this.seqs = []; // sequence numbers, parallel to ts
    this.seen = new Set(); // seqs held, for deduplication
  }

  get length() { return this.ts.length; }

  /** add inserts a point; it returns false for a duplicate or a point too old to keep. */
  add(t, v, seq) {
    if (this.seen.has(seq)) return false;
    const n = this.ts.length;
    if (n > 0 && t < this.ts[n - 1] - this.windowMs) return false;
    let i = n;
    if (n > 0 && t < this.ts[n - 1]) {
      // Out of order (history arriving after live points): binary search.
      let lo = 0, hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.ts[mid] <= t) lo = mid + 1; else hi = mid;
      }
      i = lo;
    }
    this.ts.splice(i, 0, t);
    this.vs.splice(i, 0, v);
    this.seqs.splice(i, 0, seq);
    this.seen.add(seq);
    this.trim();
    return true;
  }

  /** trim drops points outside the window. */
  trim() {
    const n = this.ts.length;
    if (n === 0) return;
    const cut = this.ts[n - 1] - this.windowMs;
    let drop = Math.max(0, n - this.maxPoints);
    while (drop < n && this.ts[drop] < cut) drop++;
    if (drop === 0) return;
    for (let i = 0; i < drop; i++) this.seen.delete(this.seqs[i]);
    this.ts.splice(0, drop);
    this.vs.splice(0, drop);
    this.seqs.splice(0, drop);
  }
}
