// A typed use of the whole public API of @grouprelay/client: `npx tsc --noEmit` checks client.d.ts against it (and
// against the ws package's own types). Compiled only, never run.
import {
  GroupRelayClient,
  GroupRelayError,
  PROTOCOL,
  type GroupRelayState,
  type HistoryResult,
  type PresenceResult,
  type RelayMessage,
  type SendResult,
  type StateChange,
  type StreamPosition,
  type UnrecoveredEvent,
  type Welcome,
} from '@grouprelay/client';
import { WebSocket as NodeWebSocket } from 'ws';

interface ChatBody {
  text: string;
}

const protocol: 'grouprelay.v1' = PROTOCOL;

// Browser: a path, an async token factory; Node.js 20: the ws package's WebSocket.
const saved: Record<string, StreamPosition> = JSON.parse('{}');
const client = new GroupRelayClient<ChatBody>({
  urls: ['wss://a.example/relay', new URL('wss://b.example/relay')],
  accessTokenFactory: async () => 'token',
  WebSocket: NodeWebSocket,
  reconnect: { initialDelayMs: 250, maxDelayMs: 10_000, factor: 2, jitter: 0.5, maxAttempts: 20 },
  maxQueuedSends: 500,
  maxInFlightSends: 16,
  resendWindowMs: 60_000,
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  heartbeatMs: 20_000,
  historyPageSize: 200,
  initialHistory: 'retained',
  positions: saved,
});
new GroupRelayClient({ url: '/relay', accessTokenFactory: () => null, reconnect: false, fetch: globalThis.fetch });
new GroupRelayClient({ url: '/relay', accessTokenFactory: 'a token' });
new GroupRelayClient({ url: '/relay', WebSocket: globalThis.WebSocket });

const off: () => void = client.on('message', (message: RelayMessage<ChatBody>) => {
  const text: string = message.body.text;
  const seq: number = message.seq;
  console.log(message.group, message.from, seq, message.ts, message.epoch, text);
});
off();
client.on('presence', p => console.log(p.user, p.online, p.status));
client.on('joined', e => console.log(e.group, e.user));
client.on('left', e => console.log(e.group, e.user));
client.on('added', e => console.log(e.group, e.epoch, e.seq));
client.on('removed', e => console.log(e.group));
client.on('reset', e => console.log(e.group, e.epoch, e.seq));
client.on('unrecovered', (u: UnrecoveredEvent) => {
  const reason: 'aged_out' | 'epoch_changed' = u.reason;
  const to: number | null = u.to;
  console.log(u.group, u.from, to, reason, u.epoch, u.previousEpoch);
});
client.on('synced', s => console.log(s.group, s.epoch, s.seq));
client.on('state', (change: StateChange) => {
  const state: GroupRelayState = change.state;
  console.log(state, change.previous, change.attempt, change.delayMs, change.url, change.code, change.reason);
});
client.on('unauthorized', e => {
  console.log(e.url, e.status, e.code, e.reason);
  client.setAccessToken(async () => 'fresh token');
  client.setAccessToken('fresh token');
});
client.on('welcome', (w: Welcome) => console.log(w.user, w.connectionId, w.groups, w.positions));
client.on('error', e => console.log(e.code, e.message));
const handler = (m: RelayMessage<ChatBody>) => console.log(m.seq);
client.on('message', handler);
client.off('message', handler);

// @ts-expect-error: no such event
client.on('messages', () => {});
// @ts-expect-error: the body is typed
client.send('team', { txt: 'hi' });

async function main(): Promise<void> {
  const welcome: Welcome = await client.start();
  console.log(welcome.user, client.state, client.user, client.connectionId, client.url, client.queuedSends);
  const groups: ReadonlySet<string> = client.groups;
  const syncing: ReadonlySet<string> = client.syncing;
  const positions: Record<string, StreamPosition> = client.positions;
  console.log(groups.has('team'), syncing.size, positions['team']?.seq);

  const ack: SendResult = await client.send('team', { text: 'hi' });
  console.log(ack.seq, ack.duplicate);
  await client.send('team', { text: 'quiet' }, { echo: false });

  const page: HistoryResult<ChatBody> = await client.history('team', { after: 0, limit: 50, epoch: 'e' });
  console.log(page.epoch, page.seq, page.complete, page.messages.map(m => m.body.text));
  await client.history('team');

  const presence: PresenceResult = await client.watch(['bob', 'carol']);
  console.log(presence.online.map(o => `${o.user}:${o.status}`), presence.offline, presence.forbidden);
  await client.watch(new Set(['dave']));
  await client.unwatch(['bob']);
  await client.setStatus('away');
  await client.setStatus(null);
  const members = await client.members('team');
  console.log(members.group, members.online);
  await client.ping();

  try {
    await client.send('ops', { text: 'x' });
  } catch (error) {
    if (error instanceof GroupRelayError) {
      const code: string = error.code;
      console.log(code, error.message, error.frame, error.name);
    }
  }

  client.reconnectNow();
  await client.stop();
}

void main();
void protocol;
