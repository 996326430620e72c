// The property the client holds (issue "Official clients", part 3): through a loopback proxy that cuts connections at
// random moments (mid-frame too), N clients in a few groups and several senders among them: every client's app sees
// every acknowledged message of its groups exactly once, in seq order, and every send the app made is delivered
// exactly once. Against one node, and against two nodes on Redis.
//
// CI runs 10,000 messages; GROUPRELAY_SLOW=1 runs 1,000,000 (GROUPRELAY_PROPERTY_MESSAGES=n runs n). GROUPRELAY_SEED=n
// replays the same random choices (the timing of the processes still varies).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChaosProxy } from './support/proxy.js';
import { startHost, startRedis, tempFolder } from './support/host.js';
import { recordingClient, sleep, waitFor } from './support/clients.js';

const SLOW = process.env.GROUPRELAY_SLOW === '1';
const MESSAGES = Number(process.env.GROUPRELAY_PROPERTY_MESSAGES ?? (SLOW ? 1_000_000 : 10_000));
const USERS = SLOW ? 24 : 12;
const SENDERS = SLOW ? 16 : 8;
const GROUPS = ['g1', 'g2', 'g3'];
// Each sender stays under the relay's rate limit (100 requests/s per connection, PROTOCOL.md section 4).
const RATE_PER_SENDER = 80;
const OUTSTANDING_PER_SENDER = 64;
// The senders need MESSAGES / (SENDERS * RATE_PER_SENDER) seconds; the rest is start-up and catching up.
const TIMEOUT_MS = Math.max(150_000, 2 * (MESSAGES / (SENDERS * RATE_PER_SENDER)) * 1000 + 90_000);
const SEED = Number(process.env.GROUPRELAY_SEED ?? Date.now() % 1_000_000);

const users = Array.from({ length: USERS }, (_, i) => `u${String(i + 1).padStart(2, '0')}`);
// Every user is in one group, every second user in the next one too: groups of different sizes that overlap.
const groupsOf = user => {
  const i = users.indexOf(user);
  const own = [GROUPS[i % GROUPS.length]];
  if (i % 2 === 0) own.push(GROUPS[(i + 1) % GROUPS.length]);
  return own;
};

test(`property, one node: ${MESSAGES} messages, ${USERS} clients, ${SENDERS} senders, connections cut at random`, { timeout: TIMEOUT_MS }, async t => {
  const temp = tempFolder();
  const host = await startHost({ db: temp.file('one.db'), seed: seedFile(temp), historyMessages: 100_000 });
  try {
    await runProperty(t, [host], SEED);
  } finally {
    await host.stop();
    temp.remove();
  }
});

test(`property, two nodes on Redis: ${MESSAGES} messages, ${USERS} clients, ${SENDERS} senders, connections cut at random`, { timeout: TIMEOUT_MS }, async t => {
  const temp = tempFolder();
  const redis = await startRedis();
  const db = temp.file('two.db');
  const hosts = [];
  try {
    hosts.push(await startHost({ db, seed: seedFile(temp), historyMessages: 100_000, redis }));
    hosts.push(await startHost({ db, historyMessages: 100_000, redis }));
    await runProperty(t, hosts, SEED + 1);
  } finally {
    await Promise.all(hosts.map(h => h.stop()));
    await redis.stop();
    temp.remove();
  }
});

function seedFile(temp) {
  const groups = Object.fromEntries(GROUPS.map(g => [g, users.filter(u => groupsOf(u).includes(g))]));
  return temp.write('seed.json', { users, groups, friends: [] });
}

async function runProperty(t, hosts, seed) {
  const random = mulberry32(seed);
  t.diagnostic(`seed ${seed} (GROUPRELAY_SEED=${seed} replays the random choices)`);
  const proxies = await Promise.all(hosts.map(h => new ChaosProxy(h.port).listen()));
  const tokens = Object.fromEntries(await Promise.all(users.map(async u => [u, await hosts[0].login(u)])));

  // What the apps saw: per group, the body of each seq (the first client to see a seq writes it, the others compare).
  const ledger = new Map(GROUPS.map(g => [g, []]));
  const violations = [];
  const violate = text => { if (violations.length < 20) violations.push(text); };
  const clients = users.map((user, i) => {
    const urls = proxies.map((_, p) => proxies[(i + p) % proxies.length].relayUrl); // spread over the nodes
    const { client } = recordingClient({
      urls,
      accessTokenFactory: () => tokens[user],
      heartbeatMs: 0,
      connectTimeoutMs: 5000,
      reconnect: { initialDelayMs: 20, maxDelayMs: 300 },
    });
    const next = new Map(groupsOf(user).map(g => [g, 1]));
    client.on('message', m => {
      const expected = next.get(m.group);
      if (m.seq !== expected) {
        violate(`${user} got ${m.group}#${m.seq} when ${expected} was next`);
        return;
      }
      next.set(m.group, expected + 1);
      const seen = ledger.get(m.group);
      if (seen[m.seq] === undefined) seen[m.seq] = m.body.k;
      else if (seen[m.seq] !== m.body.k) violate(`${user} got ${m.group}#${m.seq} = ${m.body.k}, another client ${seen[m.seq]}`);
    });
    client.on('unrecovered', u => violate(`${user}: unrecovered ${JSON.stringify(u)}`));
    return { user, client, next };
  });

  try {
    await Promise.all(clients.map(c => c.client.start()));
    for (const proxy of proxies) proxy.startChaos({ minMs: 100, maxMs: 1500, random });

    // The senders: each sends its share to its groups in turn, paced, with a bounded number of sends outstanding.
    const acks = new Map(GROUPS.map(g => [g, new Map()])); // group -> seq -> key
    const sent = new Map(GROUPS.map(g => [g, new Set()])); // group -> keys sent
    let duplicates = 0;
    const started = Date.now();
    await Promise.all(clients.slice(0, SENDERS).map(async ({ user, client }, s) => {
      const share = Math.floor(MESSAGES / SENDERS) + (s < MESSAGES % SENDERS ? 1 : 0);
      const groups = groupsOf(user);
      const outstanding = new Set();
      const begin = Date.now();
      for (let n = 0; n < share; n++) {
        const due = begin + (n * 1000) / RATE_PER_SENDER;
        if (Date.now() < due) await sleep(due - Date.now());
        while (outstanding.size >= OUTSTANDING_PER_SENDER) await Promise.race(outstanding);
        const group = groups[n % groups.length];
        const key = (s + 1) * 10_000_000 + n;
        sent.get(group).add(key);
        const sending = client.send(group, { text: String(key), k: key }).then(ack => {
          if (ack.duplicate) duplicates++;
          const previous = acks.get(group).get(ack.seq);
          if (previous !== undefined && previous !== key) violate(`${group}#${ack.seq} acknowledged for ${previous} and ${key}`);
          acks.get(group).set(ack.seq, key);
        }, error => violate(`${user}: send ${key} failed: ${error.code} ${error.message}`));
        const tracked = sending.finally(() => outstanding.delete(tracked));
        outstanding.add(tracked);
      }
      await Promise.all(outstanding);
    }));
    const sendingMs = Date.now() - started;
    for (const proxy of proxies) proxy.stopChaos();

    // Every client catches up with every message of its groups.
    const last = new Map(GROUPS.map(g => [g, acks.get(g).size]));
    const caughtUp = () => clients.every(c => [...c.next].every(([g, next]) => next - 1 === last.get(g)));
    const beyond = () => clients.some(c => [...c.next].some(([g, next]) => next - 1 > last.get(g))); // more than was sent
    await waitFor(() => violations.length > 0 || caughtUp() || beyond(), {
      timeoutMs: 60_000,
      what: 'every client to have every acknowledged message',
      detail: () => clients.map(c => `${c.user} ${c.client.state} ${[...c.next].map(([g, n]) => `${g}:${n - 1}/${last.get(g)}`).join(' ')}`).join('; '),
    });
    const cuts = proxies.reduce((sum, p) => sum + p.cuts, 0);
    t.diagnostic(`${MESSAGES} sends in ${sendingMs} ms; ${cuts} connections cut; ${duplicates} acks were duplicates (resends)`);

    assert.deepEqual(violations, []);
    for (const group of GROUPS) {
      const count = sent.get(group).size;
      const seqs = [...acks.get(group).keys()].sort((a, b) => a - b);
      assert.equal(seqs.length, count, `${group}: one ack per send`);
      assert.equal(seqs.at(-1), count, `${group}: the acknowledged seqs are 1..${count}`);
      const seen = ledger.get(group);
      assert.equal(seen.length - 1, count, `${group}: the apps saw ${count} messages`);
      const delivered = new Set(seen.slice(1));
      assert.equal(delivered.size, count, `${group}: no send was delivered twice`);
      for (const key of sent.get(group)) assert.ok(delivered.has(key), `${group}: send ${key} was delivered`);
      for (const [seq, key] of acks.get(group)) assert.equal(seen[seq], key, `${group}#${seq} is the message its ack named`);
    }
    assert.ok(cuts >= 10, `the proxy cut connections (${cuts})`);
  } finally {
    await Promise.all(clients.map(c => c.client.stop()));
    await Promise.all(proxies.map(p => p.close()));
  }
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
