import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wpaConfig, wpaPsk } from '../../../firmware/firstboot/plan.js';

// The configs we write, read by the real wpa_supplicant (Debian's wpasupplicant) when it is installed:
// it parses the file, then fails on the missing interface — a parse error shows as "Line N: …".
const WPA = '/usr/sbin/wpa_supplicant';
if (!existsSync(WPA)) {
  t.plan(0, `${WPA} not installed (apt-get install wpasupplicant): interop not checked`);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'ph-wpa-'));
  const ssid = 'Café "5G"\n#x';
  const cases: Array<[string, string | undefined]> = [
    ['plain', 'correct horse battery staple'],
    ['quote and hash', 'a"b#c\\d e "#'],
    ['backslash', 'back\\slash'],
    ['hex PSK', 'AB'.repeat(32)],
    ['open', undefined],
  ];
  for (const [name, passphrase] of cases) {
    t.test(`wpa_supplicant parses the config: ${name}`, async (t) => {
      const file = join(dir, `${name.replace(/\W/g, '_')}.conf`);
      writeFileSync(file, wpaConfig({ ssid, country: 'FR', ...(passphrase ? { passphrase } : {}) }));
      const r = spawnSync(WPA, ['-dd', '-D', 'nl80211', '-i', 'phnosuchif0', '-c', file], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      const out = `${r.stdout}${r.stderr}`;
      t.notMatch(out, /^Line \d+: /m, 'no parse error');
      t.notMatch(out, /Failed to read or parse configuration/);
      t.match(out, /ssid - hexdump_ascii\(len=13\)/, 'the SSID bytes');
      t.match(out, /country='FR'/);
      if (passphrase) t.match(out, /PSK.*hexdump\(len=32\)/);
    });
  }
  t.test('our derived PSK is what wpa_passphrase computes', async (t) => {
    const r = spawnSync('wpa_passphrase', [ssid, 'a"b#c\\d e "#'], { encoding: 'utf8' });
    t.match(r.stdout, new RegExp(`^\\tpsk=${wpaPsk('a"b#c\\d e "#', ssid)}$`, 'm'));
  });
}
