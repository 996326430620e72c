// The client on Node against the real sample host (one node, started here with dotnet): send and ack, a resend after
// a lost ack, history, presence, reconnect and resume, a relay restart, and a forged token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ChaosProxy } from './support/proxy.js';
import { fleckSampleDll, startFleck, startHost, tempFolder } from './support/host.js';
import { countingWebSocket, oneTo, recordingClient, sleep, waitFor } from './support/clients.js';

describe('one sample host', () => {
  let temp;
  let host;
  const tokens = {};
  const clients = [];
  const client = options => {
    const made = recordingClient({ heartbeatMs: 0, reconnect: { initialDelayMs: 50, maxDelayMs: 500 }, ...options });
    clients.push(made.client);
    return made;
  };

  before(async () => {
    temp = tempFolder();
    host = await startHost({ db: temp.file('sample.db') });
    for (const user of ['alice', 'bob', 'carol', 'dave']) tokens[user] = await host.login(user);
  });

  after(async () => {
    await Promise.all(clients.map(c => c.stop()));
    await host?.stop();
    temp?.remove();
  });

  test('the relay serves this package\'s client.js and client.d.ts', async () => {
    for (const name of ['client.js', 'client.d.ts']) {
      const response = await fetch(`${host.url}/relay/${name}`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), readFileSync(new URL(`../${name}`, import.meta.url), 'utf8'));
    }
  });

  test('a send is acknowledged with its seq and reaches every member once; a resend after a lost ack is a duplicate, delivered once', async () => {
    const proxy = await new ChaosProxy(host.port).listen();
    const alice = client({ url: proxy.relayUrl, accessTokenFactory: () => tokens.alice });
    const bob = client({ url: host.relayUrl, accessTokenFactory: () => tokens.bob });
    await Promise.all([alice.client.start(), bob.client.start()]);

    const first = await alice.client.send('team', { text: 'hello' });
    assert.equal(first.duplicate, false);
    await waitFor(() => bob.seen.seqs('team').includes(first.seq), { what: 'bob to get it' });

    // The relay takes the send, but its ack (and alice's echo) never reach her: the connection is cut meanwhile.
    proxy.holdDownstream = true;
    const sending = alice.client.send('team', { text: 'exactly once' });
    await waitFor(() => bob.seen.bodies('team').some(b => b.text === 'exactly once'), { what: 'the relay to deliver it' });
    proxy.cutAll();
    proxy.holdDownstream = false;
    const ack = await sending;
    assert.equal(ack.duplicate, true, 'the resend with the same id was recognised');
    await waitFor(() => alice.seen.seqs('team').includes(ack.seq), { what: 'alice to resume her own message' });
    await sleep(200);
    for (const { seen } of [alice, bob]) {
      assert.equal(seen.bodies('team').filter(b => b.text === 'exactly once').length, 1);
      const seqs = seen.seqs('team');
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in seq order');
    }
    assert.equal(alice.seen.of('unrecovered').length, 0);
    await proxy.close();
  });

  test('history replays the retained messages after a seq, a page at a time', async () => {
    const carol = client({ url: host.relayUrl, accessTokenFactory: () => tokens.carol, initialHistory: 'none' });
    await carol.client.start();
    const page = await carol.client.history('team', { after: 0, limit: 1 });
    assert.equal(page.complete, false);
    assert.deepEqual(page.messages.map(m => [m.seq, m.body.text]), [[1, 'hello']]);
    const rest = await carol.client.history('team', { after: 1 });
    assert.equal(rest.complete, true);
    assert.deepEqual(rest.messages.map(m => m.body.text), ['exactly once']);
    assert.equal(rest.seq, 2);
    assert.deepEqual(carol.seen.seqs('team'), [], 'what the app asked for itself is not handed over again as messages');
    const refused = await carol.client.history('family').then(() => null, e => e.code);
    assert.equal(refused, 'not_member');
  });

  test('watch: the presence result, then an event each time a watched friend comes and goes', async () => {
    const alice = client({ url: host.relayUrl, accessTokenFactory: () => tokens.alice });
    await alice.client.start();
    const result = await alice.client.watch(['dave', 'zed']);
    assert.deepEqual(result.offline, ['dave']);
    assert.deepEqual(result.forbidden, ['zed']);
    const dave = client({ url: host.relayUrl, accessTokenFactory: () => tokens.dave });
    await dave.client.start();
    await waitFor(() => alice.seen.of('presence').some(p => p.user === 'dave' && p.online), { what: 'dave online' });
    await dave.client.setStatus('away');
    await waitFor(() => alice.seen.of('presence').some(p => p.user === 'dave' && p.status === 'away'), { what: 'dave away' });
    await dave.client.stop();
    await waitFor(() => alice.seen.of('presence').some(p => p.user === 'dave' && !p.online), { what: 'dave offline' });
  });

  test('reconnect and resume: what was sent while a client was away arrives once, in order; its own queued send goes once', async () => {
    const proxy = await new ChaosProxy(host.port).listen();
    let tokenCalls = 0;
    const bob = client({ url: proxy.relayUrl, accessTokenFactory: async () => { tokenCalls++; return tokens.bob; } });
    const alice = client({ url: host.relayUrl, accessTokenFactory: () => tokens.alice });
    await Promise.all([bob.client.start(), alice.client.start()]);
    const before = bob.seen.seqs('team').length;

    proxy.refuse = true;
    proxy.cutAll();
    await waitFor(() => bob.client.state !== 'connected', { what: 'bob to notice' });
    const queued = bob.client.send('team', { text: 'bob, queued while away' });
    const acks = [];
    for (const n of oneTo(30)) acks.push((await alice.client.send('team', { text: `away ${n}` })).seq);
    proxy.refuse = false;
    const bobAck = await queued;
    await waitFor(() => bob.seen.seqs('team').includes(bobAck.seq) && acks.every(s => bob.seen.seqs('team').includes(s)), { what: 'bob to catch up' });

    const seqs = bob.seen.seqs('team');
    assert.deepEqual(seqs, oneTo(seqs.length), 'every seq of #team once, in order, from the first');
    assert.ok(seqs.length >= before + 31);
    assert.equal(bob.seen.of('unrecovered').length, 0);
    assert.ok(bob.seen.of('state').some(s => s.state === 'reconnecting'));
    assert.ok(tokenCalls >= 2, 'the token factory is asked at every connect');
    await proxy.close();
  });

  test('a forged token: one connection attempt, one plain GET, one unauthorized event, then nothing until a good token', async () => {
    const counter = countingWebSocket();
    let gets = 0;
    const forged = client({
      url: host.relayUrl,
      accessTokenFactory: () => `${tokens.alice.slice(0, -8)}AAAAAAAA`,
      WebSocket: counter.WebSocket,
      fetch: (...args) => { gets++; return fetch(...args); },
      reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    });
    const error = await forged.client.start().then(() => null, e => e);
    assert.equal(error.code, 'unauthorized');
    await sleep(2000);
    assert.equal(counter.count, 1, 'no reconnect storm');
    assert.equal(gets, 1);
    assert.equal(forged.seen.of('unauthorized').length, 1);
    assert.equal(forged.seen.of('unauthorized')[0].status, 401);
    assert.equal(forged.client.state, 'unauthorized');

    forged.client.setAccessToken(tokens.alice);
    await waitFor(() => forged.client.state === 'connected', { what: 'the connect with the new token' });
    assert.equal(forged.client.user, 'alice');
    assert.equal(counter.count, 2);
  });
});

test('a relay restart: the groups\' numbering starts again (a new epoch), reported as unrecovered; then messages flow on', async () => {
  const temp = tempFolder();
  const db = temp.file('restart.db');
  let host = await startHost({ db });
  const port = host.port;
  const [aliceToken, bobToken] = [await host.login('alice'), await host.login('bob')];
  const alice = recordingClient({ url: host.relayUrl, accessTokenFactory: () => aliceToken, heartbeatMs: 0, reconnect: { initialDelayMs: 100, maxDelayMs: 500 } });
  const bob = recordingClient({ url: host.relayUrl, accessTokenFactory: () => bobToken, heartbeatMs: 0, reconnect: { initialDelayMs: 100, maxDelayMs: 500 } });
  try {
    await Promise.all([alice.client.start(), bob.client.start()]);
    for (const n of oneTo(3)) await alice.client.send('team', { text: `message ${n}`, n });
    await waitFor(() => bob.seen.seqs('team').length === 3, { what: 'the first three' });
    const epoch = bob.client.positions.team.epoch;

    await host.stop();
    await waitFor(() => bob.client.state === 'reconnecting', { what: 'bob to lose the relay' });
    host = await startHost({ db, port });
    await waitFor(() => bob.client.state === 'connected' && alice.client.state === 'connected', { what: 'both back', timeoutMs: 30_000 });

    const unrecovered = bob.seen.of('unrecovered').find(u => u.group === 'team');
    assert.ok(unrecovered, 'the restart is reported');
    assert.equal(unrecovered.reason, 'epoch_changed');
    assert.equal(unrecovered.from, 4);
    assert.equal(unrecovered.previousEpoch, epoch);
    assert.notEqual(bob.client.positions.team.epoch, epoch);

    const ack = await alice.client.send('team', { text: 'after the restart', n: 'after the restart' });
    assert.equal(ack.seq, 1);
    await waitFor(() => bob.seen.seqs('team').length === 4, { what: 'the new message' });
    assert.deepEqual(bob.seen.seqs('team'), [1, 2, 3, 1]);
    assert.equal(bob.seen.messages.get('team').at(-1).epoch, bob.client.positions.team.epoch);
  } finally {
    await Promise.all([alice.client.stop(), bob.client.stop()]);
    await host.stop();
    temp.remove();
  }
});

test('on the Fleck sample: a forged token is closed with 4003, one unauthorized and no other attempt; it serves client.js too', { skip: !fleckSampleDll() && 'the Fleck sample is not built (Fleck is not on every NuGet feed)' }, async () => {
  const temp = tempFolder();
  const fleck = await startFleck({ db: temp.file('fleck.db') });
  const counter = countingWebSocket();
  const forged = recordingClient({ url: fleck.relayUrl, accessTokenFactory: () => 'forged', WebSocket: counter.WebSocket, heartbeatMs: 0, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
  const alice = recordingClient({ url: fleck.relayUrl, accessTokenFactory: () => fleck.tokens.alice, heartbeatMs: 0 });
  try {
    assert.equal((await forged.client.start().then(() => null, e => e)).code, 'unauthorized');
    await sleep(1000);
    assert.equal(counter.count, 1);
    assert.deepEqual(forged.seen.of('unauthorized').map(e => e.code), [4003]);

    await alice.client.start();
    assert.equal((await alice.client.send('team', { text: 'hi from node on fleck' })).duplicate, false);
    const served = await fetch(fleck.scriptUrl);
    assert.equal(served.status, 200);
    assert.equal(await served.text(), readFileSync(new URL('../client.js', import.meta.url), 'utf8'));
  } finally {
    await Promise.all([forged.client.stop(), alice.client.stop()]);
    await fleck.stop();
    temp.remove();
  }
});
