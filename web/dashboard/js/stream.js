// The one WebSocket to the cloud's /api/stream, kept open.

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30000;
// A connection that lasted this long was healthy: the next failure starts
// the backoff from the beginning again.
const HEALTHY_MS = 10000;

/**
 * Stream keeps one WebSocket open to url, for the readings of all devices,
 * and reconnects by itself with jittered exponential backoff.
 *
 * Its state is one of:
 *   connecting    first connection, not yet confirmed by a status frame
 *   live          connected, and the cloud says live readings flow
 *   down          connected, but the cloud says they do not (Redis down)
 *   reconnecting  the connection was lost; a retry is scheduled or running
 *
 * Callbacks: onReadings(readings) for each readings frame; onState(info) on
 * every change of state; onResume() when readings flow again after a gap (a
 * reconnect, or status going back to live), so that history can be reloaded
 * to fill it. Not called on the first connection if it is live from the
 * start. onFrame(frame) for every other frame (command progress, errors).
 */
export class Stream {
  constructor(url, { onReadings, onState, onResume, onFrame = () => {} }) {
    this.url = url;
    this.onReadings = onReadings;
    this.onFrame = onFrame;
    this.onState = onState;
    this.onResume = onResume;
    this.state = 'connecting';
    this.reason = '';
    this.attempt = 0; // failed attempts since the last healthy connection
    this.reconnects = 0; // connections opened after the first
    this.gap = false; // readings may have been missed since the last live status
    this.ws = null;
    this.timer = 0;
    this.retryAt = 0;
    this.openedAt = 0;
    this.everOpened = false;
  }

  /**
   * start opens the connection. While reconnecting, it retries at once when
   * the browser's network comes back or the tab is shown again, instead of
   * waiting out the backoff.
   */
  start() {
    const retryNow = () => {
      if (this.state === 'reconnecting' && this.timer) {
        clearTimeout(this.timer);
        this.timer = 0;
        this.connect();
      }
    };
    window.addEventListener('online', retryNow);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') retryNow();
    });
    this.connect();
  }

  /** send sends msg (an object, as JSON) and reports whether the connection could take it. */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** info is a snapshot of the state, for the UI and tests. */
  info() {
    return {
      state: this.state,
      reason: this.reason,
      reconnects: this.reconnects,
      retryInMs: this.timer ? Math.max(0, this.retryAt - Date.now()) : 0,
    };
  }

  setState(state, reason = '') {
    if (state === this.state && reason === this.reason) return;
    this.state = state;
    this.reason = reason;
    this.onState(this.info());
  }

  connect() {
    this.timer = 0;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      if (this.everOpened) this.reconnects++;
      this.everOpened = true;
      this.openedAt = Date.now();
      // The cloud's first frame is its status; the state changes then.
    };
    ws.onmessage = (ev) => this.handle(ev.data);
    // onerror is always followed by onclose, which does the work.
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.openedAt && Date.now() - this.openedAt >= HEALTHY_MS) this.attempt = 0;
      this.openedAt = 0;
      this.gap = true;
      this.schedule(ev.code === 1006 ? 'connection lost' : `closed (${ev.code}${ev.reason ? ' ' + ev.reason : ''})`);
    };
  }

  schedule(reason) {
    // Equal jitter: half the exponential step, plus up to the other half at
    // random, so that many dashboards losing one cloud do not return at once.
    const step = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delay = step / 2 + Math.random() * (step / 2);
    this.attempt++;
    this.retryAt = Date.now() + delay;
    this.timer = setTimeout(() => this.connect(), delay);
    this.setState('reconnecting', reason);
  }

  handle(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      console.warn('tributary: ignoring a frame that is not JSON');
      return;
    }
    if (frame.v !== 1) {
      console.warn(`tributary: ignoring a frame of version ${frame.v}`);
      return;
    }
    if (frame.type === 'readings' && Array.isArray(frame.readings)) {
      this.onReadings(frame.readings);
    } else if (frame.type === 'status' && frame.status) {
      if (frame.status.live) {
        const resumed = this.gap;
        this.gap = false;
        this.setState('live');
        if (resumed) this.onResume();
      } else {
        this.gap = true;
        this.setState('down', frame.status.reason || 'no live data');
      }
    } else {
      this.onFrame(frame);
    }
  }
}
