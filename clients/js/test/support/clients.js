// Helpers of the integration tests: clients on Node (the ws package's WebSocket) that record what the app sees.
import { WebSocket } from 'ws';
import { GroupRelayClient } from '../../client.js';

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/** Polls `condition()` until it is truthy; fails after `timeoutMs` with `what` and, if given, `detail()`. */
export async function waitFor(condition, { timeoutMs = 15_000, what = 'the condition', detail } = {}) {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await sleep(10);
  }
}

/** A WebSocket constructor that counts the connections made through it. */
export function countingWebSocket() {
  const counter = { count: 0 };
  counter.WebSocket = class extends WebSocket {
    constructor(...args) {
      super(...args);
      counter.count++;
    }
  };
  return counter;
}

/**
 * A client on Node with a log of what the app saw: messages per group (in the order handed over), every other event.
 * @param {import('../../client.d.ts').GroupRelayClientOptions} options
 */
export function recordingClient(options) {
  const client = new GroupRelayClient({ WebSocket, ...options });
  const seen = { messages: new Map(), events: [] };
  client.on('message', m => {
    if (!seen.messages.has(m.group)) seen.messages.set(m.group, []);
    seen.messages.get(m.group).push(m);
  });
  for (const event of ['presence', 'joined', 'left', 'added', 'removed', 'reset', 'unrecovered', 'unauthorized', 'state']) {
    client.on(event, e => seen.events.push({ event, ...e }));
  }
  seen.seqs = group => (seen.messages.get(group) ?? []).map(m => m.seq);
  seen.bodies = group => (seen.messages.get(group) ?? []).map(m => m.body);
  seen.of = event => seen.events.filter(e => e.event === event);
  return { client, seen };
}

/** 1, 2, ..., n */
export const oneTo = n => Array.from({ length: n }, (_, i) => i + 1);
