/**
 * @grouprelay/client: the official GroupRelay client for browsers and Node.js (wire protocol grouprelay.v1).
 *
 * One dependency-free ES module. Its types are in client.d.ts beside it; the guide is docs/clients.md. The relay's
 * ASP.NET Core endpoint serves this very file: `MapGroupRelay("/relay")` answers GET /relay/client.js.
 *
 *   import { GroupRelayClient } from '/relay/client.js';        // or from '@grouprelay/client'
 *   const client = new GroupRelayClient({ url: '/relay', accessTokenFactory: () => getToken() });
 *   client.on('message', m => show(m.group, m.from, m.body));   // each seq once, in seq order, across reconnects
 *   client.on('unrecovered', u => reload(u.group, u.from));     // messages the relay no longer has
 *   client.on('unauthorized', () => signIn().then(token => client.setAccessToken(token)));
 *   await client.start();
 *   const { seq, duplicate } = await client.send('team', { text: 'hi' });
 *
 * What it does (PROTOCOL.md section 6):
 * - Reconnects after a drop with exponential backoff and jitter, at once on the browser's `online` event, trying the
 *   next of `urls` after each failure. `accessTokenFactory` is called before every connect.
 * - Sends wait in a bounded queue while disconnected. A send written but not acknowledged when the connection drops
 *   is written again, with the same id, on the next connection: the relay delivers it once and answers `duplicate`.
 * - Keeps, per group, the epoch and the highest seq handed to the app. After every welcome (and on `added`, and when
 *   a live seq skips one) it asks `history` from there, pages while `limit` cuts the reply, and hands the messages
 *   over in seq order, each seq once, holding live frames that arrive early. What the relay no longer has (aged out,
 *   or its numbering restarted under a new epoch) is reported as `unrecovered`, with the first missing seq.
 * - When the relay refuses the identity (close 4003, or a failed connect after which a plain GET of the relay URL
 *   answers 401 or 403) it stops trying, emits `unauthorized` once, and connects again only when the app calls
 *   setAccessToken(...), start() or reconnectNow().
 */

/** The WebSocket subprotocol this client speaks. */
export const PROTOCOL = 'grouprelay.v1';

const OPEN = 1;
const CLOSE_UNAUTHORIZED = 4003;
const MAX_WATCH_PER_REQUEST = 1000;
const RATE_LIMIT_PAUSE_MS = 1000;

const EVENTS = new Set([
  'message', 'presence', 'joined', 'left', 'added', 'removed', 'reset', 'unrecovered', 'synced',
  'state', 'unauthorized', 'welcome', 'error',
]);

const RECONNECT_DEFAULTS = Object.freeze({ initialDelayMs: 500, maxDelayMs: 30_000, factor: 2, jitter: 0.5, maxAttempts: Infinity });

/**
 * A request the relay refused (`code` is the protocol's error code, PROTOCOL.md section 4: `not_member`,
 * `bad_request`, `forbidden`, ...) or that the client could not complete (`queue_full`, `timeout`, `stopped`,
 * `disconnected`, `unauthorized`, `outcome_unknown`).
 */
export class GroupRelayError extends Error {
  /**
   * @param {string} code The protocol's error code, or the client's.
   * @param {string} message For people; may change between versions. `code` is the contract.
   * @param {object} [frame] The relay's error frame, when there was one.
   */
  constructor(code, message, frame) {
    super(message);
    this.name = 'GroupRelayError';
    this.code = code;
    this.frame = frame;
  }
}

export class GroupRelayClient {
  // ---- options ----
  #urls;
  #tokenFactory;
  #WebSocket;
  #fetch;
  #protocols;
  #reconnect;
  #maxQueuedSends;
  #maxInFlightSends;
  #resendWindowMs;
  #requestTimeoutMs;
  #connectTimeoutMs;
  #heartbeatMs;
  #historyPageSize;
  #initialHistory;

  // ---- connection ----
  #state = 'disconnected';
  #socket = null;
  #generation = 0; // bumped by every attempt, drop and stop: callbacks of a socket left behind are ignored
  #urlIndex = 0;
  #attempt = 0; // consecutive failed attempts, for the backoff
  #retryTimer = null;
  #connectTimer = null;
  #heartbeatTimer = null;
  #heard = true;
  #welcome = null;
  #startWaiters = [];
  #onOnline = null;

  // ---- requests ----
  #idPrefix = randomPrefix();
  #nextId = 1;
  #nextOrder = 0;
  #sendQueue = []; // sends not written yet (or to be written again), in the order the app made them
  #inFlight = new Map(); // id -> send written on this connection, waiting for its ack
  #requests = new Map(); // id -> other request (the app's or the client's own), waiting for its reply
  #collectors = new Set(); // the app's history requests on the wire: they gather the replayed frames
  #pauseTimer = null;
  #unavailableStreak = 0;

  // ---- groups and presence ----
  #groups = new Set();
  #streams = new Map(); // group -> { epoch, seq, pending: Map<seq, frame>, sync: null | { after, target } }
  #watched = new Map(); // user -> { online, status }
  #status = null;
  #handlers = new Map();

  /**
   * @param {import('./client.d.ts').GroupRelayClientOptions} options
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('GroupRelayClient: options must be an object');
    const urls = options.urls ?? (options.url !== undefined ? [options.url] : []);
    if (!Array.isArray(urls) || urls.length === 0) {
      throw new TypeError('GroupRelayClient: give options.url, or options.urls (a non-empty list of relay URLs)');
    }
    this.#urls = urls.map(String);
    for (const url of this.#urls) relayUrls(url, null); // a bad URL fails here, not at the first connect

    this.#tokenFactory = toTokenFactory(options.accessTokenFactory);
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this.#WebSocket !== 'function') {
      throw new TypeError('GroupRelayClient: this runtime has no global WebSocket (Node.js before 22): pass options.WebSocket, e.g. the ws package\'s WebSocket');
    }
    this.#fetch = options.fetch ?? (typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : null);
    this.#protocols = options.protocols ?? [PROTOCOL];

    if (options.reconnect === false) {
      this.#reconnect = null;
    } else {
      const r = { ...RECONNECT_DEFAULTS, ...(typeof options.reconnect === 'object' && options.reconnect !== null ? options.reconnect : {}) };
      number('reconnect.initialDelayMs', r.initialDelayMs, 0);
      number('reconnect.maxDelayMs', r.maxDelayMs, 0);
      number('reconnect.factor', r.factor, 1);
      number('reconnect.jitter', r.jitter, 0, 1);
      number('reconnect.maxAttempts', r.maxAttempts, 0);
      this.#reconnect = Object.freeze(r);
    }
    this.#maxQueuedSends = number('maxQueuedSends', options.maxQueuedSends ?? 1000, 0);
    this.#maxInFlightSends = number('maxInFlightSends', options.maxInFlightSends ?? 32, 1);
    this.#resendWindowMs = number('resendWindowMs', options.resendWindowMs ?? 100_000, 0);
    this.#requestTimeoutMs = number('requestTimeoutMs', options.requestTimeoutMs ?? 30_000, 1);
    this.#connectTimeoutMs = number('connectTimeoutMs', options.connectTimeoutMs ?? 15_000, 1);
    this.#heartbeatMs = number('heartbeatMs', options.heartbeatMs ?? 25_000, 0);
    this.#historyPageSize = number('historyPageSize', options.historyPageSize ?? 100, 1, 1000);
    this.#initialHistory = options.initialHistory ?? 'retained';
    if (this.#initialHistory !== 'retained' && this.#initialHistory !== 'none') {
      throw new TypeError("GroupRelayClient: initialHistory must be 'retained' or 'none'");
    }
    for (const [group, position] of Object.entries(options.positions ?? {})) {
      if (!position || typeof position.epoch !== 'string' || !Number.isInteger(position.seq) || position.seq < 0) {
        throw new TypeError(`GroupRelayClient: positions['${group}'] must be { epoch: string, seq: integer >= 0 }`);
      }
      this.#streams.set(group, newStream(position.epoch, position.seq));
    }
  }

  // ---- properties ------------------------------------------------------------------------------------------------

  /** 'disconnected' | 'connecting' | 'connected' | 'reconnecting' | 'unauthorized' */
  get state() { return this.#state; }

  /** The user id the relay gave in the last welcome (null before the first). */
  get user() { return this.#welcome?.user ?? null; }

  /** The connection id of the last welcome (null before the first). */
  get connectionId() { return this.#welcome?.connectionId ?? null; }

  /** The user's groups, as of the last welcome, `added` and `removed`. */
  get groups() { return new Set(this.#groups); }

  /** The relay URL of the current (or next) attempt, as given in the options (never with the token). */
  get url() { return this.#urls[this.#urlIndex]; }

  /** Per group, the epoch and the highest seq handed to the app: pass it as `positions` to resume elsewhere. */
  get positions() {
    const positions = {};
    for (const [group, stream] of this.#streams) {
      if (stream.epoch !== null) positions[group] = { epoch: stream.epoch, seq: stream.seq };
    }
    return positions;
  }

  /** The groups being recovered right now (their newer messages are held until the gap is filled). */
  get syncing() {
    const groups = new Set();
    for (const [group, stream] of this.#streams) if (stream.sync || stream.pending.size > 0) groups.add(group);
    return groups;
  }

  /** Sends waiting to be written: while disconnected, or beyond the in-flight window. */
  get queuedSends() { return this.#sendQueue.length; }

  // ---- lifecycle -------------------------------------------------------------------------------------------------

  /**
   * Connects; resolves with the welcome frame. Keeps trying (backoff, next URL) until a welcome arrives; rejects
   * with a GroupRelayError whose code is 'unauthorized' (the relay refused the identity), 'stopped' (stop() was
   * called) or 'disconnected' (reconnecting is off, or maxAttempts ran out). From 'unauthorized', tries again.
   * @returns {Promise<object>}
   */
  start() {
    if (this.#state === 'connected') return Promise.resolve(this.#welcome);
    const promise = new Promise((resolve, reject) => this.#startWaiters.push({ resolve, reject }));
    if (this.#state === 'disconnected' || this.#state === 'unauthorized') {
      this.#listenOnline(true);
      this.#attempt = 0;
      this.#connect();
    }
    return promise;
  }

  /**
   * Closes the connection (1000) and stops reconnecting. Waiting sends and requests reject with 'stopped' (a send
   * already written may still have been delivered). Positions are kept: start() again resumes every group.
   * @returns {Promise<void>} resolves once the socket has closed (at most about 2 s).
   */
  async stop() {
    if (this.#state === 'disconnected' && !this.#socket) return;
    this.#generation++;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#listenOnline(false);
    const socket = this.#socket;
    this.#socket = null;
    this.#onConnectionLost();
    this.#failEverything(new GroupRelayError('stopped', 'the client was stopped'));
    if (this.#state !== 'disconnected') this.#setState('disconnected', { code: 1000, reason: 'stopped' });
    if (socket) await closeSocket(socket, 1000, 'client stopped');
  }

  /**
   * Tries at once: while waiting to reconnect, skips the rest of the delay; after 'unauthorized', connects again
   * (with a token from accessTokenFactory). Does nothing in other states.
   */
  reconnectNow() {
    if (this.#state === 'reconnecting') {
      this.#connect();
    } else if (this.#state === 'unauthorized') {
      this.start().catch(() => { /* reported through the events */ });
    }
  }

  /**
   * Gives the client a new token (a string) or a new accessTokenFactory (a function), used from the next connect on.
   * After 'unauthorized' it connects again at once; while waiting to reconnect it tries at once. An open connection
   * is left as it is (the relay checked the identity at its handshake).
   * @param {string | null | (() => string | null | undefined | Promise<string | null | undefined>)} tokenOrFactory
   */
  setAccessToken(tokenOrFactory) {
    this.#tokenFactory = toTokenFactory(tokenOrFactory);
    this.reconnectNow();
  }

  // ---- requests --------------------------------------------------------------------------------------------------

  /**
   * Publishes `body` (any JSON value) to `group`. Resolves with `{ seq, duplicate }` once the relay acknowledged it,
   * across reconnects (resent with the same id: the relay delivers it once). Rejects with a GroupRelayError: the
   * relay's code (`not_member`, `forbidden`, `bad_request`, ...), 'queue_full' (maxQueuedSends sends are waiting
   * already), 'stopped', 'disconnected', or 'outcome_unknown' (written, unacknowledged, and too old to resend safely).
   * @param {string} group
   * @param {unknown} body
   * @param {{ echo?: boolean }} [options] `echo: false`: not delivered to this connection (its other ones get it).
   * @returns {Promise<{ seq: number, duplicate: boolean }>}
   */
  send(group, body, options = {}) {
    if (typeof group !== 'string' || group.length === 0) return Promise.reject(new TypeError('send: group must be a non-empty string'));
    if (body === undefined) return Promise.reject(new TypeError('send: body must be a JSON value (not undefined)'));
    if (this.#state === 'disconnected') return Promise.reject(notRunning());
    if (this.#sendQueue.length >= this.#maxQueuedSends) {
      return Promise.reject(new GroupRelayError('queue_full',
        `${this.#sendQueue.length} sends are already waiting for the connection (maxQueuedSends ${this.#maxQueuedSends}); wait for some to be acknowledged`));
    }
    const id = this.#newId();
    const frame = { type: 'send', id, group, body };
    if (options.echo === false) frame.echo = false;
    let text;
    try {
      text = JSON.stringify(frame);
    } catch (error) {
      return Promise.reject(new TypeError(`send: body is not serialisable as JSON (${errorText(error)})`));
    }
    return new Promise((resolve, reject) => {
      this.#sendQueue.push({ id, text, order: this.#nextOrder++, firstWrittenAt: 0, resolve, reject });
      this.#pump();
    });
  }

  /**
   * Asks for the retained messages of `group` after a seq. Resolves with the relay's position and the replayed
   * messages `{ group, epoch, seq, complete, messages }`. Replayed messages the app has not had yet are also
   * handed over as 'message' events (each seq once); the client resumes by itself, so call this to read further back.
   * @param {string} group
   * @param {{ after?: number, limit?: number, epoch?: string }} [options]
   */
  history(group, options = {}) {
    const after = options.after ?? 0;
    const fields = { group, after };
    if (options.limit !== undefined) fields.limit = options.limit;
    if (options.epoch !== undefined) fields.epoch = options.epoch;
    const limit = options.limit ?? 100;
    const collector = { group, after, frames: new Map() };
    return this.#appRequest('history', fields, frame => ({
      group,
      epoch: frame.epoch,
      seq: frame.seq,
      complete: frame.complete === true,
      messages: [...collector.frames.values()].filter(m => m.seq <= frame.seq).sort(bySeq).slice(0, limit),
    }), collector);
  }

  /**
   * Watches users' presence. Resolves with `{ online: [{ user, status }], offline, forbidden }`; then every change
   * is a 'presence' event. The client watches them again after every reconnect (and reports what changed meanwhile).
   * @param {Iterable<string>} users
   */
  watch(users) {
    const list = [...users];
    return this.#appRequest('watch', { users: list }, frame => {
      const result = { online: frame.online ?? [], offline: frame.offline ?? [], forbidden: frame.forbidden ?? [] };
      for (const { user, status } of result.online) this.#watched.set(user, { online: true, status: status ?? null });
      for (const user of result.offline) this.#watched.set(user, { online: false, status: null });
      for (const user of result.forbidden) this.#watched.delete(user);
      return result;
    });
  }

  /** Stops watching users. @param {Iterable<string>} users @returns {Promise<void>} */
  unwatch(users) {
    const list = [...users];
    for (const user of list) this.#watched.delete(user);
    return this.#appRequest('unwatch', { users: list }, () => undefined);
  }

  /**
   * Sets the user's status (an app-defined string of 1 to 32 characters, e.g. 'away'; null clears it). The relay
   * forgets it when the user goes offline, so the client sets it again after every reconnect.
   * @param {string | null} value @returns {Promise<void>}
   */
  setStatus(value) {
    this.#status = value ?? null;
    return this.#appRequest('status', { value: this.#status }, () => undefined);
  }

  /** Who of a group is online. @param {string} group @returns {Promise<{ group: string, online: string[] }>} */
  members(group) {
    return this.#appRequest('members', { group }, frame => ({ group: frame.group ?? group, online: frame.online ?? [] }));
  }

  /** A round trip to the relay. @returns {Promise<void>} */
  ping() {
    return this.#appRequest('ping', {}, () => undefined);
  }

  // ---- events ----------------------------------------------------------------------------------------------------

  /**
   * Subscribes to an event; returns a function that unsubscribes. Events: message, presence, joined, left, added,
   * removed, reset, unrecovered, synced, state, unauthorized, welcome, error.
   */
  on(event, handler) {
    if (!EVENTS.has(event)) throw new TypeError(`GroupRelayClient: there is no '${event}' event (${[...EVENTS].join(', ')})`);
    if (typeof handler !== 'function') throw new TypeError('GroupRelayClient: the handler must be a function');
    let handlers = this.#handlers.get(event);
    if (!handlers) this.#handlers.set(event, handlers = new Set());
    handlers.add(handler);
    return () => this.off(event, handler);
  }

  /** Unsubscribes a handler given to on(). */
  off(event, handler) {
    this.#handlers.get(event)?.delete(handler);
  }

  // ---- connecting ------------------------------------------------------------------------------------------------

  async #connect() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const generation = ++this.#generation;
    const url = this.#urls[this.#urlIndex];
    this.#setState('connecting', { url });
    let opened = false;
    let target = null;
    // Covers the token, the TCP and WebSocket handshakes and the welcome.
    this.#connectTimer = setTimeout(() => {
      if (generation !== this.#generation) return;
      this.#dropped({ url, code: null, reason: `no welcome within ${this.#connectTimeoutMs} ms`, opened, checkUrl: target?.http ?? null });
    }, this.#connectTimeoutMs);

    let token;
    try {
      token = await this.#tokenFactory();
    } catch (error) {
      if (generation === this.#generation) this.#attemptFailed({ url, code: null, reason: `accessTokenFactory failed: ${errorText(error)}` });
      return;
    }
    if (generation !== this.#generation) return;

    let socket;
    try {
      target = relayUrls(url, token);
      socket = new this.#WebSocket(target.ws, this.#protocols);
    } catch (error) {
      this.#attemptFailed({ url, code: null, reason: errorText(error) });
      return;
    }
    this.#socket = socket;
    socket.onopen = () => { opened = true; };
    socket.onerror = () => { /* the close event follows, with what the runtime tells */ };
    socket.onmessage = event => {
      if (generation === this.#generation) this.#receive(event.data);
    };
    socket.onclose = event => {
      if (generation === this.#generation) this.#dropped({ url, code: event.code, reason: event.reason, opened, checkUrl: target.http });
    };
  }

  /** The socket closed (or was given up): what was in flight goes back to wait; then retry, or stop. */
  async #dropped({ url, code, reason, opened, checkUrl }) {
    const socket = this.#socket;
    this.#socket = null;
    const generation = ++this.#generation;
    if (socket && socket.readyState !== 3 /* CLOSED */) {
      socket.onclose = null;
      try { socket.close(); } catch { /* closing anyway */ }
    }
    this.#onConnectionLost();

    if (code === CLOSE_UNAUTHORIZED) {
      this.#refused({ url, status: null, code, reason: reason || 'unauthorized' });
      return;
    }
    if (!opened && checkUrl && this.#fetch) {
      // A browser cannot see why an upgrade failed; the relay answers a plain GET with 401 for a refused identity
      // (PROTOCOL.md section 6.4). One GET per failed attempt, and only then.
      const status = await checkIdentity(this.#fetch, checkUrl);
      if (generation !== this.#generation) return; // stopped or restarted meanwhile
      if (status === 401 || status === 403) {
        this.#refused({ url, status, code, reason: reason || `the relay answered ${status}` });
        return;
      }
    }
    this.#attemptFailed({ url, code, reason });
  }

  #attemptFailed({ url, code, reason }) {
    this.#socket = null;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#retryTimer);
    this.#connectTimer = this.#retryTimer = null;
    const reconnect = this.#reconnect;
    if (!reconnect || this.#attempt >= reconnect.maxAttempts) {
      this.#halt(new GroupRelayError('disconnected', reconnect
        ? `could not connect after ${this.#attempt + 1} attempts (${describeClose(code, reason)})`
        : `the connection closed (${describeClose(code, reason)}) and reconnect is off`), { url, code, reason });
      return;
    }
    const delayMs = this.#backoff(this.#attempt);
    this.#attempt++;
    this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
    this.#setState('reconnecting', { url: this.#urls[this.#urlIndex], attempt: this.#attempt, delayMs, code, reason });
    this.#retryTimer = setTimeout(() => this.#connect(), delayMs);
  }

  #refused(details) {
    this.#socket = null;
    this.#setState('unauthorized', { url: details.url, code: details.code, reason: details.reason });
    this.#emit('unauthorized', details);
    this.#rejectStart(new GroupRelayError('unauthorized',
      `the relay refused the identity (${details.status ? `HTTP ${details.status}` : describeClose(details.code, details.reason)}): give the client a new token`));
  }

  /** Stops for good after a failure: everything waiting rejects with `error`. */
  #halt(error, details) {
    this.#listenOnline(false);
    this.#failEverything(error);
    this.#setState('disconnected', details);
  }

  #setState(state, details = {}) {
    const previous = this.#state;
    this.#state = state;
    this.#emit('state', { state, previous, attempt: this.#attempt, delayMs: null, url: this.url, code: null, reason: null, ...details });
  }

  #listenOnline(on) {
    if (typeof globalThis.addEventListener !== 'function') return;
    if (on && !this.#onOnline) {
      // Back on the network: no reason to sit out the rest of a long backoff.
      this.#onOnline = () => { if (this.#state === 'reconnecting') this.#connect(); };
      globalThis.addEventListener('online', this.#onOnline);
    } else if (!on && this.#onOnline) {
      globalThis.removeEventListener('online', this.#onOnline);
      this.#onOnline = null;
    }
  }

  /** What a lost connection leaves behind: sends to write again, requests to ask again, groups to resume. */
  #onConnectionLost() {
    clearTimeout(this.#connectTimer);
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#pauseTimer);
    this.#connectTimer = this.#heartbeatTimer = this.#pauseTimer = null;
    if (this.#inFlight.size > 0) {
      this.#sendQueue = [...this.#inFlight.values(), ...this.#sendQueue].sort(byOrder);
      this.#inFlight.clear();
    }
    for (const [id, request] of this.#requests) {
      if (request.internal) this.#requests.delete(id);
      else request.written = false;
    }
    for (const collector of this.#collectors) collector.frames.clear();
    this.#collectors.clear();
    for (const stream of this.#streams.values()) {
      // Frames held beyond a gap are asked for again after the next welcome.
      stream.sync = null;
      stream.pending.clear();
    }
  }

  #failEverything(error) {
    for (const entry of this.#sendQueue) entry.reject(error);
    for (const entry of this.#inFlight.values()) entry.reject(error);
    this.#sendQueue = [];
    this.#inFlight.clear();
    for (const request of this.#requests.values()) {
      clearTimeout(request.timer);
      if (!request.internal) request.reject(error);
    }
    this.#requests.clear();
    this.#collectors.clear();
    this.#rejectStart(error);
  }

  #rejectStart(error) {
    for (const waiter of this.#startWaiters.splice(0)) waiter.reject(error);
  }

  #startHeartbeat() {
    if (!this.#heartbeatMs) return;
    this.#heard = true;
    const generation = this.#generation;
    this.#heartbeatTimer = setInterval(() => {
      if (generation !== this.#generation) return;
      if (!this.#heard) {
        // Nothing at all for a whole interval, not even the pong: the connection is dead (sleep, network change).
        this.#dropped({ url: this.url, code: null, reason: 'heartbeat timeout', opened: true, checkUrl: null });
        return;
      }
      this.#heard = false;
      this.#write('{"type":"ping"}');
    }, this.#heartbeatMs);
  }

  // ---- receiving -------------------------------------------------------------------------------------------------

  #receive(data) {
    this.#heard = true;
    if (typeof data !== 'string') {
      this.#emit('error', { type: 'error', code: 'bad_frame', message: 'the relay sent a binary frame' });
      return;
    }
    const generation = this.#generation;
    // The relay may coalesce several JSON objects into one frame, separated by '\n'.
    for (const line of data.split('\n')) {
      if (generation !== this.#generation) return; // a handler stopped the client, or the connection was given up
      if (!line) continue;
      let frame;
      try {
        frame = JSON.parse(line);
      } catch {
        this.#emit('error', { type: 'error', code: 'bad_frame', message: 'the relay sent a frame that is not JSON' });
        continue;
      }
      if (frame !== null && typeof frame === 'object' && !Array.isArray(frame)) this.#dispatch(frame);
    }
  }

  #dispatch(frame) {
    if (typeof frame.id === 'string' && this.#reply(frame)) return;
    switch (frame.type) {
      case 'welcome': this.#onWelcome(frame); return;
      case 'message': this.#onMessage(frame); return;
      case 'presence': this.#onPresence(frame); return;
      case 'joined':
      case 'left': this.#emit(frame.type, frame); return;
      case 'added': this.#onAdded(frame); return;
      case 'removed': this.#onRemoved(frame); return;
      case 'reset': this.#onReset(frame); return;
      case 'error': this.#emit('error', frame); return;
      default: return; // pong of the heartbeat; frame types of later versions
    }
  }

  #onWelcome(frame) {
    clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
    const first = this.#welcome === null;
    const previousGroups = this.#groups;
    this.#welcome = frame;
    this.#groups = new Set(Array.isArray(frame.groups) ? frame.groups : []);
    this.#attempt = 0;
    this.#startHeartbeat();

    // Decide every group's resume before anyone hears of the welcome, so `syncing` is right in the handlers.
    const positions = frame.positions ?? {};
    const lost = [];
    for (const group of this.#groups) {
      const unrecovered = this.#plan(group, positions[group]);
      if (unrecovered) lost.push(unrecovered);
    }
    for (const group of [...this.#streams.keys()]) {
      if (!this.#groups.has(group)) this.#streams.delete(group);
    }

    const generation = this.#generation;
    this.#setState('connected', { url: this.url });
    this.#emit('welcome', frame);
    if (generation !== this.#generation) return; // a handler stopped the client
    if (!first) {
      for (const group of previousGroups) if (!this.#groups.has(group)) this.#emit('removed', { type: 'removed', group });
      for (const group of this.#groups) {
        if (!previousGroups.has(group)) this.#emit('added', { type: 'added', group, ...positions[group] });
      }
    }
    for (const unrecovered of lost) this.#emit('unrecovered', unrecovered);
    for (const group of this.#groups) {
      if (generation !== this.#generation) return;
      const stream = this.#streams.get(group);
      if (!stream) continue;
      if (stream.sync) this.#requestPage(group, stream);
      else this.#emit('synced', { group, epoch: stream.epoch, seq: stream.seq });
    }

    if (generation !== this.#generation) return;

    // What the relay forgot with the old connection: watched users, the status.
    const users = [...this.#watched.keys()];
    for (let i = 0; i < users.length; i += MAX_WATCH_PER_REQUEST) {
      this.#internalRequest('watch', { users: users.slice(i, i + MAX_WATCH_PER_REQUEST) }, reply => this.#onRewatched(reply));
    }
    if (this.#status !== null) this.#internalRequest('status', { value: this.#status }, () => {});

    for (const request of this.#requests.values()) {
      if (!request.written && !request.internal) this.#writeRequest(request);
    }
    this.#pump();
    for (const waiter of this.#startWaiters.splice(0)) waiter.resolve(frame);
  }

  #reply(frame) {
    const send = this.#inFlight.get(frame.id);
    if (send) {
      this.#inFlight.delete(frame.id);
      if (frame.type === 'error' && (frame.code === 'rate_limited' || frame.code === 'unavailable')) {
        // Nothing was delivered: the same id goes again after a pause (PROTOCOL.md section 4).
        this.#sendQueue.push(send);
        this.#sendQueue.sort(byOrder);
        this.#pause(frame.code === 'rate_limited' ? RATE_LIMIT_PAUSE_MS : this.#backoff(this.#unavailableStreak++));
      } else if (frame.type === 'error') {
        send.reject(errorFromFrame(frame));
      } else {
        this.#unavailableStreak = 0;
        send.resolve({ seq: frame.seq, duplicate: frame.duplicate === true });
      }
      this.#pump();
      return true;
    }
    const request = this.#requests.get(frame.id);
    if (!request || !request.written) return false;
    this.#requests.delete(frame.id);
    clearTimeout(request.timer);
    if (request.collector) this.#collectors.delete(request.collector);
    request.onReply(frame);
    return true;
  }

  #onPresence(frame) {
    if (typeof frame.user !== 'string') return;
    if (this.#watched.has(frame.user)) this.#watched.set(frame.user, { online: frame.online === true, status: frame.status ?? null });
    this.#emit('presence', frame);
  }

  #onRewatched(reply) {
    if (reply.type === 'error') return;
    const report = (user, online, status) => {
      const known = this.#watched.get(user);
      if (!known) return; // unwatched meanwhile
      if (known.online === online && known.status === status) return;
      this.#watched.set(user, { online, status });
      this.#emit('presence', { type: 'presence', user, online, status });
    };
    for (const { user, status } of reply.online ?? []) report(user, true, status ?? null);
    for (const user of reply.offline ?? []) report(user, false, null);
    for (const user of reply.forbidden ?? []) this.#watched.delete(user);
  }

  #onAdded(frame) {
    if (typeof frame.group !== 'string') return;
    this.#groups.add(frame.group);
    const unrecovered = this.#plan(frame.group, frame);
    this.#emit('added', frame);
    if (unrecovered) this.#emit('unrecovered', unrecovered);
    const stream = this.#streams.get(frame.group);
    if (stream?.sync) this.#requestPage(frame.group, stream);
    else if (stream) this.#emit('synced', { group: frame.group, epoch: stream.epoch, seq: stream.seq });
  }

  #onRemoved(frame) {
    if (typeof frame.group !== 'string') return;
    this.#groups.delete(frame.group);
    this.#streams.delete(frame.group);
    this.#emit('removed', frame);
  }

  #onReset(frame) {
    if (typeof frame.group !== 'string' || typeof frame.epoch !== 'string') return;
    const group = frame.group;
    const stream = this.#streams.get(group);
    if (stream && stream.epoch === frame.epoch) return; // nothing restarted for this client
    if (stream && stream.epoch !== null) {
      // The old stream is gone: hand over what is held of it, and say what of it could not be had.
      const previousEpoch = stream.epoch;
      const gone = (from, to) => this.#emit('unrecovered', { group, epoch: frame.epoch, previousEpoch, from, to, reason: 'epoch_changed' });
      for (const held of [...stream.pending.values()].sort(bySeq)) {
        if (held.seq > stream.seq + 1) gone(stream.seq + 1, held.seq - 1);
        this.#handOver(stream, held);
      }
      if (stream.sync && stream.sync.target !== null && stream.sync.target > stream.seq) gone(stream.seq + 1, stream.sync.target);
    }
    const next = newStream(frame.epoch, 0);
    this.#streams.set(group, next);
    this.#emit('reset', frame);
    if (Number.isInteger(frame.seq) && frame.seq > 0) {
      next.sync = { after: 0, target: frame.seq };
      this.#requestPage(group, next);
    }
  }

  // ---- resume (PROTOCOL.md section 6) ----------------------------------------------------------------------------

  /**
   * Compares the relay's position of a group (welcome or added) with what was handed to the app, and marks the group
   * for recovery when the relay has more. Returns the 'unrecovered' event when the epoch changed.
   */
  #plan(group, position) {
    let stream = this.#streams.get(group);
    if (!position || typeof position.epoch !== 'string' || !Number.isInteger(position.seq)) {
      // A relay without streams: live messages only.
      if (!stream) this.#streams.set(group, newStream(null, 0));
      return null;
    }
    let unrecovered = null;
    if (!stream || stream.epoch === null) {
      // Never seen: hand over what the relay retains (or, with initialHistory 'none', only what comes next).
      stream = newStream(position.epoch, this.#initialHistory === 'none' ? position.seq : 0);
      this.#streams.set(group, stream);
    } else if (stream.epoch !== position.epoch) {
      // The numbering restarted (the relay restarted, or its backplane lost the stream): what came after the last
      // seq handed over, in the old epoch, is out of reach. The new epoch is replayed from its start.
      unrecovered = { group, epoch: position.epoch, previousEpoch: stream.epoch, from: stream.seq + 1, to: null, reason: 'epoch_changed' };
      stream.epoch = position.epoch;
      stream.seq = 0;
    } else if (stream.seq > position.seq) {
      stream.seq = position.seq; // positions given by the app that the relay never reached: trust the relay
    }
    stream.pending.clear();
    stream.sync = position.seq > stream.seq ? { after: stream.seq, target: position.seq } : null;
    return unrecovered;
  }

  #onMessage(frame) {
    const group = frame.group;
    if (typeof group !== 'string') return;
    const seq = frame.seq;
    if (!Number.isInteger(seq)) {
      this.#emit('message', frame); // a relay without streams
      return;
    }
    for (const collector of this.#collectors) {
      if (collector.group === group && seq > collector.after) collector.frames.set(seq, frame);
    }
    let stream = this.#streams.get(group);
    if (!stream) this.#streams.set(group, stream = newStream(null, seq - 1));
    if (seq <= stream.seq || stream.pending.has(seq)) return; // handed over already, or held already
    if (seq === stream.seq + 1) {
      this.#handOver(stream, frame);
      this.#drain(stream);
      return;
    }
    // A seq was skipped: hold this one and ask for the gap.
    stream.pending.set(seq, frame);
    if (!stream.sync) {
      stream.sync = { after: stream.seq, target: null };
      this.#requestPage(group, stream);
    }
  }

  #handOver(stream, frame) {
    stream.seq = frame.seq;
    if (stream.epoch !== null) frame.epoch = stream.epoch;
    this.#emit('message', frame);
  }

  #drain(stream) {
    while (stream.pending.size > 0) {
      const next = stream.pending.get(stream.seq + 1);
      if (!next) return;
      stream.pending.delete(next.seq);
      this.#handOver(stream, next);
    }
  }

  #requestPage(group, stream) {
    const sync = stream.sync;
    sync.after = stream.seq;
    const fields = { group, after: stream.seq, limit: this.#historyPageSize };
    if (stream.epoch !== null) fields.epoch = stream.epoch;
    this.#internalRequest('history', fields, reply => this.#onPage(group, sync, reply));
  }

  #onPage(group, sync, reply) {
    const stream = this.#streams.get(group);
    if (!stream || stream.sync !== sync) return; // superseded: reset, removed, or a new connection
    if (reply.type === 'error') {
      if (reply.code === 'not_member') {
        stream.sync = null; // a 'removed' is on its way
        return;
      }
      const generation = this.#generation;
      setTimeout(() => {
        if (generation === this.#generation && stream.sync === sync) this.#requestPage(group, stream);
      }, reply.code === 'rate_limited' ? RATE_LIMIT_PAUSE_MS : this.#backoff(0));
      return;
    }
    if (typeof reply.epoch === 'string' && stream.epoch !== null && reply.epoch !== stream.epoch) {
      // The epoch changed after the welcome (and no reset said so on this connection): nothing was replayed.
      this.#emit('unrecovered', { group, epoch: reply.epoch, previousEpoch: stream.epoch, from: stream.seq + 1, to: null, reason: 'epoch_changed' });
      const next = newStream(reply.epoch, 0);
      this.#streams.set(group, next);
      if (Number.isInteger(reply.seq) && reply.seq > 0) {
        next.sync = { after: 0, target: reply.seq };
        this.#requestPage(group, next);
      } else {
        this.#emit('synced', { group, epoch: next.epoch, seq: 0 });
      }
      return;
    }
    if (stream.epoch === null && typeof reply.epoch === 'string') stream.epoch = reply.epoch;
    const target = Number.isInteger(reply.seq) ? reply.seq : stream.seq;
    // Nothing right after `after` was replayed: those messages are no longer retained (retention keeps the newest).
    if (stream.seq < target && stream.seq === sync.after) this.#skip(group, stream, target);
    if (stream.seq < target && reply.complete === false) {
      sync.target = Math.max(sync.target ?? 0, target);
      this.#requestPage(group, stream); // the page was cut by `limit`: ask for the next one
      return;
    }
    if (stream.seq < target) this.#skip(group, stream, target); // complete, yet short: never wait for what cannot come
    stream.sync = null;
    if (stream.pending.size > 0) {
      // Held frames beyond the reply's position with a gap before them: ask again from here.
      stream.sync = { after: stream.seq, target: null };
      this.#requestPage(group, stream);
      return;
    }
    this.#emit('synced', { group, epoch: stream.epoch, seq: stream.seq });
  }

  /** Reports the messages from the next seq up to the first one held (or `target`) as gone, then hands over the rest. */
  #skip(group, stream, target) {
    let firstHeld = Infinity;
    for (const seq of stream.pending.keys()) if (seq < firstHeld) firstHeld = seq;
    const to = Math.min(firstHeld - 1, target);
    if (to > stream.seq) {
      this.#emit('unrecovered', { group, epoch: stream.epoch, previousEpoch: null, from: stream.seq + 1, to, reason: 'aged_out' });
      stream.seq = to;
    }
    this.#drain(stream);
  }

  // ---- writing ---------------------------------------------------------------------------------------------------

  #newId() {
    return `${this.#idPrefix}-${this.#nextId++}`;
  }

  #write(text) {
    const socket = this.#socket;
    if (this.#state !== 'connected' || !socket || socket.readyState !== OPEN) return false;
    try {
      socket.send(text);
      return true;
    } catch {
      return false;
    }
  }

  /** Writes waiting sends while connected, not paused, and under the in-flight window. */
  #pump() {
    if (this.#state !== 'connected' || this.#pauseTimer) return;
    const now = Date.now();
    while (this.#sendQueue.length > 0 && this.#inFlight.size < this.#maxInFlightSends) {
      const entry = this.#sendQueue[0];
      if (entry.firstWrittenAt && now - entry.firstWrittenAt > this.#resendWindowMs) {
        // Past the relay's idempotency window its id may be forgotten: sending it again could deliver it twice.
        this.#sendQueue.shift();
        entry.reject(new GroupRelayError('outcome_unknown',
          `the send was written ${Math.round((now - entry.firstWrittenAt) / 1000)} s ago and never acknowledged; it may or may not have been delivered (resendWindowMs)`));
        continue;
      }
      if (!this.#write(entry.text)) return;
      this.#sendQueue.shift();
      if (!entry.firstWrittenAt) entry.firstWrittenAt = now;
      this.#inFlight.set(entry.id, entry);
    }
  }

  #pause(ms) {
    clearTimeout(this.#pauseTimer);
    const generation = this.#generation;
    this.#pauseTimer = setTimeout(() => {
      this.#pauseTimer = null;
      if (generation === this.#generation) this.#pump();
    }, ms);
  }

  /** The wait before attempt `attempt` (0-based): exponential, capped, less a random part (jitter). */
  #backoff(attempt) {
    const r = this.#reconnect ?? RECONNECT_DEFAULTS;
    const ceiling = Math.min(r.maxDelayMs, r.initialDelayMs * Math.pow(r.factor, attempt));
    return Math.round(ceiling * (1 - r.jitter * Math.random()));
  }

  #appRequest(type, fields, transform, collector = null) {
    if (this.#state === 'disconnected') return Promise.reject(notRunning());
    return new Promise((resolve, reject) => {
      const id = this.#newId();
      const request = {
        id, frame: { ...fields, type, id }, written: false, internal: false, collector, reject, timer: null,
        onReply: reply => (reply.type === 'error' ? reject(errorFromFrame(reply)) : resolve(transform(reply))),
      };
      request.timer = setTimeout(() => {
        this.#requests.delete(id);
        if (collector) this.#collectors.delete(collector);
        reject(new GroupRelayError('timeout', `no reply to '${type}' within ${this.#requestTimeoutMs} ms (requestTimeoutMs)`));
      }, this.#requestTimeoutMs);
      this.#requests.set(id, request);
      if (this.#state === 'connected') this.#writeRequest(request);
    });
  }

  /** A request of the client's own (resume, re-watch): dropped with its connection, decided again at the next welcome. */
  #internalRequest(type, fields, onReply) {
    const id = this.#newId();
    const request = { id, frame: { ...fields, type, id }, written: false, internal: true, collector: null, timer: null, onReply };
    this.#writeRequest(request);
    if (request.written) this.#requests.set(id, request);
  }

  #writeRequest(request) {
    if (!this.#write(JSON.stringify(request.frame))) return;
    request.written = true;
    if (request.collector) {
      request.collector.frames.clear();
      this.#collectors.add(request.collector);
    }
  }

  #emit(event, value) {
    const handlers = this.#handlers.get(event);
    if (!handlers) return;
    for (const handler of [...handlers]) {
      try {
        handler(value);
      } catch (error) {
        // A failing handler must not break the connection or the other handlers.
        if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
        else console.error(`GroupRelayClient: a '${event}' handler threw`, error);
      }
    }
  }
}

// ---- helpers -----------------------------------------------------------------------------------------------------

function newStream(epoch, seq) {
  return { epoch, seq, pending: new Map(), sync: null };
}

function bySeq(a, b) { return a.seq - b.seq; }

function byOrder(a, b) { return a.order - b.order; }

function notRunning() {
  return new GroupRelayError('stopped', 'the client is not running: call start() first');
}

function errorFromFrame(frame) {
  return new GroupRelayError(typeof frame.code === 'string' ? frame.code : 'internal', frame.message ?? 'the relay refused the request', frame);
}

function errorText(error) {
  return error instanceof Error ? error.message : String(error);
}

function describeClose(code, reason) {
  if (code === null || code === undefined) return reason || 'no connection';
  return reason ? `${code} ${reason}` : String(code);
}

function number(name, value, min, max = Infinity) {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    throw new TypeError(`GroupRelayClient: ${name} must be a number from ${min}${max === Infinity ? '' : ` to ${max}`}, not ${value}`);
  }
  return value;
}

function toTokenFactory(value) {
  if (value === undefined || value === null) return () => null;
  if (typeof value === 'string') return () => value;
  if (typeof value === 'function') return value;
  throw new TypeError('GroupRelayClient: the access token must be a string, or a function that returns one (or a promise of one)');
}

/** The WebSocket URL (with the token as access_token, since browsers cannot set headers on one) and its http(s) twin. */
function relayUrls(raw, token) {
  const base = typeof location !== 'undefined' && location && typeof location.href === 'string' ? location.href : undefined;
  let url;
  try {
    url = new URL(raw, base);
  } catch {
    throw new TypeError(`GroupRelayClient: '${raw}' is not a URL${base ? '' : ' (outside a browser it must be absolute: ws://host:port/relay)'}`);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new TypeError(`GroupRelayClient: '${raw}' is not a ws, wss, http or https URL`);
  if (token) url.searchParams.set('access_token', String(token));
  const http = new URL(url.href);
  http.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  return { ws: url.href, http: http.href };
}

/** PROTOCOL.md section 6.4: a plain GET of the relay URL answers 401 when the token is refused, 400 when it is valid. */
async function checkIdentity(fetchFn, url) {
  const controller = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = controller ? setTimeout(() => controller.abort(), 5000) : null;
  try {
    // With the page's cookies too (a host may authenticate with them): a cross-origin relay must then allow the
    // origin with credentials, or the answer cannot be read and the client takes the relay as unreachable.
    const response = await fetchFn(url, { method: 'GET', signal: controller?.signal, credentials: 'include' });
    await response.arrayBuffer().catch(() => {});
    return response.status;
  } catch {
    return null; // unreachable, or a cross-origin answer the page may not read: unknown
  } finally {
    clearTimeout(timer);
  }
}

function closeSocket(socket, code, reason) {
  return new Promise(resolve => {
    if (socket.readyState === 3 /* CLOSED */) {
      resolve();
      return;
    }
    const timer = setTimeout(resolve, 2000);
    socket.onclose = () => {
      clearTimeout(timer);
      resolve();
    };
    socket.onmessage = null;
    try {
      socket.close(code, reason);
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

function randomPrefix() {
  const bytes = new Uint8Array(9);
  if (globalThis.crypto && typeof globalThis.crypto.getRandomValues === 'function') globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('');
}
