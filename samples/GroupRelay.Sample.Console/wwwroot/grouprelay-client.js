/**
 * GroupRelay browser client: protocol grouprelay.v1 (PROTOCOL.md) in one dependency-free ES module.
 *
 *   import { GroupRelayClient, GroupRelayError } from './grouprelay-client.js';
 *
 *   const client = new GroupRelayClient({ url: 'ws://127.0.0.1:5080/relay', token });
 *   client.on('message', m => console.log(m.group, m.from, m.seq, m.body));
 *   client.on('state', s => console.log('connection is', s.state));
 *   client.on('unrecovered', g => console.log(`#${g.group}: messages from seq ${g.from} are gone`));
 *   const welcome = await client.connect();            // { user, connectionId, groups, positions }
 *   const { seq } = await client.send('team', { text: 'hi' });
 *
 * Resume (PROTOCOL.md section 6): the client keeps, per group, the epoch and the highest seq it handed to the app
 * (in memory: a reloaded page starts with nothing). On every welcome, and on `added`, each group whose position moved
 * past that (or, for a group it knows nothing of, that has any message) is recovered: its live frames are held, it
 * asks `history` (after the last seq handed over, or 0, in that epoch), pages on while `limit` cut the replay, and
 * hands the replayed and held messages over in seq order, each seq once. What cannot be recovered (aged out, or the
 * epoch changed so the numbering restarted) is reported as an `unrecovered` event; then `synced` says the group is
 * caught up. Sends carry an id; one written but not acknowledged when the connection drops is sent again with the
 * same id after the next welcome (the relay answers `duplicate` instead of delivering it twice).
 *
 * new GroupRelayClient(options)
 *   url               Relay URL: ws:// or wss://, or a path such as '/relay' (resolved against the page). Required.
 *   token             Bearer token: a string, or a function returning a string or a promise of one, called before
 *                     every (re)connect so a fresh token can be used. Sent as the access_token query parameter,
 *                     because browsers cannot set headers on a WebSocket. Omit it when the host uses cookies.
 *   protocols         Subprotocols offered. Default ['grouprelay.v1'].
 *   reconnect         true (default), false, or { initialDelayMs: 500, maxDelayMs: 30000, factor: 2, jitter: 0.5 }:
 *                     after an unexpected close, wait min(maxDelayMs, initialDelayMs * factor^attempt), less a random
 *                     part of up to `jitter` of it (so a crowd of clients does not come back at the same instant).
 *                     The attempt count restarts at each welcome. Close code 4003 (unauthorized) is not retried.
 *   requestTimeoutMs  How long a request waits for its reply before it is rejected with code 'timeout'. Default 15000.
 *   heartbeatMs       While open, sends a ping this often; when no frame at all arrives before the next tick the
 *                     connection is taken as dead and reconnected. 0 turns it off. Default 25000.
 *   WebSocket         WebSocket implementation. Default globalThis.WebSocket.
 *
 * Properties (read-only)
 *   state         'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'. 'open' means the welcome arrived;
 *                 'reconnecting' means waiting for the next attempt (then 'connecting' again).
 *   user          The user id from the last welcome (null before).
 *   connectionId  The connection id from the last welcome.
 *   groups        Set of the user's group ids, kept up to date by welcome, added and removed.
 *   lastSeq       Map of group id to the highest message seq handed to the app: what a reconnecting client asks
 *                 history for.
 *   positions     Map of group id to { epoch, seq }: the stream position handed to the app (seq as in lastSeq).
 *   syncing       Set of the group ids being recovered right now (their messages are held until it ends).
 *
 * Methods
 *   connect()                 Opens the connection. Resolves with the welcome frame (at once when already open);
 *                             rejects when close() is called first, or when reconnect is off and the attempt fails.
 *   close(code, reason)       Closes for good (default 1000): no reconnect; waiting requests reject with 'closed'.
 *   reconnectNow()            While waiting to reconnect, tries at once.
 *   request(type, fields)     Sends {type, id, ...fields} with a fresh id. Resolves with the reply frame that carries
 *                             the same id (ack, presence, members, pong, history); rejects with a GroupRelayError whose
 *                             code is the error frame's code, or 'timeout', 'disconnected' (the connection dropped after
 *                             the request was sent, so its outcome is unknown) or 'closed'. Requests made before the
 *                             welcome wait for it: nothing that depends on membership is sent earlier. Ids are unique
 *                             per client instance (a random prefix), so a reloaded page never reuses one.
 *   send(group, body, { echo })  Publishes body (any JSON value) to a group. Resolves with { seq, duplicate }.
 *                             Not 'disconnected': a send whose ack was lost is sent again after the reconnect, with the
 *                             same id (duplicate is true when the relay had it already). requestTimeoutMs still holds.
 *   watch(users)              Watches presence; resolves with { online: [{user, status}], offline, forbidden }.
 *   unwatch(users)            Stops watching.
 *   setStatus(value)          Sets the user's status (a string such as 'away', or null).
 *   members(group)            Resolves with { group, online: [...] }.
 *   history(group, after, limit, epoch)  Asks for the retained messages after a seq; resolves with the history
 *                             result { epoch, seq, complete }. The replayed frames go through the same path as live
 *                             ones: a seq already handed over is not emitted again. The client does this by itself
 *                             on (re)connect; call it only to page further back.
 *   ping()                    Resolves with the pong frame.
 *   on(event, handler)        Subscribes; returns a function that unsubscribes. off(event, handler) does the same.
 *   once(event)               Resolves with the next such event.
 *
 * Events (the handler receives the frame, unless noted)
 *   welcome    The connection is ready (after every (re)connect).
 *   message    {group, from, seq, ts, body}: a group message, including your own echoes.
 *   presence   {user, online, status}: a watched user's state changed.
 *   joined / left      {group, user}: a member of one of your groups came online / went offline.
 *   added / removed    {group}: you were added to / removed from a group at run time.
 *   reset      {group, epoch, seq}: the group's numbering restarted under an open connection (new epoch).
 *   unrecovered  {group, epoch, from, to, reason}: messages from seq `from` (to `to`, when known) cannot be handed
 *              over: reason 'expired' (no longer retained) or 'epoch' (the stream restarted, e.g. the relay did;
 *              then `from` is in `previousEpoch`, and whether anything was missed is unknown). Say so, or reload the
 *              group from your own data.
 *   synced     {group, epoch, seq}: a group's recovery ended; what follows is live.
 *   error      {code, message}: an error frame not tied to a request you are waiting for.
 *   state      {state, previous, attempt, delayMs, code, reason}: the connection state changed. delayMs is set
 *              while reconnecting; code and reason are those of the close that caused it.
 *   frame      Every frame received, before its own event (for logging and debugging).
 *
 * Every received text frame may hold several JSON objects separated by '\n'; they are handled in order.
 */

const PROTOCOL = 'grouprelay.v1';
const DEFAULT_RECONNECT = Object.freeze({ initialDelayMs: 500, maxDelayMs: 30000, factor: 2, jitter: 0.5 });
const CLOSE_UNAUTHORIZED = 4003;

/** An error reply of the relay (code from PROTOCOL.md section 4) or a client-side failure. */
export class GroupRelayError extends Error {
  /**
   * @param {string} code  'not_member', 'bad_request', ..., or 'timeout' | 'disconnected' | 'closed'.
   * @param {string} message  Human-readable text.
   * @param {object} [frame]  The error frame, when the relay sent one.
   */
  constructor(code, message, frame) {
    super(message);
    this.name = 'GroupRelayError';
    this.code = code;
    this.frame = frame;
  }
}

export class GroupRelayClient {
  #url;
  #token;
  #protocols;
  #reconnect;
  #requestTimeoutMs;
  #heartbeatMs;
  #WebSocket;

  #state = 'idle';
  #socket = null;
  #generation = 0;
  #attempt = 0;
  #retryTimer = null;
  #heartbeatTimer = null;
  #heardSinceTick = true;
  #nextId = 1;
  #pending = new Map();   // id -> { frame, resolve, reject, timer, sent }
  #waitingForWelcome = []; // pending entries not sent yet
  #connectWaiters = [];
  #handlers = new Map();
  #welcome = null;
  #onOnline = null;
  #idPrefix = Math.random().toString(36).slice(2, 10);
  #syncs = new Map();      // group -> { epoch, after, held: [] } while that group is being recovered

  user = null;
  connectionId = null;
  groups = new Set();
  lastSeq = new Map();
  positions = new Map();

  get syncing() { return new Set(this.#syncs.keys()); }

  /** @param {{url: string, token?: string | (() => string | Promise<string>), protocols?: string[], reconnect?: boolean | object, requestTimeoutMs?: number, heartbeatMs?: number, WebSocket?: typeof WebSocket}} options */
  constructor(options) {
    if (!options || !options.url) throw new TypeError('GroupRelayClient: options.url is required');
    this.#url = options.url;
    this.#token = options.token ?? null;
    this.#protocols = options.protocols ?? [PROTOCOL];
    this.#reconnect = options.reconnect === false ? null
      : { ...DEFAULT_RECONNECT, ...(typeof options.reconnect === 'object' ? options.reconnect : {}) };
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 15000;
    this.#heartbeatMs = options.heartbeatMs ?? 25000;
    this.#WebSocket = options.WebSocket ?? globalThis.WebSocket;
  }

  get state() { return this.#state; }

  // ---- connection ---------------------------------------------------------------------------------------------

  connect() {
    if (this.#state === 'open') return Promise.resolve(this.#welcome);
    const promise = new Promise((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
    if (this.#state === 'idle' || this.#state === 'closed') {
      if (!this.#onOnline && typeof globalThis.addEventListener === 'function') {
        // Back on the network: no reason to sit out the rest of a long backoff.
        this.#onOnline = () => this.reconnectNow();
        globalThis.addEventListener('online', this.#onOnline);
      }
      this.#attempt = 0;
      this.#open();
    }
    return promise;
  }

  close(code = 1000, reason = 'client closed') {
    const previous = this.#state;
    if (this.#onOnline) {
      globalThis.removeEventListener('online', this.#onOnline);
      this.#onOnline = null;
    }
    clearTimeout(this.#retryTimer);
    this.#stopHeartbeat();
    const socket = this.#socket;
    this.#socket = null;
    this.#generation++;
    if (socket) {
      try { socket.close(code, reason); } catch { /* already closing */ }
    }
    this.#failAll(new GroupRelayError('closed', 'the client was closed'), true);
    this.#rejectConnectWaiters(new GroupRelayError('closed', 'the client was closed'));
    if (previous !== 'closed') this.#setState('closed', { code, reason });
  }

  reconnectNow() {
    if (this.#state !== 'reconnecting') return;
    clearTimeout(this.#retryTimer);
    this.#open();
  }

  async #open() {
    const generation = ++this.#generation;
    this.#setState('connecting', { attempt: this.#attempt });
    let url;
    try {
      const token = typeof this.#token === 'function' ? await this.#token() : this.#token;
      if (generation !== this.#generation) return;
      url = this.#buildUrl(token);
    } catch (error) {
      this.#onClosed(generation, 1006, `no token: ${error?.message ?? error}`);
      return;
    }

    let socket;
    try {
      socket = new this.#WebSocket(url, this.#protocols);
    } catch (error) {
      this.#onClosed(generation, 1006, String(error?.message ?? error));
      return;
    }
    this.#socket = socket;
    socket.onmessage = event => {
      if (generation === this.#generation) this.#receive(event.data);
    };
    socket.onclose = event => this.#onClosed(generation, event.code, event.reason);
    socket.onerror = () => { /* a close event follows with the details the browser gives */ };
  }

  #buildUrl(token) {
    const base = typeof location !== 'undefined' ? location.href : undefined;
    const url = new URL(this.#url, base);
    if (url.protocol === 'http:') url.protocol = 'ws:';
    if (url.protocol === 'https:') url.protocol = 'wss:';
    if (token) url.searchParams.set('access_token', token);
    return url.toString();
  }

  #onClosed(generation, code, reason) {
    if (generation !== this.#generation) return; // a socket we already left behind
    this.#socket = null;
    this.#stopHeartbeat();
    this.#generation++;
    // Held frames are asked for again after the next welcome.
    this.#syncs.clear();
    // A send whose ack was lost is sent again with the same id after the next welcome (the relay dedups it).
    for (const entry of this.#pending.values()) {
      if (entry.sent && entry.frame.type === 'send') {
        entry.sent = false;
        this.#waitingForWelcome.push(entry);
      }
    }
    // Other sent requests will never get their reply on a new connection; unsent ones wait for the next welcome.
    this.#failAll(new GroupRelayError('disconnected', `the connection closed (${code}${reason ? ' ' + reason : ''}) before the reply came`), false);

    if (!this.#reconnect || code === CLOSE_UNAUTHORIZED) {
      this.#failAll(new GroupRelayError('closed', 'the connection is closed'), true);
      this.#rejectConnectWaiters(new GroupRelayError(code === CLOSE_UNAUTHORIZED ? 'unauthorized' : 'closed', `the connection closed (${code})`));
      this.#setState('closed', { code, reason });
      return;
    }

    const { initialDelayMs, maxDelayMs, factor, jitter } = this.#reconnect;
    const ceiling = Math.min(maxDelayMs, initialDelayMs * Math.pow(factor, this.#attempt));
    const delayMs = Math.round(ceiling * (1 - jitter * Math.random()));
    this.#attempt++;
    this.#setState('reconnecting', { attempt: this.#attempt, delayMs, code, reason });
    this.#retryTimer = setTimeout(() => this.#open(), delayMs);
  }

  #setState(state, details = {}) {
    const previous = this.#state;
    this.#state = state;
    this.#emit('state', { state, previous, attempt: this.#attempt, delayMs: null, code: null, reason: null, ...details });
  }

  #startHeartbeat() {
    this.#stopHeartbeat();
    if (!this.#heartbeatMs) return;
    this.#heardSinceTick = true;
    this.#heartbeatTimer = setInterval(() => {
      if (!this.#heardSinceTick) {
        // Nothing at all since the last ping: the TCP connection is probably dead (sleep, network change).
        const socket = this.#socket;
        const generation = this.#generation;
        try { socket?.close(4000, 'heartbeat timeout'); } catch { /* ignore */ }
        this.#onClosed(generation, 1006, 'heartbeat timeout');
        return;
      }
      this.#heardSinceTick = false;
      this.#transmitRaw({ type: 'ping' });
    }, this.#heartbeatMs);
  }

  #stopHeartbeat() {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
  }

  // ---- receiving ----------------------------------------------------------------------------------------------

  #receive(data) {
    this.#heardSinceTick = true;
    if (typeof data !== 'string') {
      this.#emit('error', { type: 'error', code: 'bad_frame', message: 'the relay sent a binary frame' });
      return;
    }
    // The relay may coalesce several JSON objects into one frame, separated by '\n'.
    for (const line of data.split('\n')) {
      if (!line) continue;
      let frame;
      try {
        frame = JSON.parse(line);
      } catch {
        this.#emit('error', { type: 'error', code: 'bad_frame', message: 'the relay sent a frame that is not JSON' });
        continue;
      }
      if (frame && typeof frame === 'object') this.#dispatch(frame);
    }
  }

  #dispatch(frame) {
    this.#emit('frame', frame);
    switch (frame.type) {
      case 'welcome':
        this.#welcome = frame;
        this.user = frame.user ?? null;
        this.connectionId = frame.connectionId ?? null;
        this.groups = new Set(frame.groups ?? []);
        this.#attempt = 0;
        this.#setState('open');
        this.#startHeartbeat();
        for (const group of this.groups) this.#resume(group, frame.positions?.[group]);
        for (const entry of this.#waitingForWelcome.splice(0)) {
          if (this.#pending.has(entry.frame.id)) this.#transmit(entry);
        }
        for (const waiter of this.#connectWaiters.splice(0)) waiter.resolve(frame);
        this.#emit('welcome', frame);
        return;
      case 'message': {
        const sync = this.#syncs.get(frame.group);
        if (sync) sync.held.push(frame);
        else this.#handOver(frame);
        return;
      }
      case 'added':
        this.groups.add(frame.group);
        this.#resume(frame.group, typeof frame.seq === 'number' ? frame : undefined);
        this.#emit('added', frame);
        return;
      case 'removed':
        this.groups.delete(frame.group);
        this.#syncs.delete(frame.group);
        this.positions.delete(frame.group);
        this.lastSeq.delete(frame.group);
        this.#emit('removed', frame);
        return;
      case 'reset': {
        // The numbering restarts; the relay sends this before any message of the new epoch, and this connection got
        // every live message of the old one. Whatever a recovery in flight holds is handed over first.
        const sync = this.#syncs.get(frame.group);
        if (sync) this.#finishSync(frame.group, sync, null);
        this.#setPosition(frame.group, frame.epoch, frame.seq ?? 0);
        this.#emit('reset', frame);
        return;
      }
    }

    const entry = typeof frame.id === 'string' ? this.#pending.get(frame.id) : undefined;
    if (entry) {
      this.#settle(entry, frame);
      return;
    }
    if (frame.type === 'pong' && frame.id === undefined) return; // heartbeat
    this.#emit(frame.type === 'error' ? 'error' : frame.type, frame);
  }

  // ---- resume (PROTOCOL.md section 6) -------------------------------------------------------------------------

  /** Hands a message to the app unless its seq was handed over already; advances the group's position. */
  #handOver(frame) {
    if (typeof frame.seq === 'number') {
      const known = this.positions.get(frame.group);
      if (known && frame.seq <= known.seq) return;
      this.#setPosition(frame.group, known?.epoch, frame.seq);
    }
    this.#emit('message', frame);
  }

  #setPosition(group, epoch, seq) {
    const position = this.positions.get(group);
    if (position) Object.assign(position, { epoch, seq });
    else this.positions.set(group, { epoch, seq });
    this.lastSeq.set(group, seq);
  }

  /** Compares the relay's position of a group (from welcome or added) with what was handed over; recovers the gap. */
  #resume(group, position) {
    if (!position || typeof position.seq !== 'number') return; // a relay without streams: live only
    const known = this.positions.get(group);
    if (known && known.epoch !== position.epoch) {
      // The numbering restarted (e.g. the relay restarted): the old epoch's later messages, if any, are out of reach.
      this.#emit('unrecovered', { group, epoch: position.epoch, previousEpoch: known.epoch, from: known.seq + 1, to: null, reason: 'epoch' });
    }
    const after = known && known.epoch === position.epoch ? known.seq : 0;
    this.#setPosition(group, position.epoch, after);
    if (position.seq > after) {
      const sync = { epoch: position.epoch, after, held: [] };
      this.#syncs.set(group, sync);
      this.#nextPage(group, sync);
    }
  }

  async #nextPage(group, sync) {
    let result;
    try {
      result = await this.history(group, sync.after, undefined, sync.epoch);
    } catch (error) {
      if (this.#syncs.get(group) !== sync) return; // dropped: the connection closed, or the group was removed/reset
      console.warn(`GroupRelayClient: history of '${group}' failed`, error);
      this.#finishSync(group, sync, null);
      return;
    }
    if (this.#syncs.get(group) !== sync) return;
    if (result.epoch !== sync.epoch) {
      // The epoch changed since the welcome: nothing was replayed; start over in the new one.
      this.#syncs.delete(group);
      const known = this.positions.get(group);
      this.#emit('unrecovered', { group, epoch: result.epoch, previousEpoch: sync.epoch, from: known.seq + 1, to: null, reason: 'epoch' });
      this.positions.delete(group);
      this.#resume(group, result);
      return;
    }
    // Retention keeps a contiguous run of the latest messages: how far does the run after `after` reach?
    let reached = sync.after;
    for (const seq of sync.held.map(f => f.seq).sort((a, b) => a - b)) {
      if (seq <= reached) continue;
      if (reached === sync.after || seq === reached + 1) reached = seq;
      else break;
    }
    if (!result.complete && reached > sync.after && reached < result.seq) {
      sync.after = reached; // the page was cut by `limit`: ask for the next one
      this.#nextPage(group, sync);
      return;
    }
    this.#finishSync(group, sync, result.seq);
  }

  /** Hands the held frames over in seq order, each seq once; reports what is missing up to `target` as unrecovered. */
  #finishSync(group, sync, target) {
    this.#syncs.delete(group);
    const stream = this.positions.get(group);
    const missing = (from, to) => this.#emit('unrecovered', { group, epoch: stream.epoch, from, to, reason: 'expired' });
    for (const frame of sync.held.sort((a, b) => a.seq - b.seq)) {
      if (frame.seq <= stream.seq) continue;
      if (frame.seq > stream.seq + 1) missing(stream.seq + 1, frame.seq - 1);
      this.#handOver(frame);
    }
    if (target !== null && target > stream.seq) {
      missing(stream.seq + 1, target);
      this.#setPosition(group, stream.epoch, target);
    }
    this.#emit('synced', { group, epoch: stream.epoch, seq: stream.seq });
  }

  // ---- requests -----------------------------------------------------------------------------------------------

  request(type, fields = {}) {
    if (this.#state === 'idle' || this.#state === 'closed') {
      return Promise.reject(new GroupRelayError('closed', 'not connected: call connect() first'));
    }
    const id = `${this.#idPrefix}-${this.#nextId++}`;
    const frame = { ...fields, type, id };
    return new Promise((resolve, reject) => {
      const entry = { frame, resolve, reject, sent: false, timer: null };
      entry.timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new GroupRelayError('timeout', `no reply to '${type}' within ${this.#requestTimeoutMs} ms`));
      }, this.#requestTimeoutMs);
      this.#pending.set(id, entry);
      if (this.#state === 'open') this.#transmit(entry);
      else this.#waitingForWelcome.push(entry);
    });
  }

  send(group, body, { echo } = {}) {
    const fields = { group, body };
    if (echo === false) fields.echo = false;
    return this.request('send', fields).then(ack => ({ seq: ack.seq, duplicate: ack.duplicate === true }));
  }

  watch(users) { return this.request('watch', { users: [...users] }); }
  unwatch(users) { return this.request('unwatch', { users: [...users] }); }
  setStatus(value) { return this.request('status', { value: value ?? null }); }
  members(group) { return this.request('members', { group }); }
  history(group, after, limit, epoch) {
    const fields = { group, after };
    if (limit !== undefined) fields.limit = limit;
    if (epoch !== undefined) fields.epoch = epoch;
    return this.request('history', fields);
  }
  ping() { return this.request('ping'); }

  #transmit(entry) {
    if (this.#transmitRaw(entry.frame)) {
      entry.sent = true;
    } else {
      this.#waitingForWelcome.push(entry);
    }
  }

  #transmitRaw(frame) {
    const socket = this.#socket;
    if (!socket || socket.readyState !== 1 /* OPEN */) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  #settle(entry, frame) {
    this.#pending.delete(frame.id);
    clearTimeout(entry.timer);
    if (frame.type === 'error') {
      entry.reject(new GroupRelayError(frame.code ?? 'internal', frame.message ?? 'the relay refused the request', frame));
    } else {
      entry.resolve(frame);
    }
  }

  #failAll(error, includeUnsent) {
    for (const [id, entry] of this.#pending) {
      if (!entry.sent && !includeUnsent) continue;
      this.#pending.delete(id);
      clearTimeout(entry.timer);
      entry.reject(error);
    }
    if (includeUnsent) this.#waitingForWelcome.length = 0;
  }

  #rejectConnectWaiters(error) {
    for (const waiter of this.#connectWaiters.splice(0)) waiter.reject(error);
  }

  // ---- events -------------------------------------------------------------------------------------------------

  on(event, handler) {
    if (!this.#handlers.has(event)) this.#handlers.set(event, new Set());
    this.#handlers.get(event).add(handler);
    return () => this.off(event, handler);
  }

  off(event, handler) {
    this.#handlers.get(event)?.delete(handler);
  }

  once(event) {
    return new Promise(resolve => {
      const off = this.on(event, value => { off(); resolve(value); });
    });
  }

  #emit(event, value) {
    for (const handler of [...(this.#handlers.get(event) ?? [])]) {
      try {
        handler(value);
      } catch (error) {
        // A failing handler must not break the connection or the other handlers.
        console.error(`GroupRelayClient: a '${event}' handler threw`, error);
      }
    }
  }
}
