// Starts the real sample host (samples/GroupRelay.Sample.Console) as a process, on a loopback port, with its own
// database; and a real redis-server for the scale-out tests. Everything started here is stopped by the test (and,
// should a test crash, when this process exits).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repositoryRoot = path.resolve(fileURLToPath(new URL('../../../../', import.meta.url)));
const project = path.join(repositoryRoot, 'samples', 'GroupRelay.Sample.Console');
const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** The newest build of a sample (bin/Release or bin/Debug; test.sh builds Release first), or undefined. */
function builtDll(name) {
  return ['Release', 'Debug']
    .map(configuration => path.join(repositoryRoot, 'samples', name, 'bin', configuration, 'net10.0', `${name}.dll`))
    .filter(file => existsSync(file))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

let sampleDll = null;

/** The built console sample; without one it builds it once (`dotnet build -c Release` of the project). */
function findSampleDll() {
  if (sampleDll) return sampleDll;
  sampleDll = builtDll('GroupRelay.Sample.Console');
  if (!sampleDll) {
    const build = spawnSync('dotnet', ['build', project, '-c', 'Release', '--nologo', '-v', 'q'], { stdio: 'inherit' });
    if (build.status !== 0) throw new Error('dotnet build of the sample failed');
    sampleDll = builtDll('GroupRelay.Sample.Console');
  }
  return sampleDll;
}

/** The built Fleck sample, or undefined where Fleck is left out (it is not on every NuGet feed). */
export const fleckSampleDll = () => builtDll('GroupRelay.Sample.Fleck');

/**
 * Starts the Fleck sample (`{ db }`) with a tokens file; resolves with its relay URL, the client's URL and the tokens.
 */
export async function startFleck({ db }) {
  const [port, httpPort] = [await freePort(), await freePort()];
  const tokensFile = path.join(path.dirname(db), 'tokens.json');
  const child = spawn('dotnet', [fleckSampleDll(), '--port', String(port), '--http-port', String(httpPort), '--db', db, '--tokens-out', tokensFile], {
    cwd: path.dirname(db),
    env: { ...process.env, DOTNET_NOLOGO: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const host = new SampleHost(child, port, 'is listening on');
  await host.ready;
  host.tokens = JSON.parse(readFileSync(tokensFile, 'utf8'));
  host.scriptUrl = `http://127.0.0.1:${httpPort}/relay/client.js`;
  return host;
}

/** A loopback port nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A temp folder for a test's databases and seeds, removed by `remove()`. */
export function tempFolder() {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'grouprelay-js-'));
  return {
    folder,
    file: name => path.join(folder, name),
    write(name, content) {
      const file = path.join(folder, name);
      writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
      return file;
    },
    remove: () => rmSync(folder, { recursive: true, force: true }),
  };
}

/**
 * Starts a sample host: `{ db, port = free, redis, seed, historyMessages }`. Resolves once it says it is running.
 * @returns {Promise<SampleHost>}
 */
export async function startHost({ db, port, redis, seed, historyMessages } = {}) {
  port ??= await freePort();
  const args = [findSampleDll(), '--urls', `http://127.0.0.1:${port}`, '--db', db];
  if (redis) args.push('--redis', `127.0.0.1:${redis.port}`);
  if (seed) args.push('--seed', seed);
  if (historyMessages !== undefined) args.push('--history-messages', String(historyMessages));
  const child = spawn('dotnet', args, {
    cwd: path.dirname(db),
    env: { ...process.env, DOTNET_NOLOGO: '1', Logging__LogLevel__Default: 'Warning', Logging__LogLevel__GroupRelay: 'Information' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const host = new SampleHost(child, port);
  await host.ready;
  return host;
}

export class SampleHost {
  output = [];

  constructor(child, port, readyText = 'GroupRelay sample chat is running') {
    this.child = child;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.relayUrl = `ws://127.0.0.1:${port}/relay`;
    this.exited = new Promise(resolve => child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }));
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the sample host did not start within 60 s:\n${this.output.join('\n')}`)), 60_000);
      const onLine = line => {
        this.output.push(line);
        if (line.includes(readyText)) {
          clearTimeout(timer);
          resolve();
        }
      };
      lines(child.stdout, onLine);
      lines(child.stderr, line => onLine(`stderr: ${line}`));
      this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`the sample host exited (${code ?? signal}) before it was running:\n${this.output.join('\n')}`));
      });
    });
  }

  /** The demo login: a token for `user`. */
  async login(user) {
    const response = await fetch(`${this.url}/api/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user }),
    });
    if (!response.ok) throw new Error(`login of ${user}: HTTP ${response.status}`);
    return (await response.json()).token;
  }

  /** Stops the host as Ctrl+C would (every client gets 1001) and waits for it to exit. */
  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const exited = await Promise.race([this.exited, new Promise(resolve => setTimeout(() => resolve(null), 15_000))]);
    if (!exited) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Kills the process at once (no close frames: the kernel ends its connections). */
  async kill() {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** A real redis-server on a free loopback port, nothing persisted. */
export async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  children.add(child);
  const exited = new Promise(resolve => child.once('exit', () => {
    children.delete(child);
    resolve();
  }));
  const redis = {
    port,
    command: (...parts) => redisCommand(port, parts),
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await redis.command('PING')) === '+PONG') return redis;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`redis-server on port ${port} did not answer PING within 10 s (is it installed? apt-get install -y redis-server)`);
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

/** One command in RESP; resolves with the first line of the reply. */
function redisCommand(port, parts) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('redis timed out')));
    socket.on('error', reject);
    socket.on('data', chunk => {
      reply += chunk.toString('utf8');
      const end = reply.indexOf('\r\n');
      if (end >= 0) {
        socket.end();
        resolve(reply.slice(0, end));
      }
    });
    socket.write(`*${parts.length}\r\n${parts.map(p => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`);
  });
}

function lines(stream, onLine) {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', chunk => {
    buffered += chunk;
    let end;
    while ((end = buffered.indexOf('\n')) >= 0) {
      onLine(buffered.slice(0, end).replace(/\r$/, ''));
      buffered = buffered.slice(end + 1);
    }
  });
}
