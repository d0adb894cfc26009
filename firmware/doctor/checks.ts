/**
 * `peerhub doctor` (issue 6, SSH diagnostics), pure: facts the agent gathered → one verdict per check,
 * pass / warn / fail, each with what to do about it. No I/O here (facts.ts gathers).
 */
export type Verdict = 'pass' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: Verdict;
  detail: string;
  hint?: string;
}

export interface DoctorFacts {
  version: string;
  uptimeMs: number;
  controlSocket: string;
  mdnsBackend: string;
  /** Processes holding UDP port 5353 (command names; empty when unknown). */
  port5353: string[];
  /** A route for 224.0.0.0/4 or a default route exists on the interface (null: cannot tell). */
  multicastRoute: boolean | null;
  interface: string | null;
  /** IPv4 addresses on the interface (the first with one when none is configured) now. */
  addresses: string[];
  peersSeen: number;
  peersVerified: number;
  clockSynchronised: boolean;
  now: number;
  identity: { peerId: string; notAfter: number };
  tls: { notAfter: number; provisional: boolean };
  /** Files the store moved aside as corrupt (`*.corrupt-*`). */
  quarantined: string[];
  disk: { freeBytes: number; path: string } | null;
  panel: { board: 'linux' | 'virtual' | 'none'; onPi: boolean; overlayHint?: string };
  /** The last first-boot file's outcome (null: none was applied on this machine). */
  firstBoot?: { ok: boolean; errors: string[]; at: string | null } | null;
}

const DAY = 86_400_000;
const MB = 1024 * 1024;
const days = (ms: number): string => `${Math.floor(ms / DAY)} days`;

export function evaluate(f: DoctorFacts): Check[] {
  const c: Check[] = [];
  const add = (name: string, status: Verdict, detail: string, hint?: string): void => {
    c.push({ name, status, detail, ...(hint ? { hint } : {}) });
  };
  add('agent', 'pass', `running ${Math.round(f.uptimeMs / 1000)} s, version ${f.version}`);
  add('control-socket', 'pass', f.controlSocket);

  const where = f.interface ?? 'any interface';
  if (f.addresses.length === 0) {
    add(
      'address',
      'fail',
      `no IPv4 address on ${where}: presence is paused until one comes (seen within 2 s)`,
      'check the cable or the Wi-Fi and DHCP (`ip -4 addr`); with the Avahi backend see `journalctl -u avahi-daemon`',
    );
  } else add('address', 'pass', `${f.addresses.join(', ')} on ${where}`);

  const ours = (p: string): boolean => p === 'node' || p === 'peerhub' || p === 'user peerhub';
  const others = f.port5353.filter((p) => !ours(p));
  // Seen by process name, or by its user when the agent may not look at other processes.
  const avahi = f.port5353.some((p) => p === 'avahi-daemon' || p === 'user avahi');
  if (f.mdnsBackend === 'avahi' && !avahi) {
    add(
      'mdns',
      'warn',
      'backend avahi, but avahi-daemon does not hold port 5353: publishing is paused until it is back',
      '`systemctl status avahi-daemon`; the agent publishes again as soon as it runs',
    );
  } else if (f.mdnsBackend === 'avahi' && f.port5353.some(ours)) {
    add(
      'mdns',
      'warn',
      `backend avahi; port 5353 also held by ${f.port5353.filter(ours).join(', ')}`,
      'another multicast-dns responder fights avahi-daemon: stop it',
    );
  } else if (f.mdnsBackend === 'multicast-dns' && others.length > 0) {
    add(
      'mdns',
      'warn',
      `backend multicast-dns; port 5353 also held by ${others.join(', ')}`,
      'two responders on one host answer for each other: stop the other one or use the Avahi backend',
    );
  } else {
    add(
      'mdns',
      'pass',
      `backend ${f.mdnsBackend}${f.port5353.length ? `; 5353: ${f.port5353.join(', ')}` : ''}`,
    );
  }

  if (f.multicastRoute === false) {
    add(
      'multicast-route',
      'fail',
      `no route for 224.0.0.0/4 on ${f.interface ?? 'any interface'}`,
      'bring the network up (DHCP) or add `ip route add 224.0.0.0/4 dev <if>`',
    );
  } else {
    add(
      'multicast-route',
      f.multicastRoute === null ? 'warn' : 'pass',
      f.multicastRoute === null ? 'cannot read the routing table' : 'present',
    );
  }

  if (f.peersSeen === 0) {
    add(
      'peers',
      'warn',
      'no hub seen on the subnet',
      'other hubs signed in? same subnet? multicast filtered by the Wi-Fi access point?',
    );
  } else add('peers', 'pass', `${f.peersSeen} seen, ${f.peersVerified} verified`);

  if (!f.clockSynchronised) {
    add(
      'clock',
      'warn',
      `clock not synchronised (reads ${new Date(f.now).toISOString()})`,
      'check time sync (`timedatectl`); certificates are checked with a tolerance until then',
    );
  } else add('clock', 'pass', new Date(f.now).toISOString());

  const idLeft = f.identity.notAfter - f.now;
  add(
    'identity',
    idLeft > 0 ? 'pass' : 'fail',
    `${f.identity.peerId}, root valid ${days(Math.max(0, idLeft))} more`,
  );

  const tlsLeft = f.tls.notAfter - f.now;
  if (tlsLeft <= 0) add('tls', 'fail', 'TLS certificate expired', 'restart the agent: it issues a new one');
  else if (f.tls.provisional)
    add(
      'tls',
      'warn',
      'provisional certificate (clock was not synchronised)',
      'renewed once the clock is set',
    );
  else if (tlsLeft < 10 * DAY)
    add(
      'tls',
      'warn',
      `TLS certificate expires in ${days(tlsLeft)}`,
      'it renews by itself: check the log if it does not',
    );
  else add('tls', 'pass', `TLS certificate valid ${days(tlsLeft)} more`);

  if (f.quarantined.length > 0) {
    add(
      'store',
      'warn',
      `${f.quarantined.length} corrupt file(s) set aside: ${f.quarantined.slice(0, 3).join(', ')}`,
      'the .bak copy was used; inspect and delete the .corrupt files',
    );
  } else add('store', 'pass', 'no corrupt files');

  if (!f.disk) add('disk', 'warn', 'free space unknown');
  else if (f.disk.freeBytes < 10 * MB)
    add(
      'disk',
      'fail',
      `${Math.round(f.disk.freeBytes / MB)} MB free on ${f.disk.path}`,
      'free space: writes will fail',
    );
  else if (f.disk.freeBytes < 100 * MB)
    add('disk', 'warn', `${Math.round(f.disk.freeBytes / MB)} MB free on ${f.disk.path}`, 'free some space');
  else add('disk', 'pass', `${Math.round(f.disk.freeBytes / MB)} MB free on ${f.disk.path}`);

  if (f.panel.board === 'linux') add('panel', 'pass', 'LEDs and buttons (overlay loaded)');
  else if (f.panel.onPi)
    add(
      'panel',
      'warn',
      `${f.panel.board === 'none' ? 'no panel' : 'virtual panel'} on a Raspberry Pi`,
      f.panel.overlayHint,
    );
  else add('panel', 'pass', f.panel.board === 'none' ? 'no panel' : 'virtual panel (no hub hardware here)');

  const fb = f.firstBoot;
  if (fb && fb.ok) add('first-boot', 'pass', `boot-partition settings applied${fb.at ? ` ${fb.at}` : ''}`);
  else if (fb)
    add(
      'first-boot',
      'fail',
      fb.errors.join('; ') || 'first boot failed',
      'fix peerhub.toml on the boot partition (see peerhub-applied.toml or peerhub-invalid.toml there, ' +
        'and `journalctl -u peerhub-firstboot`), put it back as peerhub.toml and reboot',
    );
  return c;
}

/** Exit status of `peerhub doctor`: 1 when any check failed. */
export function worst(checks: Check[]): Verdict {
  return checks.some((x) => x.status === 'fail')
    ? 'fail'
    : checks.some((x) => x.status === 'warn')
      ? 'warn'
      : 'pass';
}
