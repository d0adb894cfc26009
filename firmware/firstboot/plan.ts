/**
 * The valid subset of a first-boot file → the actions that apply it to a target root. Pure: the files
 * it edits come in a Snapshot read beforehand. Ethernet configuration is never touched, so the hub
 * stays on DHCP over its cable whatever the file says.
 */
import { pbkdf2Sync } from 'node:crypto';
import { editHosts, mergeAuthorizedKeys, setTomlKeys } from './edit.js';
import type { Action, FirstBootSettings, Snapshot } from './types.js';

export const PATHS = {
  hostname: '/etc/hostname',
  hosts: '/etc/hosts',
  localtime: '/etc/localtime',
  timezone: '/etc/timezone',
  zoneinfo: '/usr/share/zoneinfo',
  peerhubToml: '/etc/peerhub/peerhub.toml',
  passwd: '/etc/passwd',
  wpaDir: '/etc/wpa_supplicant',
  wpaConf: '/etc/wpa_supplicant/wpa_supplicant-wlan0.conf',
  networkDir: '/etc/systemd/network',
  wlanNetwork: '/etc/systemd/network/30-wlan0.network',
  wantsDir: '/etc/systemd/system/sys-subsystem-net-devices-wlan0.device.wants',
  wpaWants: '/etc/systemd/system/sys-subsystem-net-devices-wlan0.device.wants/wpa_supplicant@wlan0.service',
  /** Where earlier versions enabled it (every boot then waited 90 s for a wlan0 that may never come). */
  wpaWantsOld: '/etc/systemd/system/multi-user.target.wants/wpa_supplicant@wlan0.service',
  wpaUnit: '/usr/lib/systemd/system/wpa_supplicant@.service',
} as const;

export interface PlanOptions {
  /** Whose authorized_keys receive the keys (default `admin`). */
  user?: string;
  /** Also change the running system (`hostname`, start wpa_supplicant): only when the root is `/`. */
  live: boolean;
}

export interface Plan {
  actions: Action[];
  /** Fields that cannot be applied to this root (one line each, naming the key). */
  errors: string[];
}

/** A user's uid, gid and home from passwd(5) text. */
export function lookupUser(
  passwd: string | undefined,
  name: string,
): { uid: number; gid: number; home: string } | null {
  for (const line of (passwd ?? '').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7 && /^\d+$/.test(f[2]!) && /^\d+$/.test(f[3]!)) {
      return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] || `/home/${name}` };
    }
  }
  return null;
}

/** The WPA PSK of a passphrase (IEEE 802.11i: PBKDF2-HMAC-SHA1, SSID as salt, 4096 rounds), as wpa_passphrase. */
export function wpaPsk(passphrase: string, ssid: string): string {
  return pbkdf2Sync(Buffer.from(passphrase, 'latin1'), Buffer.from(ssid, 'utf8'), 4096, 32, 'sha1').toString(
    'hex',
  );
}

/**
 * wpa_supplicant reads `ssid=<hex>` for any bytes. A passphrase goes in as given (`psk="…"`) unless it
 * holds `"` or `#`: wpa_supplicant 2.10 cuts such a line at the `#` after an inner quote (measured:
 * `psk="a"b#c"` → "Invalid passphrase length 1"), so those get the derived 64-hex PSK instead.
 */
export function wpaConfig(wifi: NonNullable<FirstBootSettings['wifi']>): string {
  const { ssid, passphrase, country } = wifi;
  const psk =
    passphrase === undefined
      ? ['\tkey_mgmt=NONE']
      : /^[0-9A-Fa-f]{64}$/.test(passphrase)
        ? [`\tpsk=${passphrase.toLowerCase()}`]
        : /["#]/.test(passphrase)
          ? [`\tpsk=${wpaPsk(passphrase, ssid)}`]
          : [`\tpsk="${passphrase}"`];
  return [
    '# Written once by `peerhub firstboot` from peerhub.toml on the boot partition.',
    'ctrl_interface=DIR=/run/wpa_supplicant',
    'update_config=0',
    `country=${country}`,
    '',
    'network={',
    `\t# ssid ${JSON.stringify(ssid)}`,
    `\tssid=${Buffer.from(ssid, 'utf8').toString('hex')}`,
    ...psk,
    '}',
    '',
  ].join('\n');
}

/** DHCP on wlan0, with routes that lose to Ethernet's (networkd's default metric is 1024). */
export const WLAN_NETWORK = [
  '# Written by `peerhub firstboot`: Wi-Fi on DHCP; Ethernet (its own file) keeps priority.',
  '[Match]',
  'Name=wlan0',
  '',
  '[Network]',
  'DHCP=yes',
  '',
  '[DHCPv4]',
  'RouteMetric=2048',
  '',
  '[IPv6AcceptRA]',
  'RouteMetric=2048',
  '',
].join('\n');

export function planFirstBoot(s: FirstBootSettings, snap: Snapshot, opts: PlanOptions): Plan {
  const actions: Action[] = [];
  const errors: string[] = [];
  // Commands that act on systemd while it is booting go last, after every file (the admin's SSH keys
  // included) is written: if one hangs or the run is stopped during it, nothing else is lost.
  const last: Action[] = [];

  if (s.hostname !== undefined) {
    const name = s.hostname;
    actions.push(
      {
        kind: 'write',
        what: 'hostname: /etc/hostname',
        path: PATHS.hostname,
        content: `${name}\n`,
        mode: 0o644,
      },
      {
        kind: 'write',
        what: 'hostname: /etc/hosts',
        path: PATHS.hosts,
        content: editHosts(snap.hosts, name),
        mode: 0o644,
      },
    );
    if (opts.live)
      actions.push({ kind: 'run', what: 'hostname: set on the running system', argv: ['hostname', name] });
  }

  if (s.timezone !== undefined) {
    actions.push(
      {
        kind: 'symlink',
        what: 'timezone: /etc/localtime',
        path: PATHS.localtime,
        target: `${PATHS.zoneinfo}/${s.timezone}`,
      },
      {
        kind: 'write',
        what: 'timezone: /etc/timezone',
        path: PATHS.timezone,
        content: `${s.timezone}\n`,
        mode: 0o644,
      },
    );
  }

  const agent: Record<string, string> = {};
  if (s.nickname !== undefined) agent.nickname = s.nickname;
  if (s.classifier !== undefined) agent.classifier = s.classifier;
  const agentKeys = Object.keys(agent);
  if (agentKeys.length) {
    try {
      const cur = snap.peerhubToml;
      actions.push({
        kind: 'write',
        what: `${agentKeys.join(', ')}: ${PATHS.peerhubToml}`,
        path: PATHS.peerhubToml,
        content: setTomlKeys(cur?.text, agent),
        mode: cur?.mode ?? 0o644,
        ...(cur ? { uid: cur.uid, gid: cur.gid } : {}),
      });
    } catch (e) {
      const first = String((e as Error).message).split('\n')[0];
      for (const k of agentKeys)
        errors.push(`${k}: ${PATHS.peerhubToml} is not valid TOML (${first}); not changed`);
    }
  }

  if (s.wifi) {
    actions.push(
      { kind: 'mkdir', what: 'wifi: /etc/wpa_supplicant', path: PATHS.wpaDir, mode: 0o755 },
      {
        kind: 'write',
        what: `wifi: ${PATHS.wpaConf}`,
        path: PATHS.wpaConf,
        content: wpaConfig(s.wifi),
        mode: 0o600,
        uid: 0,
        gid: 0,
      },
      { kind: 'mkdir', what: 'wifi: /etc/systemd/network', path: PATHS.networkDir, mode: 0o755 },
      {
        kind: 'write',
        what: `wifi: ${PATHS.wlanNetwork}`,
        path: PATHS.wlanNetwork,
        content: WLAN_NETWORK,
        mode: 0o644,
      },
      // Started by the Wi-Fi interface itself, when (and if) it appears: wpa_supplicant@wlan0 is ordered
      // before network.target and needs its device, so enabled for multi-user.target it held network.target
      // — and sshd and the agent after it — for systemd's 90 s device time-out on every boot of a hub without
      // wlan0 (Wi-Fi disabled by an overlay, a board without it; the image's boot test under QEMU).
      { kind: 'mkdir', what: 'wifi: wlan0 device wants', path: PATHS.wantsDir, mode: 0o755 },
      {
        kind: 'symlink',
        what: 'wifi: enable wpa_supplicant@wlan0.service when wlan0 appears',
        path: PATHS.wpaWants,
        target: PATHS.wpaUnit,
      },
      { kind: 'remove', what: 'wifi: no start at every boot', path: PATHS.wpaWantsOld },
    );
    // The boot transaction was computed before this ran: systemd learns the new wants from a reload; if
    // wlan0 is already there (its device unit active, so the wants will not fire), start it now.
    if (opts.live) {
      last.push(
        { kind: 'run', what: 'wifi: systemd reload', argv: ['systemctl', 'daemon-reload'] },
        {
          kind: 'run',
          what: 'wifi: start wpa_supplicant@wlan0.service if wlan0 is already there',
          argv: [
            'sh',
            '-c',
            'if [ -e /sys/class/net/wlan0 ]; then exec systemctl --no-block start wpa_supplicant@wlan0.service; fi',
          ],
        },
      );
    }
  }

  if (s.ssh) {
    const name = opts.user ?? 'admin';
    const u = lookupUser(snap.passwd, name);
    if (!u) {
      errors.push(`ssh.authorized_keys: no user "${name}" in /etc/passwd; keys not installed`);
    } else {
      const dir = `${u.home.replace(/\/+$/, '')}/.ssh`;
      const merged = mergeAuthorizedKeys(snap.authorizedKeys, s.ssh.authorized_keys);
      actions.push(
        { kind: 'mkdir', what: `ssh: ${dir}`, path: dir, mode: 0o700, uid: u.uid, gid: u.gid },
        {
          kind: 'write',
          what: `ssh: ${dir}/authorized_keys (${merged.added} new key${merged.added === 1 ? '' : 's'})`,
          path: `${dir}/authorized_keys`,
          content: merged.text,
          mode: 0o600,
          uid: u.uid,
          gid: u.gid,
        },
      );
    }
  }
  return { actions: [...actions, ...last], errors };
}
