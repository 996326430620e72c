// A loopback TCP proxy between clients and a relay, written with node's `net`: it can cut every connection now, hold
// what the relay sends, refuse new connections, and cut connections at random moments, in the middle of a WebSocket
// frame too (it forwards a random part of a chunk, then ends both sides).
import net from 'node:net';

export class ChaosProxy {
  #server;
  #connections = new Set();
  #chaos = null;
  /** Connections accepted so far. */
  accepted = 0;
  /** Connections this proxy cut. */
  cuts = 0;
  /** While true, new connections are closed at once (the relay looks down). */
  refuse = false;
  /** While true, what the relay sends is kept back (a cut drops it): acks and messages that never arrive. */
  holdDownstream = false;

  /** @param {number} targetPort the relay's port on 127.0.0.1 */
  constructor(targetPort) {
    this.targetPort = targetPort;
    this.#server = net.createServer(client => this.#accept(client));
  }

  listen() {
    return new Promise(resolve => this.#server.listen(0, '127.0.0.1', () => {
      this.port = this.#server.address().port;
      resolve(this);
    }));
  }

  /** The relay URL through this proxy. */
  get relayUrl() {
    return `ws://127.0.0.1:${this.port}/relay`;
  }

  /** Cuts every open connection now. */
  cutAll() {
    for (const connection of [...this.#connections]) connection.cut();
  }

  /**
   * Cuts each connection after a random lifetime from `minMs` to `maxMs`: at the first chunk after it (forwarding
   * only a random prefix of that chunk, so a frame is split), or at the deadline if nothing flows.
   */
  startChaos({ minMs, maxMs, random = Math.random }) {
    this.#chaos = { minMs, maxMs, random };
    for (const connection of this.#connections) connection.arm(this.#chaos);
  }

  stopChaos() {
    this.#chaos = null;
    for (const connection of this.#connections) connection.disarm();
  }

  close() {
    this.stopChaos();
    this.cutAll();
    return new Promise(resolve => this.#server.close(() => resolve()));
  }

  #accept(client) {
    this.accepted++;
    if (this.refuse) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    const proxy = this;
    const held = [];
    let deadline = Infinity;
    let timer = null;
    let ended = false;
    const finish = () => {
      ended = true;
      clearTimeout(timer);
      proxy.#connections.delete(connection);
    };
    const connection = {
      /** The proxy ends the connection; `partial`: the first bytes of a chunk still go to one side (a split frame). */
      cut(partial) {
        if (ended) return;
        finish();
        proxy.cuts++;
        for (const socket of [client, upstream]) {
          if (partial && socket === partial.socket) socket.end(partial.chunk, () => socket.destroy());
          else socket.destroy();
        }
      },
      arm({ minMs, maxMs, random }) {
        const lifetime = minMs + random() * (maxMs - minMs);
        deadline = Date.now() + lifetime;
        clearTimeout(timer);
        timer = setTimeout(() => connection.cut(), lifetime);
      },
      disarm() {
        deadline = Infinity;
        clearTimeout(timer);
      },
    };
    this.#connections.add(connection);
    if (this.#chaos) connection.arm(this.#chaos);

    const forward = (from, to, downstream) => from.on('data', chunk => {
      if (ended) return;
      if (Date.now() >= deadline) {
        const at = Math.floor((this.#chaos?.random ?? Math.random)() * chunk.length);
        connection.cut({ socket: to, chunk: chunk.subarray(0, at) });
        return;
      }
      if (downstream && this.holdDownstream) {
        held.push(chunk);
        return;
      }
      if (downstream && held.length > 0) {
        for (const kept of held.splice(0)) to.write(kept);
      }
      to.write(chunk);
    });
    forward(client, upstream, false);
    forward(upstream, client, true);
    for (const socket of [client, upstream]) {
      // One side ended: so does the other (as a relay or client would see it through a real network).
      const other = socket === client ? upstream : client;
      socket.on('error', () => {});
      socket.on('close', () => {
        if (ended) return;
        finish();
        other.end(() => other.destroy());
      });
    }
  }
}
