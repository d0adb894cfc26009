/**
 * avahi-daemon inside a lab namespace, with its own dbus-daemon (a generated config listening on a
 * socket under the lab's temp dir, reached through DBUS_SYSTEM_BUS_ADDRESS) and a private mount
 * namespace in which a tmpfs covers /run (so /run/avahi-daemon — pid file, legacy socket — is
 * private) and an empty dir covers /etc/avahi/services (the host's static services stay out).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, Stream } from './proc.js';

export interface AvahiContext {
  ns: string;
  index: number;
  dir: string; // private temp dir for this node's avahi
  hostName: string; // unique per namespace
  track<T>(s: Stream<T>): Stream<T>;
  repo: string;
}

/** One line of `avahi-browse -p` output (`+` new, `-` removed, `=` resolved). */
export interface AvahiBrowseLine {
  kind: '+' | '-' | '=';
  iface: string;
  protocol: string;
  name: string;
  type: string;
  domain: string;
  host?: string;
  address?: string;
  port?: number;
  txt?: Record<string, string>;
}

export class AvahiNode {
  readonly busAddress: string;
  readonly env: NodeJS.ProcessEnv;
  private daemon: Stream | null = null;
  private dbus: Stream | null = null;

  constructor(private readonly ctx: AvahiContext) {
    this.busAddress = `unix:path=${join(ctx.dir, 'bus.sock')}`;
    this.env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: this.busAddress };
  }

  get hostName(): string {
    return this.ctx.hostName;
  }

  get pid(): number | undefined {
    return this.daemon?.pid;
  }

  get busPid(): number | undefined {
    return this.dbus?.pid;
  }

  /** The daemon's log stream (stderr: avahi logs there when not daemonized). */
  get log(): Stream | null {
    return this.daemon;
  }

  /** Start the bus and the daemon (each only if not running). */
  async start(): Promise<this> {
    await this.startBus();
    if (!this.daemon?.running) await this.startDaemon();
    return this;
  }

  /** Write the configs and start only the bus (if not running): the daemon can then be timed alone. */
  async startBus(): Promise<this> {
    const { dir } = this.ctx;
    await mkdir(join(dir, 'services'), { recursive: true });
    await writeFile(join(dir, 'bus.conf'), busConfig(join(dir, 'bus.sock')));
    await writeFile(join(dir, 'avahi-daemon.conf'), avahiConfig(this.ctx.hostName));
    if (!this.dbus?.running) {
      this.dbus = this.ctx.track(
        // Inside the namespace too, so the lab's sweeper finds it if the test process dies.
        new Stream(
          'ip',
          this.nsArgs('dbus-daemon', [
            '--config-file',
            join(dir, 'bus.conf'),
            '--nofork',
            '--nopidfile',
            '--print-address',
          ]),
          { name: `dbus${this.ctx.index}` },
        ),
      );
      await this.dbus.waitForRecord((l) => l.startsWith('unix:'), { timeout: 10_000 });
    }
    return this;
  }

  /** (Re)start only avahi-daemon, on the already running bus. Resolves once it has probed its host name. */
  async startDaemon(timeout = 20_000): Promise<Stream> {
    const { dir } = this.ctx;
    const script = [
      'set -e',
      `mount -t tmpfs -o size=1m,mode=0755 ${shq(this.ctx.ns)} /run`, // source named after the namespace: findable
      'mkdir -p /run/avahi-daemon',
      `mount --bind ${shq(join(dir, 'services'))} /etc/avahi/services`,
      `exec avahi-daemon -f ${shq(join(dir, 'avahi-daemon.conf'))} --no-drop-root --no-chroot --no-rlimits --no-proc-title`,
    ].join('\n');
    this.daemon = this.ctx.track(
      new Stream(
        'ip',
        ['netns', 'exec', this.ctx.ns, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', script],
        {
          name: `avahi${this.ctx.index}`,
          env: this.env,
        },
      ),
    );
    await this.daemon.waitForLine(/Server startup complete/, timeout);
    return this.daemon;
  }

  async stopDaemon(): Promise<{ code: number | null; ms: number }> {
    if (!this.daemon) return { code: null, ms: 0 };
    return this.daemon.stop('SIGTERM', 5_000);
  }

  /** Argument vector running `cmd` in this node's namespace (the bus comes from `this.env`). */
  nsArgs(cmd: string, args: readonly string[]): string[] {
    return ['netns', 'exec', this.ctx.ns, cmd, ...args];
  }

  /** `avahi-browse -rtp <type>`: the resolved instances (bounded by `timeout`). */
  async browse(type = '_peerhub._tcp', timeout = 15_000): Promise<AvahiBrowseLine[]> {
    const r = await run('ip', this.nsArgs('avahi-browse', ['-rtp', type]), {
      env: this.env,
      timeoutMs: timeout,
    });
    if (r.code !== 0 && !r.timedOut) throw new Error(`avahi-browse failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout
      .split('\n')
      .map(parseBrowseLine)
      .filter((l): l is AvahiBrowseLine => l !== undefined && l.kind === '=');
  }

  /** `avahi-browse -rp <type>` left running: every +/-/= line, timestamped. */
  browseStream(type = '_peerhub._tcp'): Stream<AvahiBrowseLine> {
    return this.ctx.track(
      // avahi-browse block-buffers stdout on a pipe: line-buffer it or nothing arrives until exit.
      new Stream<AvahiBrowseLine>('ip', this.nsArgs('stdbuf', ['-oL', 'avahi-browse', '-rp', type]), {
        name: `avahi-browse${this.ctx.index}`,
        env: this.env,
        parse: parseBrowseLine,
      }),
    );
  }

  /** `avahi-publish -s name type port txt…`, resolved once the daemon reports it established. */
  async publish(
    name: string,
    type: string,
    port: number,
    txt: readonly string[] = [],
    timeout = 20_000,
  ): Promise<Stream> {
    const s = this.ctx.track(
      new Stream('ip', this.nsArgs('avahi-publish', ['-s', name, type, String(port), ...txt]), {
        name: `avahi-publish${this.ctx.index}`,
        env: this.env,
      }),
    );
    await s.waitForLine(/Established under name/, timeout);
    return s;
  }

  /**
   * A D-Bus publisher (test/lab/avahi_publish.py) that can update its TXT in place
   * (EntryGroup.UpdateServiceTxt): write `txt k=v …` to it; it prints `established` and `updated`.
   * Not awaited: callers time from the spawn.
   */
  publishUpdatable(name: string, type: string, port: number, txt: readonly string[] = []): Stream {
    const script = join(this.ctx.repo, 'test/lab/avahi_publish.py');
    return this.ctx.track(
      new Stream('ip', this.nsArgs('/usr/bin/python3', [script, name, type, String(port), ...txt]), {
        name: `avahi-dbus-publish${this.ctx.index}`,
        env: this.env,
      }),
    );
  }

  /**
   * Follow one instance's TXT record in this daemon's cache (test/lab/avahi_watch_txt.py, a D-Bus
   * RecordBrowser): a record per TXT the cache gains. `avahi-browse -r` never reports a changed TXT.
   * Resolves once the browser exists.
   */
  async watchTxt(instance: string, type = '_peerhub._tcp'): Promise<Stream<Record<string, string>>> {
    const script = join(this.ctx.repo, 'test/lab/avahi_watch_txt.py');
    const s = this.ctx.track(
      new Stream<Record<string, string>>(
        'ip',
        this.nsArgs('/usr/bin/python3', [script, `${instance}.${type}.local`]),
        {
          name: `avahi-watch-txt${this.ctx.index}`,
          env: this.env,
          parse: (l) =>
            l.startsWith('txt')
              ? parseTxt(
                  l
                    .slice(3)
                    .trim()
                    .split(' ')
                    .map((e) => `"${e}"`)
                    .join(' '),
                )
              : undefined,
        },
      ),
    );
    await s.waitForLine(/^> ready/, 10_000);
    return s;
  }

  async stop(): Promise<void> {
    await this.daemon?.stop('SIGTERM', 5_000);
    await this.dbus?.stop('SIGTERM', 5_000);
  }
}

/** Parse one `avahi-browse -p` line; undefined for anything else. */
export function parseBrowseLine(line: string): AvahiBrowseLine | undefined {
  const f = line.split(';');
  const kind = f[0];
  if ((kind !== '+' && kind !== '-' && kind !== '=') || f.length < 6) return undefined;
  const rec: AvahiBrowseLine = {
    kind,
    iface: f[1] as string,
    protocol: f[2] as string,
    name: unescapeAvahi(f[3] as string),
    type: f[4] as string,
    domain: f[5] as string,
  };
  if (kind === '=' && f.length >= 10) {
    rec.host = f[6];
    rec.address = f[7];
    rec.port = Number(f[8]);
    // TXT may itself contain ';'
    rec.txt = parseTxt(f.slice(9).join(';'));
  }
  return rec;
}

/** avahi escapes labels as `\DDD` (decimal byte) and `\.`/`\\`; decode to UTF-8 text. */
export function unescapeAvahi(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && /^\d{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(Number(s.slice(i + 1, i + 4)));
      i += 3;
    } else if (c === '\\' && i + 1 < s.length) {
      bytes.push(...Buffer.from(s[i + 1] as string));
      i += 1;
    } else {
      bytes.push(...Buffer.from(c));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** `"k=v" "flag"` → { k: 'v', flag: '' }. */
export function parseTxt(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    const entry = unescapeAvahi(m[1] as string);
    const eq = entry.indexOf('=');
    if (eq < 0) out[entry] = '';
    else out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

function busConfig(socket: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`;
}

function avahiConfig(hostName: string): string {
  return `[server]
host-name=${hostName}
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-workstation=no
publish-hinfo=no
publish-aaaa-on-ipv4=no
[reflector]
enable-reflector=no
[rlimits]
`;
}

export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
