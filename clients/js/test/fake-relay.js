// A scripted relay for the unit tests: a WebSocket constructor whose sockets the test opens, feeds frames and drops,
// so that each protocol rule of the client is checked exactly, without a server.

export const tick = ms => new Promise(resolve => setTimeout(resolve, ms));

/** Waits until `condition()` is truthy (polling), or fails after `timeoutMs`. */
export async function until(condition, timeoutMs = 2000, what = 'the condition') {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

export class FakeRelay {
  sockets = [];

  constructor() {
    const relay = this;
    this.WebSocket = class FakeSocket {
      constructor(url, protocols) {
        this.url = url;
        this.protocols = protocols;
        this.readyState = 0;
        this.sent = [];
        this.closedByClient = null;
        relay.sockets.push(this);
      }

      send(text) {
        if (this.readyState !== 1) throw new Error('not open');
        this.sent.push(JSON.parse(text));
      }

      close(code, reason) {
        if (this.readyState === 3) return;
        this.closedByClient = { code, reason };
        this.readyState = 3;
        setTimeout(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? '' }), 0);
      }

      /** The server side: accept the upgrade. */
      open() {
        this.readyState = 1;
        this.onopen?.({});
        return this;
      }

      /** The server side: one text frame holding these objects, separated by '\n'. */
      srv(...frames) {
        this.onmessage?.({ data: frames.map(f => JSON.stringify(f)).join('\n') });
        return this;
      }

      welcome(groups = [], positions = undefined, user = 'alice') {
        return this.srv({ type: 'welcome', connectionId: `c${relay.sockets.indexOf(this)}`, user, groups, ...(positions ? { positions } : {}) });
      }

      /** The server side: the connection ends (1006 unless told). */
      drop(code = 1006, reason = '') {
        this.readyState = 3;
        this.onclose?.({ code, reason });
      }

      sentOf(type, group) {
        return this.sent.filter(f => f.type === type && (group === undefined || f.group === group));
      }

      lastOf(type, group) {
        return this.sentOf(type, group).at(-1);
      }
    };
  }

  get last() {
    return this.sockets.at(-1);
  }

  /** Waits for the client's n-th socket (1-based; by default the next one not opened yet) and opens it. */
  async accept(n = undefined) {
    const pick = () => (n === undefined ? this.sockets.find(s => s.readyState === 0 && !s.closedByClient) : this.sockets[n - 1]);
    await until(() => pick(), 2000, n === undefined ? 'a new socket' : `socket #${n}`);
    return pick().open();
  }
}

export const msg = (seq, group = 'team', from = 'bob') => ({ type: 'message', group, from, seq, ts: 1, body: { n: seq } });

export const range = (from, to, group) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i, group));

/** Options that make the client quick and deterministic under test. */
export const quick = relay => ({
  url: 'ws://127.0.0.1:9/relay',
  WebSocket: relay.WebSocket,
  fetch: async () => ({ status: 400, arrayBuffer: async () => new ArrayBuffer(0) }),
  reconnect: { initialDelayMs: 5, maxDelayMs: 5, jitter: 0 },
  heartbeatMs: 0,
});
