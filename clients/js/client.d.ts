// Types of @grouprelay/client (client.js beside this file). The guide: docs/clients.md in the GroupRelay repository.

/** The WebSocket subprotocol the client speaks: `grouprelay.v1`. */
export declare const PROTOCOL: 'grouprelay.v1';

/** Where the client stands. */
export type GroupRelayState =
  /** Not started, or stopped (`stop()`, reconnect off, or `maxAttempts` ran out). */
  | 'disconnected'
  /** An attempt is under way (token, handshake, waiting for `welcome`). */
  | 'connecting'
  /** `welcome` arrived: requests and sends go out. */
  | 'connected'
  /** Waiting `delayMs` before the next attempt. */
  | 'reconnecting'
  /** The relay refused the identity: no attempt until `setAccessToken`, `start` or `reconnectNow`. */
  | 'unauthorized';

/** A token, or nothing (cookie authentication). */
export type AccessToken = string | null | undefined;

/** Returns the token for the next connect; called before every one of them. */
export type AccessTokenFactory = () => AccessToken | Promise<AccessToken>;

/** The part of the WebSocket API the client uses: the browser's `WebSocket`, or the `ws` package's in Node.js. */
export interface WebSocketLike {
  readonly readyState: number;
  // The client sets these; the events it reads are { data } (message) and { code, reason } (close).
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: `new WebSocket(url, protocols)`. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** How the client waits between attempts: `min(maxDelayMs, initialDelayMs * factor ** attempt)`, less up to `jitter` of it at random. */
export interface ReconnectOptions {
  /** The ceiling of the first delay. Default 500. */
  initialDelayMs?: number;
  /** The largest delay. Default 30,000. */
  maxDelayMs?: number;
  /** Growth per failed attempt. Default 2. */
  factor?: number;
  /** The random part taken off each delay, 0 to 1, so that clients do not all come back at once. Default 0.5. */
  jitter?: number;
  /** Consecutive failed attempts before the client gives up ('disconnected'). Default Infinity. */
  maxAttempts?: number;
}

/** Where a group's stream stands: its epoch and a seq (see `GroupRelayClient.positions`). */
export interface StreamPosition {
  epoch: string;
  seq: number;
}

export interface GroupRelayClientOptions {
  /** The relay URL: `ws://`, `wss://`, `http://`, `https://`, or (in a browser) a path such as `/relay`. */
  url?: string | URL;
  /** Several relay URLs (nodes of one cluster): each attempt after a failure or a drop takes the next. */
  urls?: Array<string | URL>;
  /** The token, or a function that returns it (or a promise of it), called before every connect. Sent as `access_token`. */
  accessTokenFactory?: AccessTokenFactory | string | null;
  /** The WebSocket constructor. Default `globalThis.WebSocket` (browsers, Node.js 22+); in Node.js 20 pass the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  /** The `fetch` used for the plain GET that tells a refused token from a relay that is down. Default `globalThis.fetch`. */
  fetch?: (input: string, init?: any) => Promise<{ status: number; arrayBuffer(): Promise<unknown> }>;
  /** Subprotocols offered. Default `['grouprelay.v1']`. */
  protocols?: string[];
  /** Reconnect settings, or `false`: a drop then stops the client. Default on. */
  reconnect?: ReconnectOptions | boolean;
  /** Sends that may wait to be written (while disconnected, or beyond `maxInFlightSends`); past it `send` rejects with `queue_full`. Default 1,000. */
  maxQueuedSends?: number;
  /** Sends written and not yet acknowledged at once. Default 32 (well within the relay's 1,000 remembered ids per user). */
  maxInFlightSends?: number;
  /** A send written this long ago without an ack is not written again (its id may be forgotten): it rejects with `outcome_unknown`. Default 100,000 (the relay's window is 2 minutes). */
  resendWindowMs?: number;
  /** How long a request other than `send` waits for its reply, connection included, before it rejects with `timeout`. Default 30,000. */
  requestTimeoutMs?: number;
  /** How long an attempt may take from its start to `welcome`. Default 15,000. */
  connectTimeoutMs?: number;
  /** A `ping` this often; a connection that received nothing for a whole interval is taken as dead. 0 turns it off. Default 25,000. */
  heartbeatMs?: number;
  /** `limit` of each `history` page the client asks while it resumes (1 to 1,000). Default 100. */
  historyPageSize?: number;
  /** For a group the client knows nothing of: `'retained'` hands over what the relay retains first, `'none'` only what comes next. Default `'retained'`. */
  initialHistory?: 'retained' | 'none';
  /** Where to resume each group from (for example `positions` saved before a reload). */
  positions?: Record<string, StreamPosition>;
}

/** The first frame of every connection. */
export interface Welcome {
  type: 'welcome';
  connectionId: string;
  user: string;
  groups: string[];
  positions?: Record<string, StreamPosition>;
}

/** A group message, handed to the app once per seq, in seq order. */
export interface RelayMessage<TBody = unknown> {
  type: 'message';
  group: string;
  /** The sender, stamped by the relay. */
  from: string;
  seq: number;
  /** The relay's clock, Unix milliseconds. */
  ts: number;
  body: TBody;
  /** The group stream's epoch this seq belongs to. */
  epoch?: string;
}

/** A watched user's state changed. */
export interface PresenceEvent {
  type: 'presence';
  user: string;
  online: boolean;
  status: string | null;
}

/** A member of one of your groups came online (`joined`) or went offline (`left`). */
export interface MemberEvent {
  type: 'joined' | 'left';
  group: string;
  user: string;
}

/** You were added to a group (at run time, or while you were away). */
export interface AddedEvent {
  type: 'added';
  group: string;
  epoch?: string;
  seq?: number;
}

/** You were removed from a group. */
export interface RemovedEvent {
  type: 'removed';
  group: string;
}

/** A group's numbering restarted under an open connection (a new epoch); its new messages follow. */
export interface ResetEvent {
  type: 'reset';
  group: string;
  epoch: string;
  seq: number;
}

/** Messages of a group that cannot be handed over: reload them from your own data if you need them. */
export interface UnrecoveredEvent {
  group: string;
  /** The epoch the group is in now. */
  epoch: string | null;
  /** For `epoch_changed`: the epoch `from` belongs to. */
  previousEpoch: string | null;
  /** The first missing seq. */
  from: number;
  /** The last missing seq, when known (null: whether anything at all was missed is unknown). */
  to: number | null;
  /** `aged_out`: the relay no longer retains them; `epoch_changed`: the stream restarted (for example the relay did). */
  reason: 'aged_out' | 'epoch_changed';
}

/** A group is caught up: after every welcome and `added`, and after a gap was filled. */
export interface SyncedEvent {
  group: string;
  epoch: string | null;
  seq: number;
}

/** The client's state changed. */
export interface StateChange {
  state: GroupRelayState;
  previous: GroupRelayState;
  /** Consecutive failed attempts. */
  attempt: number;
  /** While `reconnecting`: the wait before the next attempt. */
  delayMs: number | null;
  /** The relay URL concerned (as given in the options, without the token). */
  url: string;
  /** The close code that caused the change, when there was one. */
  code: number | null;
  reason: string | null;
}

/** The relay refused the identity: give the client a new token (`setAccessToken`). */
export interface UnauthorizedEvent {
  url: string;
  /** The HTTP status of the plain GET that told (401 or 403), or null. */
  status: number | null;
  /** The close code that told (4003), or null. */
  code: number | null;
  reason: string | null;
}

/** An error frame not tied to a request of yours, or a frame the client could not read (`bad_frame`). */
export interface ErrorEvent {
  type: 'error';
  code: string;
  message?: string;
  id?: string;
}

export interface GroupRelayEventMap<TBody = unknown> {
  message: RelayMessage<TBody>;
  presence: PresenceEvent;
  joined: MemberEvent;
  left: MemberEvent;
  added: AddedEvent;
  removed: RemovedEvent;
  reset: ResetEvent;
  unrecovered: UnrecoveredEvent;
  synced: SyncedEvent;
  state: StateChange;
  unauthorized: UnauthorizedEvent;
  welcome: Welcome;
  error: ErrorEvent;
}

export type GroupRelayEventName = keyof GroupRelayEventMap;

/** The relay's acknowledgement of a send. */
export interface SendResult {
  seq: number;
  /** True when the relay had this id already (a resend after a drop): delivered once, earlier. */
  duplicate: boolean;
}

export interface SendOptions {
  /** `false`: not delivered back to this connection (the user's other connections get it). Default true. */
  echo?: boolean;
}

export interface HistoryOptions {
  /** Replay the messages with a seq above this one. Default 0. */
  after?: number;
  /** At most this many (1 to 1,000). The relay's default is 100. */
  limit?: number;
  /** The epoch `after` belongs to; another epoch than the current one replays nothing. */
  epoch?: string;
}

export interface HistoryResult<TBody = unknown> {
  group: string;
  /** The stream's current epoch and latest seq. */
  epoch: string;
  seq: number;
  /** False when `limit` cut the list, some are no longer retained, or the epoch was not the current one. */
  complete: boolean;
  /** The replayed messages, oldest first. */
  messages: Array<RelayMessage<TBody>>;
}

export interface PresenceResult {
  online: Array<{ user: string; status: string | null }>;
  offline: string[];
  /** Users you may not watch (the host's policy); their state is never revealed. */
  forbidden: string[];
}

export interface MembersResult {
  group: string;
  online: string[];
}

/** Client-side codes; the relay's own codes are those of PROTOCOL.md section 4. */
export type GroupRelayClientErrorCode = 'queue_full' | 'timeout' | 'stopped' | 'disconnected' | 'unauthorized' | 'outcome_unknown';

/** The relay's error codes (PROTOCOL.md section 4). */
export type GroupRelayProtocolErrorCode = 'bad_request' | 'unknown_type' | 'not_member' | 'forbidden' | 'rate_limited' | 'unavailable' | 'internal';

/** A request the relay refused, or one the client could not complete. */
export declare class GroupRelayError extends Error {
  constructor(code: string, message: string, frame?: object);
  readonly name: 'GroupRelayError';
  /** The protocol's error code, or the client's. The contract (the message is for people). */
  readonly code: GroupRelayClientErrorCode | GroupRelayProtocolErrorCode | (string & {});
  /** The relay's error frame, when there was one. */
  readonly frame?: object;
}

/**
 * The GroupRelay client: connects, reconnects, resumes every group in seq order with no gap and no duplicate, and
 * retries unacknowledged sends without delivering them twice. `TBody` types message bodies.
 */
export declare class GroupRelayClient<TBody = unknown> {
  constructor(options: GroupRelayClientOptions);

  readonly state: GroupRelayState;
  /** The user id of the last welcome (null before the first). */
  readonly user: string | null;
  readonly connectionId: string | null;
  /** The user's groups (a copy). */
  readonly groups: ReadonlySet<string>;
  /** The relay URL of the current (or next) attempt. */
  readonly url: string;
  /** Per group, the epoch and the highest seq handed to the app (a copy; JSON-serialisable). */
  readonly positions: Record<string, StreamPosition>;
  /** The groups being recovered right now. */
  readonly syncing: ReadonlySet<string>;
  /** Sends waiting to be written. */
  readonly queuedSends: number;

  /** Connects; resolves with the welcome. Rejects with code `unauthorized`, `stopped` or `disconnected`. */
  start(): Promise<Welcome>;
  /** Closes and stops reconnecting; waiting sends and requests reject with `stopped`. Positions are kept. */
  stop(): Promise<void>;
  /** Skips the rest of the reconnect delay; after `unauthorized`, connects again. */
  reconnectNow(): void;
  /** A new token or token factory, used from the next connect on; after `unauthorized`, connects again at once. */
  setAccessToken(tokenOrFactory: AccessTokenFactory | string | null): void;

  /** Publishes to a group; resolves with the relay's ack, across reconnects. */
  send(group: string, body: TBody, options?: SendOptions): Promise<SendResult>;
  /** The retained messages of a group after a seq. */
  history(group: string, options?: HistoryOptions): Promise<HistoryResult<TBody>>;
  /** Watches users' presence (watched again after every reconnect). */
  watch(users: Iterable<string>): Promise<PresenceResult>;
  unwatch(users: Iterable<string>): Promise<void>;
  /** Sets your status (set again after every reconnect); null clears it. */
  setStatus(value: string | null): Promise<void>;
  members(group: string): Promise<MembersResult>;
  ping(): Promise<void>;

  /** Subscribes; returns a function that unsubscribes. */
  on<K extends GroupRelayEventName>(event: K, handler: (event: GroupRelayEventMap<TBody>[K]) => void): () => void;
  off<K extends GroupRelayEventName>(event: K, handler: (event: GroupRelayEventMap<TBody>[K]) => void): void;
}
