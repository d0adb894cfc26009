import t from 'tap';
import { parse as parseToml } from 'smol-toml';
import { editHosts, mergeAuthorizedKeys, setTomlKeys } from '../../../firmware/firstboot/edit.js';
import {
  PATHS,
  WLAN_NETWORK,
  lookupUser,
  planFirstBoot,
  wpaConfig,
  wpaPsk,
} from '../../../firmware/firstboot/plan.js';
import { redact } from '../../../firmware/firstboot/redact.js';
import type { Snapshot } from '../../../firmware/firstboot/types.js';
import { ed25519 } from './keys.js';

const passwd = 'root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000:Admin,,,:/home/admin:/bin/bash\n';
const hosts = '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n';
const agentToml =
  '# agent config\nclassifier = "hub"\nport = 7443\n\n[presence]\n# keep me\nbackend = "auto"\n';

t.test('every setting → exactly these actions, in this order', async (t) => {
  const key = ed25519();
  const snap: Snapshot = {
    passwd,
    hosts,
    peerhubToml: { text: agentToml, mode: 0o640, uid: 0, gid: 107 },
    authorizedKeys: undefined,
  };
  const wifi = { ssid: 'Home', passphrase: 'correct horse battery staple', country: 'FR' };
  const plan = planFirstBoot(
    {
      hostname: 'kitchen-hub',
      nickname: 'Kitchen',
      classifier: 'home',
      timezone: 'Europe/Paris',
      wifi,
      ssh: { authorized_keys: [key] },
    },
    snap,
    { live: true },
  );
  t.same(plan.errors, []);
  t.same(plan.actions, [
    {
      kind: 'write',
      what: 'hostname: /etc/hostname',
      path: '/etc/hostname',
      content: 'kitchen-hub\n',
      mode: 0o644,
    },
    {
      kind: 'write',
      what: 'hostname: /etc/hosts',
      path: '/etc/hosts',
      content: '127.0.0.1\tlocalhost\n127.0.1.1\tkitchen-hub\n::1\tlocalhost ip6-localhost ip6-loopback\n',
      mode: 0o644,
    },
    { kind: 'run', what: 'hostname: set on the running system', argv: ['hostname', 'kitchen-hub'] },
    {
      kind: 'symlink',
      what: 'timezone: /etc/localtime',
      path: '/etc/localtime',
      target: '/usr/share/zoneinfo/Europe/Paris',
    },
    {
      kind: 'write',
      what: 'timezone: /etc/timezone',
      path: '/etc/timezone',
      content: 'Europe/Paris\n',
      mode: 0o644,
    },
    {
      kind: 'write',
      what: 'nickname, classifier: /etc/peerhub/peerhub.toml',
      path: '/etc/peerhub/peerhub.toml',
      content:
        '# agent config\nclassifier = "home"\nport = 7443\nnickname = "Kitchen"\n\n[presence]\n# keep me\nbackend = "auto"\n',
      mode: 0o640,
      uid: 0,
      gid: 107,
    },
    { kind: 'mkdir', what: 'wifi: /etc/wpa_supplicant', path: '/etc/wpa_supplicant', mode: 0o755 },
    {
      kind: 'write',
      what: 'wifi: /etc/wpa_supplicant/wpa_supplicant-wlan0.conf',
      path: '/etc/wpa_supplicant/wpa_supplicant-wlan0.conf',
      content: wpaConfig(wifi),
      mode: 0o600,
      uid: 0,
      gid: 0,
    },
    { kind: 'mkdir', what: 'wifi: /etc/systemd/network', path: '/etc/systemd/network', mode: 0o755 },
    {
      kind: 'write',
      what: 'wifi: /etc/systemd/network/30-wlan0.network',
      path: '/etc/systemd/network/30-wlan0.network',
      content: WLAN_NETWORK,
      mode: 0o644,
    },
    {
      kind: 'mkdir',
      what: 'wifi: wlan0 device wants',
      path: '/etc/systemd/system/sys-subsystem-net-devices-wlan0.device.wants',
      mode: 0o755,
    },
    {
      kind: 'symlink',
      what: 'wifi: enable wpa_supplicant@wlan0.service when wlan0 appears',
      path: '/etc/systemd/system/sys-subsystem-net-devices-wlan0.device.wants/wpa_supplicant@wlan0.service',
      target: '/usr/lib/systemd/system/wpa_supplicant@.service',
    },
    {
      kind: 'remove',
      what: 'wifi: no start at every boot',
      path: '/etc/systemd/system/multi-user.target.wants/wpa_supplicant@wlan0.service',
    },
    {
      kind: 'mkdir',
      what: 'ssh: /home/admin/.ssh',
      path: '/home/admin/.ssh',
      mode: 0o700,
      uid: 1000,
      gid: 1000,
    },
    {
      kind: 'write',
      what: 'ssh: /home/admin/.ssh/authorized_keys (1 new key)',
      path: '/home/admin/.ssh/authorized_keys',
      content: `${key}\n`,
      mode: 0o600,
      uid: 1000,
      gid: 1000,
    },
    // Commands on the booting systemd last, once every file (the SSH keys included) is written.
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
  ]);
  // Ethernet is never part of a plan.
  t.notOk(plan.actions.some((a) => 'path' in a && /eth|en[a-z]\d|10-|20-/.test(a.path)));
});

t.test('not live (another root): no commands, files only', async (t) => {
  const plan = planFirstBoot(
    { hostname: 'hub', wifi: { ssid: 'x', country: 'DE' } },
    { hosts: undefined },
    { live: false },
  );
  t.notOk(plan.actions.some((a) => a.kind === 'run'));
  t.equal(plan.actions.find((a) => a.kind === 'write' && a.path === PATHS.hosts)?.kind, 'write');
});

t.test('what cannot be applied to this root is an error naming the key', async (t) => {
  const noAdmin = planFirstBoot(
    { ssh: { authorized_keys: [ed25519()] } },
    { passwd: 'root:x:0:0::/root:/bin/sh\n' },
    { live: false },
  );
  t.same(noAdmin.actions, []);
  t.same(noAdmin.errors, ['ssh.authorized_keys: no user "admin" in /etc/passwd; keys not installed']);
  const other = planFirstBoot(
    { ssh: { authorized_keys: [ed25519()] } },
    { passwd },
    { live: false, user: 'pi' },
  );
  t.match(other.errors, [/no user "pi"/]);
  const badToml = planFirstBoot(
    { nickname: 'K', hostname: 'h' },
    { peerhubToml: { text: 'port = [', mode: 0o644, uid: 0, gid: 0 } },
    { live: false },
  );
  t.match(badToml.errors, [/^nickname: \/etc\/peerhub\/peerhub\.toml is not valid TOML .*; not changed$/]);
  t.equal(badToml.actions.length, 2, 'the host name is still applied');
});

t.test('wpa_supplicant config: hex SSID, quoted passphrase, hex PSK, open network', async (t) => {
  t.equal(
    wpaPsk('password', 'IEEE'),
    'f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e',
    'IEEE 802.11i vector',
  );
  const c = wpaConfig({ ssid: 'Café "5G"\n#x', passphrase: 'back\\slash and spaces', country: 'FR' });
  t.match(c, /^country=FR$/m);
  t.match(c, /^\tssid=436166c3a920223547220a2378$/m);
  t.match(c, /^\tpsk="back\\slash and spaces"$/m, 'as given');
  t.match(c, /^\t# ssid "Café \\"5G\\"\\n#x"$/m, 'the comment cannot break the file');
  const q = wpaConfig({ ssid: 'IEEE', passphrase: 'a"b#c', country: 'FR' });
  t.match(q, new RegExp(`^\\tpsk=${wpaPsk('a"b#c', 'IEEE')}$`, 'm'), 'quote or hash: the derived PSK');
  t.notMatch(q, /a"b/);
  t.notMatch(c, /key_mgmt/);
  t.equal(c.split('\n').filter((l) => l.includes('ssid')).length, 2);
  const hex = 'AB'.repeat(32);
  t.match(
    wpaConfig({ ssid: 'x', passphrase: hex, country: 'US' }),
    new RegExp(`^\\tpsk=${hex.toLowerCase()}$`, 'm'),
  );
  t.match(wpaConfig({ ssid: 'x', country: 'US' }), /^\tkey_mgmt=NONE$/m);
  t.match(WLAN_NETWORK, /^Name=wlan0$/m);
  t.match(WLAN_NETWORK, /^DHCP=yes$/m);
});

t.test('/etc/hosts: replace the 127.0.1.1 line, add it after localhost, or create the file', async (t) => {
  t.equal(
    editHosts(hosts, 'hub'),
    '127.0.0.1\tlocalhost\n127.0.1.1\thub\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  );
  t.equal(
    editHosts('127.0.0.1 localhost\n::1 localhost\n', 'hub'),
    '127.0.0.1 localhost\n127.0.1.1\thub\n::1 localhost\n',
  );
  t.equal(editHosts('127.0.1.1 a\n127.0.1.1 b\n', 'hub'), '127.0.1.1\thub\n', 'duplicates go');
  t.equal(editHosts(undefined, 'hub'), '127.0.0.1\tlocalhost\n127.0.1.1\thub\n');
});

t.test(
  'peerhub.toml: keys set, other keys and comments kept; odd layouts fall back to stringify',
  async (t) => {
    const out = setTomlKeys(agentToml, { nickname: 'Kit "chen"' });
    t.match(out, /^# agent config$/m);
    t.match(out, /^# keep me$/m);
    t.same(parseToml(out), {
      classifier: 'hub',
      port: 7443,
      nickname: 'Kit "chen"',
      presence: { backend: 'auto' },
    });
    t.equal(setTomlKeys(undefined, { nickname: 'K' }), 'nickname = "K"\n');
    t.equal(setTomlKeys('nickname = "old"\n', { nickname: 'new' }), 'nickname = "new"\n');
    // A multi-line value on the key's line: the text edit would break it, stringify keeps the data.
    const odd = 'nickname = """old\nline"""\nport = 1\n[presence]\nbackend = "auto"\n';
    t.same(parseToml(setTomlKeys(odd, { nickname: 'new' })), {
      nickname: 'new',
      port: 1,
      presence: { backend: 'auto' },
    });
    t.throws(() => setTomlKeys('port = [', { nickname: 'x' }));
  },
);

t.test('authorized_keys: append, deduplicated by key (not comment), existing lines kept', async (t) => {
  const a = ed25519('a');
  const b = ed25519('b');
  const existing = `# mine\n${a}\nno-pty ${b.split(' ').slice(0, 2).join(' ')}\n`;
  const r = mergeAuthorizedKeys(existing, [a.replace(' a', ' other comment'), b, b]);
  t.equal(r.added, 1, 'a is there; b (with options, unparsed) is not recognised so added once');
  t.equal(r.text, `${existing}${b}\n`);
  t.same(mergeAuthorizedKeys(undefined, []), { text: '', added: 0 });
});

t.test('lookupUser reads uid, gid and home from passwd', async (t) => {
  t.same(lookupUser(passwd, 'admin'), { uid: 1000, gid: 1000, home: '/home/admin' });
  t.equal(lookupUser(passwd, 'nobody'), null);
  t.equal(lookupUser('admin:x:abc:1::/h:/bin/sh', 'admin'), null);
});

t.test('redact: passphrase lines (any spelling, multi-line, inline) become a comment', async (t) => {
  const at = '2026-01-01T00:00:00.000Z';
  const text = [
    'hostname = "hub"',
    '[wifi]',
    'ssid = "Home"',
    'passphrase = "s3cret-pass"',
    'PSK = """multi',
    'line-secret"""',
    '# passphrase = "old-secret"',
    '# a comment about the passphrase stays',
    'country = "FR"',
  ].join('\n');
  const out = redact(text, { at, header: ['applied'], secrets: ['s3cret-pass', 'multi\nline-secret'] });
  t.notMatch(out, /s3cret|line-secret|old-secret/);
  t.match(
    out,
    /^# applied\nhostname = "hub"\n\[wifi\]\nssid = "Home"\n# \[removed by peerhub firstboot on 2026/,
  );
  t.match(out, /^# a comment about the passphrase stays$/m);
  t.match(out, /^country = "FR"$/m);
  const inline = redact('wifi = { ssid = "x", passphrase = "s3cret-pass", country = "FR" }\n', {
    at,
    header: [],
    secrets: ['s3cret-pass'],
  });
  t.notMatch(inline, /s3cret/);
  // A secret that only shows under another key is still found by value.
  const elsewhere = redact('note = "s3cret-pass"\n', { at, header: [], secrets: ['s3cret-pass'] });
  t.notMatch(elsewhere, /s3cret/);
});
