import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseFirstBoot, secretValues } from '../../../firmware/firstboot/parse.js';
import { keyId, parseKeyLine } from '../../../firmware/firstboot/ssh-keys.js';
import { blob, ed25519, rsa } from './keys.js';

const zones = new Set(['Europe/Paris', 'UTC', 'America/Argentina/Buenos_Aires']);
const parse = (text: string) => parseFirstBoot(text, { zoneExists: (tz) => zones.has(tz) });
const wifi = (fields: string) => parse(`[wifi]\n${fields}\n`);

t.test('a complete valid file: every field kept, no problems', async (t) => {
  const k1 = ed25519();
  const k2 = rsa();
  const r = parse(`
hostname = "kitchen-hub"
nickname = "Kitchen"
classifier = "home"
timezone = "Europe/Paris"
[wifi]
ssid = "Home \\"5G\\""
passphrase = "correct horse battery staple"
country = "fr"
[ssh]
authorized_keys = ["${k1}", "${k2}"]
`);
  t.same(r.errors, []);
  t.same(r.warnings, []);
  t.equal(r.parsed, true);
  t.same(r.settings, {
    hostname: 'kitchen-hub',
    nickname: 'Kitchen',
    classifier: 'home',
    timezone: 'Europe/Paris',
    wifi: { ssid: 'Home "5G"', passphrase: 'correct horse battery staple', country: 'FR' },
    ssh: { authorized_keys: [k1, k2] },
  });
});

t.test('the documented example is valid once its placeholder key is replaced', async (t) => {
  const text = readFileSync(new URL('../../../config/firstboot.example.toml', import.meta.url), 'utf8');
  const placeholder = parse(text);
  t.equal(placeholder.errors.length, 1, 'the placeholder key is refused, so a copied example grants nobody');
  t.match(placeholder.errors[0], /^ssh\.authorized_keys, key 1: /);
  const key = ed25519('you@laptop');
  const r = parse(text.replace(/"ssh-ed25519 [^"]*"/, `"${key}"`));
  t.same(r.errors, []);
  t.same(r.warnings, []);
  t.same(Object.keys(r.settings).sort(), ['classifier', 'hostname', 'nickname', 'ssh', 'timezone', 'wifi']);
});

t.test('empty file: nothing to apply, no problems', async (t) => {
  t.same(parse(''), { parsed: true, settings: {}, errors: [], warnings: [] });
  t.same(parse('# only comments\n'), { parsed: true, settings: {}, errors: [], warnings: [] });
});

t.test('each bad field gets its own line naming the key; the valid rest is kept', async (t) => {
  const r = parse(`
hostname = "kitchen_hub"
nickname = ".hidden"
classifier = 5
timezone = "Mars/Olympus"
[wifi]
ssid = "Home"
passphrase = "correct horse"
country = "FR"
`);
  t.same(r.settings, { wifi: { ssid: 'Home', passphrase: 'correct horse', country: 'FR' } });
  t.equal(r.errors.length, 4, r.errors.join('\n'));
  t.match(r.errors[0], /^hostname: must be a host name: .* \(got "kitchen_hub"\)$/);
  t.match(r.errors[1], /^nickname: must be .* \(got "\.hidden"\)$/);
  t.match(r.errors[2], /^classifier: must be .* \(got 5\)$/);
  t.match(
    r.errors[3],
    /^timezone: unknown time zone "Mars\/Olympus" \(no \/usr\/share\/zoneinfo\/Mars\/Olympus/,
  );
  const ok = parse('hostname = "-bad"\nnickname = "Kitchen"\n');
  t.same(ok.settings, { nickname: 'Kitchen' });
  t.equal(ok.errors.length, 1);
});

t.test('host names: RFC 1123 labels only', async (t) => {
  for (const good of ['a', 'kitchen-hub', '4hub', 'x'.repeat(63)]) {
    t.same(parse(`hostname = "${good}"`).settings, { hostname: good }, good);
  }
  for (const bad of ['', 'hub-', '-hub', 'kitchen.hub', 'x'.repeat(64), 'küche']) {
    const r = parse(`hostname = "${bad}"`);
    t.same(r.settings, {}, bad);
    t.match(r.errors, [/^hostname: /], bad);
  }
});

t.test('time zones: tz names only (no paths), and must exist', async (t) => {
  t.same(parse('timezone = "America/Argentina/Buenos_Aires"').settings, {
    timezone: 'America/Argentina/Buenos_Aires',
  });
  t.same(parse('timezone = "UTC"').errors, []);
  for (const bad of ['../../etc/passwd', '/Europe/Paris', 'Europe/../../x', 'zone.tab']) {
    t.match(parse(`timezone = "${bad}"`).errors, [/^timezone: must be a time zone name/], bad);
  }
  // Without a lookup (no target root), only the spelling is checked.
  t.same(parseFirstBoot('timezone = "Europe/Nowhere"').settings, { timezone: 'Europe/Nowhere' });
});

t.test('a file that is not TOML: nothing applied, one line with the line number', async (t) => {
  const r = parse('hostname = "kitchen-hub"\n[wifi]\nssid = "Home\npassphrase = "hunter22hunter22"\n');
  t.equal(r.parsed, false);
  t.same(r.settings, {});
  t.equal(r.errors.length, 1);
  t.match(r.errors[0], /^peerhub\.toml: not valid TOML at line 3, column \d+: .*; nothing applied$/);
  t.notMatch(r.errors[0], /hunter22/);
  const dup = parseFirstBoot('a = 1\na = 2\n', { file: 'boot.toml' });
  t.match(dup.errors[0], /^boot\.toml: not valid TOML at line 2/);
});

t.test('unknown keys are warnings, not errors, anywhere', async (t) => {
  const r = parse(
    'hostname = "hub"\ncolour = "red"\n[wifi]\nssid = "x"\ncountry = "DE"\nband = 5\n[ssh]\nusers = []\n[extra]\na = 1\n',
  );
  t.same(r.errors, []);
  t.same(r.warnings.sort(), [
    'colour: unknown key, ignored',
    'extra: unknown key, ignored',
    'ssh.users: unknown key, ignored',
    'wifi.band: unknown key, ignored',
  ]);
  t.same(r.settings, { hostname: 'hub', wifi: { ssid: 'x', country: 'DE' } });
});

t.test('Wi-Fi passphrase: 8–63 printable characters or 64 hex digits', async (t) => {
  const cases: Array<[string, boolean]> = [
    ['a'.repeat(7), false],
    ['a'.repeat(8), true],
    ['a'.repeat(63), true],
    ['0123456789abcdef'.repeat(4), true],
    ['0123456789abcdeg'.repeat(4), false], // 64 characters but not hex
    ['a'.repeat(65), false],
    ['pass\tword!', false], // control character
    ['mot de passe é', false], // not ASCII
    ['" # \\ quotes and hashes', true],
  ];
  for (const [pass, ok] of cases) {
    const r = wifi(`ssid = "Home"\npassphrase = ${JSON.stringify(pass)}\ncountry = "FR"`);
    const label = `${pass.length} characters: ${pass.slice(0, 20)}`;
    if (ok) {
      t.same(r.errors, [], label);
      t.equal(r.settings.wifi?.passphrase, pass, label);
    } else {
      t.equal(r.settings.wifi, undefined, label);
      t.same(
        r.errors,
        [
          `wifi.passphrase: must be 8–63 printable ASCII characters, or 64 hex digits (got ${[...pass].length} characters); Wi-Fi not configured`,
        ],
        label,
      );
      t.notOk(r.errors[0]!.includes(pass), `${label}: the secret is not in the message`);
    }
  }
});

t.test(
  'Wi-Fi: country required and checked, SSID length in bytes, open network, whole table skipped',
  async (t) => {
    t.same(
      wifi('ssid = "Home"\ncountry = "us"').settings.wifi,
      { ssid: 'Home', country: 'US' },
      'open network, country upper-cased',
    );
    const missing = wifi('ssid = "Home"\npassphrase = "12345678"');
    t.same(missing.settings, {});
    t.match(missing.errors, [/^wifi\.country: missing \(required with \[wifi\]\): a two-letter ISO 3166/]);
    for (const bad of ['XX', 'FRA', 'F', '00', '12']) {
      const r = wifi(`ssid = "Home"\npassphrase = "12345678"\ncountry = "${bad}"`);
      t.same(r.settings, {}, bad);
      t.match(r.errors, [/^wifi\.country: .*Wi-Fi not configured$/], bad);
    }
    t.same(wifi(`ssid = "${'é'.repeat(16)}"\ncountry = "FR"`).errors, [], '32 bytes');
    t.match(wifi(`ssid = "${'é'.repeat(16)}x"\ncountry = "FR"`).errors, [
      /^wifi\.ssid: must be the network name \(1–32 bytes\) \(got 33 bytes\)/,
    ]);
    t.match(wifi('ssid = ""\ncountry = "FR"').errors, [/^wifi\.ssid: /]);
    // Every Wi-Fi problem is reported at once, and the table is not applied.
    const all = wifi('ssid = 5\npassphrase = "short"\ncountry = "XX"');
    t.equal(all.errors.length, 3, all.errors.join('\n'));
    t.match(all.errors, [/^wifi\.ssid/, /^wifi\.passphrase/, /^wifi\.country/]);
    t.same(all.settings, {});
    t.match(parse('wifi = "Home"').errors, [/^wifi: must be a table/]);
  },
);

t.test('SSH keys: each bad line has its own message; the good lines are kept', async (t) => {
  const good = ed25519('ann@laptop');
  const [type, data] = good.split(' ') as [string, string];
  const lines = [
    good,
    `${type} ${data.slice(0, 40)} cut@paste`, // truncated (still base64-shaped)
    `${type} ${data.slice(0, 41)}`, // not even base64-length
    `ssh-rsa ${data} liar`, // declared type ≠ blob type
    `ssh-dss ${blob('ssh-dss', 'p', 'q', 'g', 'y')} old`,
    `from="10.0.0.1" ${good}`,
    'ecdsa-sha2-nistp999 AAAA',
    'ssh-ed25519',
    '',
    `${rsa('bob')}`,
    `${type}    ${data}    ann@laptop (again)`, // same key, other comment: duplicate
  ];
  const r = parse(`[ssh]\nauthorized_keys = ${JSON.stringify(lines)}\n`);
  t.same(r.settings.ssh?.authorized_keys, [good, lines[9]]);
  const expected = [
    /^ssh\.authorized_keys, key 2: key data is truncated or malformed \(/,
    /^ssh\.authorized_keys, key 3: key data is not valid base64 \(truncated copy\?\) \(/,
    /^ssh\.authorized_keys, key 4: key data is a "ssh-ed25519" key, not "ssh-rsa" \(/,
    /^ssh\.authorized_keys, key 5: DSA keys \(ssh-dss\) are no longer accepted by OpenSSH: use ssh-ed25519 \(/,
    /^ssh\.authorized_keys, key 6: must start with the key type \(options before it are not supported\) \(/,
    /^ssh\.authorized_keys, key 7: unknown key type "ecdsa-sha2-nistp999" \(expected ssh-ed25519, ssh-rsa, /,
    /^ssh\.authorized_keys, key 8: has no key data after the type \(ssh-ed25519\)$/,
    /^ssh\.authorized_keys, key 9: is empty$/,
  ];
  t.equal(r.errors.length, expected.length, r.errors.join('\n'));
  expected.forEach((re, i) => t.match(r.errors[i], re));
  t.match(r.errors[0], /\(ssh-ed25519 AAAAC3NzaC1lZDI1… cut@paste\)$/, 'a short, safe label of the line');
  t.same(r.warnings, [
    `ssh.authorized_keys, key 11: duplicate of an earlier key, ignored (${type} ${data.slice(0, 16)}… ann@laptop (again))`,
  ]);
  const types = parse('[ssh]\nauthorized_keys = ["ssh-ed25519 AAAA", 7]\n');
  t.match(types.errors, [
    /key 1: key data/,
    /^ssh\.authorized_keys, key 2: must be a public key line in quotes \(got 7\)$/,
  ]);
  t.match(parse('[ssh]\nauthorized_keys = "ssh-ed25519 AAAA"\n').errors, [
    /^ssh\.authorized_keys: must be a list of public key lines/,
  ]);
  t.same(parse('[ssh]\nauthorized_keys = []\n'), { parsed: true, settings: {}, errors: [], warnings: [] });
});

t.test('key lines: normalised, newlines refused, identity ignores the comment', async (t) => {
  const k = ed25519('c');
  const [type, data] = k.split(' ') as [string, string];
  t.match(parseKeyLine(`  ${type}\t${data}   my  laptop `), {
    line: `${type} ${data} my laptop`,
    comment: 'my laptop',
  });
  t.equal(parseKeyLine(`${k}\nssh-ed25519 AAAA evil`), 'must be a single line');
  t.equal(keyId(`${type} ${data} a`), keyId(`${type} ${data} b`));
  t.equal(keyId('garbage'), null);
});

t.test('secretValues finds passphrases wherever they are written', async (t) => {
  t.same(secretValues('[wifi]\npassphrase = "one"\n'), ['one']);
  t.same(secretValues('wifi = { ssid = "x", psk = "two" }\n'), ['two']);
  t.same(secretValues('wifi.Password = "three"\n'), ['three']);
  t.same(secretValues('not = [toml\n'), []);
});

t.test('a __proto__ key whose value is an object is refused, nothing applied', async (t) => {
  const r = parse('hostname = "kitchen"\n__proto__ = { timezone = "Europe/Paris" }\n');
  t.equal(r.parsed, false);
  t.same(r.settings, {});
  t.match(r.errors, [/"__proto__" is not allowed; nothing applied/]);
});
