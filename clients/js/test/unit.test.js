// The client against a scripted relay (test/fake-relay.js): every rule of PROTOCOL.md section 6, exactly, no server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupRelayClient, GroupRelayError, PROTOCOL } from '../client.js';
import { FakeRelay, msg, quick, range, tick, until } from './fake-relay.js';

/** A started client on a fake relay, with a log of what the app saw. */
async function connected(options = {}, { groups = ['team'], positions } = {}) {
  const relay = new FakeRelay();
  const client = new GroupRelayClient({ ...quick(relay), ...options });
  const log = [];
  client.on('message', m => log.push(`${m.group}:${m.seq}`));
  client.on('unrecovered', u => log.push(`unrecovered ${u.group} ${u.from}-${u.to} ${u.reason}`));
  client.on('synced', s => log.push(`synced ${s.group} ${s.seq}`));
  const started = client.start();
  const ws = await relay.accept();
  ws.welcome(groups, positions);
  await started;
  return { relay, client, ws, log };
}

test('connects with the token and the subprotocol, sends nothing before welcome, matches replies, splits frames', async () => {
  const relay = new FakeRelay();
  let calls = 0;
  const client = new GroupRelayClient({ ...quick(relay), accessTokenFactory: async () => { calls++; return 'a b+c'; } });
  const states = [];
  client.on('state', s => states.push(s.state));
  const started = client.start();
  const ws = await relay.accept();
  assert.equal(ws.url, 'ws://127.0.0.1:9/relay?access_token=a+b%2Bc');
  assert.deepEqual(ws.protocols, [PROTOCOL]);
  assert.equal(calls, 1);

  const sending = client.send('team', { text: 'x' });
  assert.equal(ws.sent.length, 0, 'nothing that depends on membership goes before welcome');
  ws.welcome(['team'], { team: { epoch: 'e1', seq: 6 } });
  const welcome = await started;
  assert.equal(welcome.user, 'alice');
  assert.equal(client.user, 'alice');
  assert.deepEqual([...client.groups], ['team']);
  assert.deepEqual(ws.sent.map(f => f.type), ['history', 'send'], 'the resume asks first, then the waiting send goes');

  const seen = [];
  client.on('message', m => seen.push([m.seq, m.epoch]));
  const joined = [];
  client.on('joined', e => joined.push(e.user));
  const sendId = ws.lastOf('send').id;
  ws.srv(...range(1, 6), { type: 'history', id: ws.lastOf('history').id, group: 'team', epoch: 'e1', seq: 6, complete: true });
  ws.srv(msg(7), { type: 'ack', id: sendId, seq: 7 }, { type: 'joined', group: 'team', user: 'bob' });
  assert.deepEqual(await sending, { seq: 7, duplicate: false });
  assert.deepEqual(seen.map(([s]) => s), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(seen[0][1], 'e1', 'messages carry their epoch');
  assert.deepEqual(joined, ['bob']);
  assert.deepEqual(client.positions, { team: { epoch: 'e1', seq: 7 } });

  const refused = client.send('ops', { text: 'y' });
  ws.srv({ type: 'error', id: ws.lastOf('send').id, code: 'not_member', message: 'not in ops' });
  const error = await refused.then(() => null, e => e);
  assert.ok(error instanceof GroupRelayError);
  assert.equal(error.code, 'not_member');
  assert.equal(error.frame.message, 'not in ops');

  await client.stop();
  assert.equal(client.state, 'disconnected');
  assert.deepEqual(states, ['connecting', 'connected', 'disconnected']);
  assert.equal(ws.closedByClient.code, 1000);
  assert.equal(await client.ping().then(() => null, e => e.code), 'stopped');
  assert.equal(await client.send('team', 1).then(() => null, e => e.code), 'stopped');
});

test('resume: replays interleaved with live frames, a page cut by limit, aged-out messages, an epoch change and a reset', async () => {
  const { relay, client, ws: first, log } = await connected({}, {
    groups: ['team', 'fam', 'empty'],
    positions: { team: { epoch: 'e1', seq: 5 }, fam: { epoch: 'e1', seq: 250 }, empty: { epoch: 'e1', seq: 0 } },
  });
  let ws = first;
  assert.deepEqual(ws.sentOf('history').map(f => `${f.group} after ${f.after} ${f.epoch} limit ${f.limit}`),
    ['team after 0 e1 limit 100', 'fam after 0 e1 limit 100']);
  assert.deepEqual([...client.syncing].sort(), ['fam', 'team']);
  assert.deepEqual(log, ['synced empty 0']);
  log.length = 0;

  // team: 1 and 2 aged out; live 6 arrives between the replayed frames.
  ws.srv(msg(3), msg(6), msg(4), msg(5), { type: 'history', id: ws.lastOf('history', 'team').id, group: 'team', epoch: 'e1', seq: 6, complete: false });
  // fam: three pages of at most 100, and a live 251 held meanwhile.
  ws.srv(...range(1, 100, 'fam'), msg(251, 'fam'), { type: 'history', id: ws.lastOf('history', 'fam').id, group: 'fam', epoch: 'e1', seq: 251, complete: false });
  assert.equal(ws.lastOf('history', 'fam').after, 100);
  ws.srv(...range(101, 200, 'fam'), { type: 'history', id: ws.lastOf('history', 'fam').id, group: 'fam', epoch: 'e1', seq: 251, complete: false });
  assert.equal(ws.lastOf('history', 'fam').after, 200);
  ws.srv(...range(201, 250, 'fam'), { type: 'history', id: ws.lastOf('history', 'fam').id, group: 'fam', epoch: 'e1', seq: 251, complete: true });
  const fam = log.filter(l => l.startsWith('fam:')).map(l => Number(l.slice(4)));
  assert.deepEqual(fam, Array.from({ length: 251 }, (_, i) => i + 1), 'fam in seq order, each once');
  assert.deepEqual(log.filter(l => !l.startsWith('fam:')),
    ['unrecovered team 1-2 aged_out', 'team:3', 'team:4', 'team:5', 'team:6', 'synced team 6', 'synced fam 251']);
  assert.equal(client.syncing.size, 0);
  log.length = 0;

  ws.srv(msg(6), msg(7)); // a repeat of 6 is not handed over again
  const sending = client.send('team', { text: 'x' });
  const sendId = ws.lastOf('send').id;
  assert.match(sendId, /^[0-9a-f]{18}-\d+$/, 'ids: a random prefix and a counter');
  ws.drop(); // before the ack came
  ws = await relay.accept(2);
  ws.welcome(['team', 'fam', 'empty'], { team: { epoch: 'e1', seq: 9 }, fam: { epoch: 'e2', seq: 2 }, empty: { epoch: 'e1', seq: 0 } });
  assert.deepEqual(ws.sent.map(f => (f.type === 'send' ? `send same id ${f.id === sendId}` : `${f.group} after ${f.after} ${f.epoch}`)),
    ['team after 7 e1', 'fam after 0 e2', 'send same id true']);
  ws.srv(msg(10), { type: 'ack', id: sendId, seq: 8, duplicate: true });
  ws.srv(msg(8), msg(9), { type: 'history', id: ws.lastOf('history', 'team').id, group: 'team', epoch: 'e1', seq: 9, complete: true });
  ws.srv(msg(1, 'fam'), msg(2, 'fam'), { type: 'history', id: ws.lastOf('history', 'fam').id, group: 'fam', epoch: 'e2', seq: 2, complete: true });
  assert.deepEqual(await sending, { seq: 8, duplicate: true });
  const resets = [];
  client.on('reset', r => resets.push(`${r.group} ${r.epoch}`));
  ws.srv({ type: 'reset', group: 'team', epoch: 'e3', seq: 0 }, msg(1));
  assert.deepEqual(log, ['team:7', 'unrecovered fam 252-null epoch_changed', 'synced empty 0', 'team:8', 'team:9', 'team:10',
    'synced team 10', 'fam:1', 'fam:2', 'synced fam 2', 'team:1']);
  assert.deepEqual(resets, ['team e3']);
  assert.deepEqual(client.positions, { team: { epoch: 'e3', seq: 1 }, fam: { epoch: 'e2', seq: 2 }, empty: { epoch: 'e1', seq: 0 } });
  await client.stop();
});

test('a live seq that skips one is held while history fills the gap; a reset hands over what it held and reports the rest', async () => {
  const { client, ws, log } = await connected({}, { positions: { team: { epoch: 'e1', seq: 0 } } });
  log.length = 0;
  ws.srv(msg(1), msg(3), msg(4));
  assert.deepEqual(log, ['team:1']);
  assert.equal(ws.lastOf('history').after, 1);
  assert.deepEqual([...client.syncing], ['team']);
  ws.srv(msg(2), { type: 'history', id: ws.lastOf('history').id, group: 'team', epoch: 'e1', seq: 4, complete: true });
  assert.deepEqual(log, ['team:1', 'team:2', 'team:3', 'team:4', 'synced team 4']);
  log.length = 0;

  // Another gap, then the stream restarts before history answers: 6 is held, 5 is gone with the old epoch.
  ws.srv(msg(6));
  ws.srv({ type: 'reset', group: 'team', epoch: 'e2', seq: 0 });
  ws.srv({ type: 'history', id: ws.lastOf('history').id, group: 'team', epoch: 'e2', seq: 0, complete: false }); // late: ignored
  ws.srv(msg(1), msg(2));
  assert.deepEqual(log, ['unrecovered team 5-5 epoch_changed', 'team:6', 'team:1', 'team:2']);
  await client.stop();
});

test('a new group replays what the relay retains (from seq 1 or with a line), or nothing with initialHistory none', async () => {
  const { client, ws, log } = await connected({}, { groups: ['a', 'b'], positions: { a: { epoch: 'e', seq: 3 }, b: { epoch: 'e', seq: 0 } } });
  ws.srv(msg(2, 'a'), msg(3, 'a'), { type: 'history', id: ws.lastOf('history', 'a').id, group: 'a', epoch: 'e', seq: 3, complete: false });
  assert.deepEqual(log, ['synced b 0', 'unrecovered a 1-1 aged_out', 'a:2', 'a:3', 'synced a 3']);
  await client.stop();

  const none = await connected({ initialHistory: 'none' }, { groups: ['a'], positions: { a: { epoch: 'e', seq: 3 } } });
  assert.equal(none.ws.sentOf('history').length, 0);
  none.ws.srv(msg(4, 'a'));
  assert.deepEqual(none.log, ['synced a 3', 'a:4']);
  await none.client.stop();

  // Positions saved by the app resume where it was.
  const saved = await connected({ positions: { team: { epoch: 'e', seq: 40 } } }, { positions: { team: { epoch: 'e', seq: 42 } } });
  assert.equal(saved.ws.lastOf('history').after, 40);
  await saved.client.stop();
});

test('the app\'s own history call returns the replayed messages without handing them over twice', async () => {
  const { client, ws, log } = await connected({}, { positions: { team: { epoch: 'e1', seq: 0 } } });
  ws.srv(msg(1), msg(2), msg(3));
  log.length = 0;
  const page = client.history('team', { after: 1, limit: 5 });
  const request = ws.lastOf('history');
  assert.deepEqual({ after: request.after, limit: request.limit }, { after: 1, limit: 5 });
  ws.srv(msg(2), msg(3), msg(4), { type: 'history', id: request.id, group: 'team', epoch: 'e1', seq: 4, complete: true });
  const result = await page;
  assert.deepEqual(result.messages.map(m => m.seq), [2, 3, 4]);
  assert.equal(result.complete, true);
  assert.equal(result.epoch, 'e1');
  assert.deepEqual(log, ['team:4'], 'only the message the app had not had is a message event');
  await client.stop();
});

test('sends: a bounded queue while disconnected, an in-flight window, and a clear error when the queue is full', async () => {
  const relay = new FakeRelay();
  const client = new GroupRelayClient({ ...quick(relay), maxQueuedSends: 3, maxInFlightSends: 2 });
  assert.equal(await client.send('team', 1).then(() => null, e => e.code), 'stopped', 'not started');
  client.start();
  const sends = [1, 2, 3].map(n => client.send('team', n));
  const full = await client.send('team', 4).then(() => null, e => e);
  assert.equal(full.code, 'queue_full');
  assert.match(full.message, /maxQueuedSends 3/);
  assert.equal(client.queuedSends, 3);

  const ws = await relay.accept();
  ws.welcome(['team']);
  assert.deepEqual(ws.sentOf('send').map(f => f.body), [1, 2], 'two in flight at most');
  ws.srv({ type: 'ack', id: ws.sentOf('send')[0].id, seq: 1 });
  assert.deepEqual(ws.sentOf('send').map(f => f.body), [1, 2, 3]);
  ws.srv({ type: 'ack', id: ws.sentOf('send')[1].id, seq: 2 }, { type: 'ack', id: ws.sentOf('send')[2].id, seq: 3 });
  assert.deepEqual((await Promise.all(sends)).map(a => a.seq), [1, 2, 3]);
  await client.stop();
});

test('sends refused with rate_limited or unavailable go again with the same id after a pause', async () => {
  const { client, ws } = await connected();
  const sending = client.send('team', 'x');
  const { id } = ws.lastOf('send');
  ws.srv({ type: 'error', id, code: 'unavailable', message: 'redis down' });
  assert.equal(ws.sentOf('send').length, 1);
  await until(() => ws.sentOf('send').length === 2, 2000, 'the retry');
  assert.equal(ws.sentOf('send')[1].id, id);
  ws.srv({ type: 'error', id, code: 'rate_limited', message: 'slow down' });
  await tick(500);
  assert.equal(ws.sentOf('send').length, 2, 'a rate-limited send waits a second');
  await until(() => ws.sentOf('send').length === 3, 2000, 'the second retry');
  ws.srv({ type: 'ack', id, seq: 1 });
  assert.deepEqual(await sending, { seq: 1, duplicate: false });
  await client.stop();
});

test('a send written longer ago than resendWindowMs is not written again: outcome_unknown', async () => {
  const { relay, client, ws } = await connected({ resendWindowMs: 20 });
  const sending = client.send('team', 'x');
  await tick(40);
  ws.drop();
  (await relay.accept(2)).welcome(['team']);
  const error = await sending.then(() => null, e => e);
  assert.equal(error.code, 'outcome_unknown');
  assert.equal(relay.last.sentOf('send').length, 0);
  await client.stop();
});

test('requests other than send are asked again on the next connection; the token factory is called at every connect', async () => {
  const relay = new FakeRelay();
  let calls = 0;
  const client = new GroupRelayClient({ ...quick(relay), accessTokenFactory: () => `t${++calls}` });
  client.start();
  let ws = await relay.accept();
  ws.welcome(['team']);
  const members = client.members('team');
  ws.drop();
  ws = await relay.accept(2);
  assert.match(ws.url, /access_token=t2$/);
  ws.welcome(['team']);
  const request = ws.lastOf('members');
  ws.srv({ type: 'members', id: request.id, group: 'team', online: ['alice', 'bob'] });
  assert.deepEqual(await members, { group: 'team', online: ['alice', 'bob'] });
  assert.equal(calls, 2);
  await client.stop();
});

test('watch and status are set again after a reconnect; what changed meanwhile is a presence event', async () => {
  const { relay, client, ws: first } = await connected();
  const events = [];
  client.on('presence', p => events.push(`${p.user} ${p.online} ${p.status}`));
  const watching = client.watch(['bob', 'carol', 'mallory']);
  first.srv({ type: 'presence', id: first.lastOf('watch').id, online: [{ user: 'bob', status: null }], offline: ['carol'], forbidden: ['mallory'] });
  assert.deepEqual(await watching, { online: [{ user: 'bob', status: null }], offline: ['carol'], forbidden: ['mallory'] });
  const status = client.setStatus('away');
  first.srv({ type: 'ack', id: first.lastOf('status').id });
  await status;
  first.srv({ type: 'presence', user: 'carol', online: true, status: 'busy' });
  assert.deepEqual(events, ['carol true busy']);

  first.drop();
  const ws = await relay.accept(2);
  ws.welcome(['team']);
  const rewatch = ws.lastOf('watch');
  assert.deepEqual(rewatch.users.sort(), ['bob', 'carol']);
  assert.equal(ws.lastOf('status').value, 'away');
  ws.srv({ type: 'presence', id: rewatch.id, online: [{ user: 'carol', status: 'busy' }], offline: ['bob'], forbidden: [] });
  assert.deepEqual(events, ['carol true busy', 'bob false null'], 'only the change is reported');
  await client.stop();
});

test('close 4003: one unauthorized, no reconnect until the app gives a new token', async () => {
  const relay = new FakeRelay();
  const client = new GroupRelayClient({ ...quick(relay), accessTokenFactory: () => 'forged' });
  const unauthorized = [];
  client.on('unauthorized', e => unauthorized.push(e));
  const started = client.start();
  const queued = client.send('team', 'kept');
  (await relay.accept()).drop(4003, 'unauthorized');
  const error = await started.then(() => null, e => e);
  assert.equal(error.code, 'unauthorized');
  assert.equal(client.state, 'unauthorized');
  await tick(100);
  assert.equal(relay.sockets.length, 1, 'no other attempt');
  assert.deepEqual(unauthorized.map(e => [e.code, e.status]), [[4003, null]]);

  client.setAccessToken('good');
  const ws = await relay.accept(2);
  assert.match(ws.url, /access_token=good$/);
  ws.welcome(['team']);
  ws.srv({ type: 'ack', id: ws.lastOf('send').id, seq: 1 });
  assert.deepEqual(await queued, { seq: 1, duplicate: false }, 'the send waited through it');
  assert.equal(unauthorized.length, 1);
  await client.stop();
});

test('a failed upgrade is followed by one plain GET: 401 stops it, 400 (valid token) keeps retrying on the next URL', async () => {
  const relay = new FakeRelay();
  const gets = [];
  let status = 400;
  const client = new GroupRelayClient({
    ...quick(relay),
    urls: ['ws://127.0.0.1:9/relay', 'https://relay.example/relay'],
    accessTokenFactory: () => 'tok',
    fetch: async url => { gets.push(url); return { status, arrayBuffer: async () => new ArrayBuffer(0) }; },
  });
  const unauthorized = [];
  client.on('unauthorized', e => unauthorized.push(e.status));
  const started = client.start();
  await until(() => relay.sockets.length === 1);
  relay.sockets[0].drop(1006);
  await until(() => relay.sockets.length === 2, 2000, 'the retry on the second URL');
  assert.deepEqual(gets, ['http://127.0.0.1:9/relay?access_token=tok']);
  assert.equal(relay.sockets[1].url, 'wss://relay.example/relay?access_token=tok');

  status = 401;
  relay.sockets[1].drop(1006);
  assert.equal((await started.then(() => null, e => e)).code, 'unauthorized');
  assert.deepEqual(gets.at(-1), 'https://relay.example/relay?access_token=tok');
  await tick(100);
  assert.equal(relay.sockets.length, 2, 'no storm: nothing more after unauthorized');
  assert.equal(gets.length, 2);
  assert.deepEqual(unauthorized, [401]);
  await client.stop();
});

test('a drop of an open connection is retried without asking (no GET), with growing delays, and reconnectNow skips the wait', async () => {
  const relay = new FakeRelay();
  let gets = 0;
  const client = new GroupRelayClient({
    ...quick(relay),
    reconnect: { initialDelayMs: 40, maxDelayMs: 10_000, factor: 10, jitter: 0 },
    fetch: async () => { gets++; return { status: 401, arrayBuffer: async () => new ArrayBuffer(0) }; },
  });
  const delays = [];
  client.on('state', s => { if (s.state === 'reconnecting') delays.push(s.delayMs); });
  client.start();
  (await relay.accept()).welcome(['team']);
  relay.last.drop(1001, 'shutting down');
  await relay.accept(2); // opened, never welcomed
  relay.last.drop(1011);
  await until(() => delays.length === 2);
  assert.deepEqual(delays, [40, 400]);
  assert.equal(gets, 0, 'the connections had opened: the identity was never in question');
  client.reconnectNow();
  await until(() => relay.sockets.length === 3, 100, 'an attempt at once');
  await client.stop();
});

test('the browser\'s online event ends the wait at once', async () => {
  const target = new EventTarget();
  globalThis.addEventListener = target.addEventListener.bind(target);
  globalThis.removeEventListener = target.removeEventListener.bind(target);
  try {
    const relay = new FakeRelay();
    const client = new GroupRelayClient({ ...quick(relay), reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
    client.start();
    (await relay.accept()).welcome(['team']);
    relay.last.drop();
    assert.equal(client.state, 'reconnecting');
    target.dispatchEvent(new Event('online'));
    await until(() => relay.sockets.length === 2, 200, 'an attempt at once');
    await client.stop();
  } finally {
    delete globalThis.addEventListener;
    delete globalThis.removeEventListener;
  }
});

test('reconnect off, or maxAttempts used up: the client stops and what waits rejects with disconnected', async () => {
  const relay = new FakeRelay();
  const client = new GroupRelayClient({ ...quick(relay), reconnect: false });
  client.start();
  (await relay.accept()).welcome(['team']);
  const sending = client.send('team', 1);
  relay.last.drop();
  assert.equal((await sending.then(() => null, e => e)).code, 'disconnected');
  assert.equal(client.state, 'disconnected');

  const relay2 = new FakeRelay();
  const limited = new GroupRelayClient({ ...quick(relay2), reconnect: { initialDelayMs: 1, maxDelayMs: 1, maxAttempts: 2 } });
  const started = limited.start();
  for (let n = 1; n <= 3; n++) (await relay2.accept(n)).drop();
  assert.equal((await started.then(() => null, e => e)).code, 'disconnected');
  await tick(20);
  assert.equal(relay2.sockets.length, 3);
});

test('a welcome after a reconnect reports the groups gained and lost meanwhile', async () => {
  const { relay, client, ws } = await connected({}, { groups: ['team', 'ops'] });
  const events = [];
  client.on('added', e => events.push(`added ${e.group}`));
  client.on('removed', e => events.push(`removed ${e.group}`));
  ws.srv({ type: 'added', group: 'fam', epoch: 'e', seq: 0 });
  ws.drop();
  (await relay.accept(2)).welcome(['team', 'fam', 'new']);
  assert.deepEqual(events, ['added fam', 'removed ops', 'added new']);
  assert.deepEqual([...client.groups].sort(), ['fam', 'new', 'team']);
  await client.stop();
});

test('the heartbeat takes a silent connection as dead', async () => {
  const relay = new FakeRelay();
  const client = new GroupRelayClient({ ...quick(relay), heartbeatMs: 30 });
  client.start();
  const ws = (await relay.accept()).welcome([]);
  await until(() => ws.sentOf('ping').length === 1, 500, 'a ping');
  await until(() => relay.sockets.length === 2, 500, 'a new attempt after a silent interval');
  await client.stop();
});

test('options are checked when the client is made', () => {
  const relay = new FakeRelay();
  assert.throws(() => new GroupRelayClient({ WebSocket: relay.WebSocket }), /options\.url/);
  assert.throws(() => new GroupRelayClient({ url: '/relay', WebSocket: relay.WebSocket }), /must be absolute/);
  assert.throws(() => new GroupRelayClient({ url: 'ftp://x/relay', WebSocket: relay.WebSocket }), /not a ws/);
  assert.throws(() => new GroupRelayClient({ url: 'ws://x/relay', WebSocket: relay.WebSocket, historyPageSize: 5000 }), /historyPageSize/);
  assert.throws(() => new GroupRelayClient({ url: 'ws://x/relay', WebSocket: relay.WebSocket, positions: { a: { seq: 1 } } }), /positions/);
  assert.throws(() => new GroupRelayClient({ url: 'ws://x/relay', WebSocket: relay.WebSocket }).on('mesage', () => {}), /no 'mesage' event/);
  if (typeof globalThis.WebSocket !== 'function') {
    assert.throws(() => new GroupRelayClient({ url: 'ws://x/relay' }), /ws package/);
  }
});
