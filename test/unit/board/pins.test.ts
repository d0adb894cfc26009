import t from 'tap';
import { Ajv } from 'ajv';
import {
  checkPins,
  DEFAULT_PANEL_CONFIG,
  DEFAULT_PINS,
  dtoverlayLine,
  HEADER_PIN,
  overlayFor,
  overlayHint,
  PanelConfigSchema,
} from '../../../board/pins.js';

const ok = (x: unknown) => {
  const r = checkPins(x);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.value;
};
const errors = (x: unknown): string[] => {
  const r = checkPins(x);
  return r.ok ? [] : r.errors;
};

t.test('defaults: three LEDs, two buttons (BTN_0/BTN_1), the documented GPIOs', async (t) => {
  t.same(ok(undefined), DEFAULT_PANEL_CONFIG);
  t.same(ok({}), DEFAULT_PANEL_CONFIG);
  t.same(
    Object.entries(DEFAULT_PINS.leds).map(([n, l]) => [n, l.label, l.gpio, HEADER_PIN[l.gpio as number]]),
    [
      ['invite', 'peerhub:invite', 17, 11],
      ['status', 'peerhub:status', 27, 13],
      ['presence', 'peerhub:presence', 22, 15],
    ],
  );
  t.same(
    Object.entries(DEFAULT_PINS.keys).map(([n, k]) => [n, k.code, k.gpio, HEADER_PIN[k.gpio as number]]),
    [
      ['accept', 0x100, 5, 29],
      ['decline', 0x101, 6, 31],
    ],
  );
  t.equal(DEFAULT_PINS.hold_ms, 1000);
  t.equal(DEFAULT_PINS.input_name, 'peerhub-keys');
});

t.test('a section merges over the defaults; new pins must be complete', async (t) => {
  const v = ok({
    io: 'virtual',
    leds: { invite: { gpio: 23 }, busy: { label: 'peerhub:busy', gpio: 24 } },
    keys: { decline: { code: 'KEY_ESC' }, cycle: { code: 0x102, gpio: 13 } },
    hold_ms: 1500,
    input_device: '/dev/input/by-path/platform-peerhub-keys-event',
  });
  t.equal(v.io, 'virtual');
  t.same(v.leds.invite, { label: 'peerhub:invite', gpio: 23 }, 'label kept');
  t.same(v.leds.busy, { label: 'peerhub:busy', gpio: 24 });
  t.same(v.keys.decline, { code: 1, gpio: 6 }, 'key names resolve to codes');
  t.same(v.keys.cycle, { code: 0x102, gpio: 13 });
  t.equal(v.hold_ms, 1500);
  t.equal(v.input_device, '/dev/input/by-path/platform-peerhub-keys-event');
  t.equal(DEFAULT_PINS.leds.invite?.gpio, 17, 'defaults untouched');
});

t.test('every problem is reported', async (t) => {
  const e = errors({
    io: 'gpio',
    leds: { Invite: { label: 'x' }, status: { label: 'a/b' }, extra: { gpio: 40 }, presence: 3 },
    keys: { accept: { code: 0x300 }, decline: { code: 'BTN_X', pin: 5 } },
    hold_ms: 5,
    input_device: 'event3',
    input_name: '',
  });
  for (const want of [
    'panel.io: must be one of auto, linux, virtual',
    'panel.leds.Invite: name must match',
    'panel.leds.status.label: must be a LED class name',
    'panel.leds.extra.gpio: must be a header GPIO, 2–27',
    'panel.leds.extra.label: required',
    'panel.leds.presence: must be a table',
    'panel.keys.accept.code: must be a key code',
    'panel.keys.decline.code: must be a key code',
    'panel.keys.decline.pin: unknown key',
    'panel.hold_ms: must be an integer 100–60000',
    'panel.input_device: must be an absolute path',
    'panel.input_name: must be a non-empty string',
  ])
    t.ok(
      e.some((x) => x.startsWith(want)),
      want,
    );
  t.same(errors('x'), ['panel: must be a table']);
  t.same(ok({ remote_press: true }), DEFAULT_PANEL_CONFIG, "the agent's own keys are left to its schema");
});

t.test('names, labels, codes and GPIOs are unique', async (t) => {
  const e = errors({
    leds: { status: { label: 'peerhub:invite' }, accept: { label: 'peerhub:accept' } },
    keys: { decline: { code: 'BTN_0', gpio: 17 } },
  });
  t.ok(e.includes('panel: "accept" is both a LED and a button'), 'name');
  t.ok(e.includes('panel: status and invite use the same label (peerhub:invite)'), 'label');
  t.ok(e.includes('panel: decline and accept use the same key code (256)'), 'code');
  t.ok(e.includes('panel: decline and invite use the same GPIO (17)'), 'gpio');
});

t.test('the JSON schema accepts what checkPins accepts (for the agent config loader)', async (t) => {
  const ajv = new Ajv({ allErrors: true });
  const validate = ajv.compile(PanelConfigSchema);
  for (const good of [
    {},
    DEFAULT_PANEL_CONFIG,
    { leds: { invite: { gpio: 23 } }, keys: { decline: { code: 'KEY_ESC' } }, io: 'linux' },
  ]) {
    t.ok(validate(good), JSON.stringify(good));
    t.ok(checkPins(good).ok);
  }
  for (const bad of [
    { io: 'gpio' },
    { leds: { Invite: {} } },
    { keys: { a: { code: 0 } } },
    { hold_ms: 1 },
  ]) {
    t.notOk(validate(bad), JSON.stringify(bad));
    t.notOk(checkPins(bad).ok);
  }
});

t.test('model detection and the dtoverlay line', async (t) => {
  t.equal(overlayFor('raspberrypi,5-model-b\0brcm,bcm2712\0'), 'peerhub-pi5');
  t.equal(overlayFor('raspberrypi,500\0brcm,bcm2712\0'), 'peerhub-pi5');
  t.equal(overlayFor('raspberrypi,4-model-b\0brcm,bcm2711\0'), 'peerhub-pi4');
  t.equal(overlayFor('qemu,virt\0'), undefined);
  t.equal(overlayFor(undefined), undefined);
  t.equal(dtoverlayLine('peerhub-pi5'), 'dtoverlay=peerhub-pi5');
  const pins = ok({ leds: { invite: { gpio: 23 } }, keys: { decline: { gpio: 16, code: 'KEY_ESC' } } });
  t.equal(
    dtoverlayLine('peerhub-pi4', pins),
    'dtoverlay=peerhub-pi4,invite_gpio=23,decline_gpio=16,decline_code=1',
  );
  t.match(overlayHint('peerhub-pi5'), 'add "dtoverlay=peerhub-pi5" to /boot/firmware/config.txt');
  t.match(overlayHint(undefined), '(Pi 5) or "dtoverlay=peerhub-pi4" (Pi 4)');
});
