import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';

/** Live (non-zombie) descendants of `pid`, read from /proc: [pid, command name]. */
export function descendants(pid: number): Array<[number, string]> {
  const children = new Map<number, Array<[number, string]>>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const [state, ppid] = stat.slice(close + 2).split(' ');
    if (state === 'Z' || state === 'X') continue;
    const list = children.get(Number(ppid)) ?? [];
    list.push([Number(entry), comm]);
    children.set(Number(ppid), list);
  }
  const out: Array<[number, string]> = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c[0]);
    }
  };
  walk(pid);
  return out;
}

/** Local addresses (hex, as /proc/net/tcp{,6} write them) of the sockets listening on `port`. */
export function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const [addr, p] = (cols[1] ?? '').split(':');
      if (p === hexPort && cols[3] === '0A') out.push(addr!);
    }
  }
  return out;
}

/** Sends one inline command to 127.0.0.1:`port` without authenticating; resolves the first reply line. */
export function rawRedisCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('no reply')));
    socket.on('error', reject);
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      const nl = reply.indexOf('\r\n');
      if (nl >= 0) {
        socket.destroy();
        resolve(reply.slice(0, nl));
      }
    });
  });
}

/** Whether `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Polls `check` every 50 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
