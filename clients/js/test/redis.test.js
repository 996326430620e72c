// Two sample hosts on one Redis (and one database): the client's node dies and it goes on through the other URL it
// was given, losing nothing; and a stream Redis lost is a reset on the open connection.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startHost, startRedis, tempFolder } from './support/host.js';
import { oneTo, recordingClient, sleep, waitFor } from './support/clients.js';

describe('two sample hosts on Redis', () => {
  let temp;
  let redis;
  let nodeA;
  let nodeB;
  const tokens = {};
  const clients = [];
  const client = options => {
    const made = recordingClient({ heartbeatMs: 0, ...options });
    clients.push(made.client);
    return made;
  };

  before(async () => {
    temp = tempFolder();
    redis = await startRedis();
    const db = temp.file('cluster.db');
    nodeA = await startHost({ db, redis }); // first, so that it creates the key ring the other one reads
    nodeB = await startHost({ db, redis });
    for (const user of ['alice', 'bob']) tokens[user] = await nodeA.login(user);
  });

  after(async () => {
    await Promise.all(clients.map(c => c.stop()));
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await redis?.stop();
    temp?.remove();
  });

  test('the client\'s node is killed mid-stream: it reconnects to the other URL and resumes with nothing lost, nothing twice', async () => {
    const bob = client({
      urls: [nodeA.relayUrl, nodeB.relayUrl],
      accessTokenFactory: () => tokens.bob,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    });
    const alice = client({ url: nodeB.relayUrl, accessTokenFactory: () => tokens.alice });
    await Promise.all([bob.client.start(), alice.client.start()]);
    assert.equal(bob.client.url, nodeA.relayUrl);

    // alice (on B) sends all along; bob's node A dies in the middle, and bob sends too, across the failover.
    let stop = false;
    const acked = [];
    const sender = (async () => {
      for (let n = 1; !stop; n++) {
        acked.push((await alice.client.send('team', { text: `alice ${n}`, from: 'alice', n })).seq);
        await sleep(5);
      }
    })();
    const bobSends = [];
    await waitFor(() => acked.length >= 40, { what: '40 messages before the kill' });
    for (const n of oneTo(5)) bobSends.push(bob.client.send('team', { text: `bob ${n}`, from: 'bob', n }));
    await nodeA.kill();
    for (const n of oneTo(5)) bobSends.push(bob.client.send('team', { text: `bob ${n + 5}`, from: 'bob', n: n + 5 }));
    await waitFor(() => bob.client.state === 'connected' && bob.client.url === nodeB.relayUrl, { what: 'bob on node B', timeoutMs: 20_000 });
    const bobAcks = (await Promise.all(bobSends)).map(a => a.seq);
    await waitFor(() => acked.length >= 120, { what: '80 messages after the failover' });
    stop = true;
    await sender;

    const all = [...acked, ...bobAcks];
    const last = Math.max(...all);
    await waitFor(() => bob.seen.seqs('team').at(-1) === last, { what: 'bob to catch up', detail: () => `at ${bob.seen.seqs('team').at(-1)} of ${last}` });
    assert.deepEqual(bob.seen.seqs('team'), oneTo(last), 'every seq once, in order');
    const bobBodies = bob.seen.bodies('team').filter(b => b.from === 'bob').map(b => b.n);
    assert.deepEqual(bobBodies, oneTo(10), 'bob\'s own ten sends, each delivered once');
    assert.equal(new Set(all).size, all.length);
    assert.equal(bob.seen.of('unrecovered').length, 0);
  });

  test('Redis loses the group\'s stream: the open connection gets a reset, and the new numbering is handed over from 1', async () => {
    const alice = client({ url: nodeB.relayUrl, accessTokenFactory: () => tokens.alice });
    const bob = client({ url: nodeB.relayUrl, accessTokenFactory: () => tokens.bob });
    await Promise.all([alice.client.start(), bob.client.start()]);
    await alice.client.send('family', { text: 'before', n: 'before' });
    const epoch = alice.client.positions.family.epoch;

    assert.equal(await redis.command('FLUSHALL'), '+OK');
    const ack = await alice.client.send('family', { text: 'after', n: 'after' });
    assert.equal(ack.seq, 1);
    await waitFor(() => alice.seen.of('reset').some(r => r.group === 'family'), { what: 'the reset' });
    await waitFor(() => alice.seen.bodies('family').some(b => b.n === 'after'), { what: 'the new message' });
    const reset = alice.seen.of('reset').find(r => r.group === 'family');
    assert.notEqual(reset.epoch, epoch);
    assert.equal(alice.client.positions.family.epoch, reset.epoch);
    assert.equal(alice.seen.messages.get('family').at(-1).seq, 1);
    assert.deepEqual(alice.seen.of('unrecovered').filter(u => u.group === 'family'), [],
      'nothing was missed: the connection had every message of the old stream');
  });
});
