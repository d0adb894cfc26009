import { Command, Option } from 'commander';
import type { BusEvent } from '../core/bus.js';
import type { PanelAction, Pattern } from '../panel/machine.js';
import type { PanelView } from '../panel/panel.js';
import { call, stream } from './client.js';

type Out = (json: boolean, body: unknown, human: () => string) => void;

export function describePattern(p: Pattern): string {
  return p.state === 'blink' ? `blink ${p.onMs}/${p.offMs} ms` : p.state;
}

export function formatPanel(v: PanelView): string {
  const lines = [`board: ${v.board}   status: ${v.status}   waiting for an answer: ${v.waiting}`];
  for (const l of v.leds) lines.push(`  LED ${l.name.padEnd(9)} ${describePattern(l)}`);
  for (const b of v.buttons) lines.push(`  button ${b.name.padEnd(6)} ${b.pressed ? 'pressed' : 'up'}`);
  return lines.join('\n');
}

/** `peerhub panel [--watch]` and `peerhub press accept|decline [--long]`. */
export function panelCommands(sock: () => string, out: Out): Command[] {
  const panel = new Command('panel')
    .description('the LEDs and buttons now (--watch: live)')
    .option('--json', 'machine-readable output')
    .option('--watch', 'print the LEDs again at every change (Ctrl-C to stop)')
    .action(async (o: { json?: boolean; watch?: boolean }) => {
      const v = await call<PanelView>(sock(), 'GET', '/v1/panel');
      out(!!o.json, v, () => formatPanel(v));
      if (!o.watch) return;
      await stream(sock(), '/v1/events', (ev) => {
        const e = ev as BusEvent;
        if (e.type !== 'panel:changed') return;
        const leds = (e.data as { leds: PanelView['leds'] }).leds;
        process.stdout.write(
          (o.json
            ? JSON.stringify(e.data)
            : `${new Date(e.time).toISOString()}  ${leds.map((l) => `${l.name}=${describePattern(l)}`).join('  ')}`) +
            '\n',
        );
      });
    });
  const press = new Command('press')
    .description('press a panel button (virtual board; on hardware only if panel.remote_press is set)')
    .addArgument(new Command().createArgument('<button>', 'which button').choices(['accept', 'decline']))
    .addOption(new Option('--long', 'hold it (long press: Accept cycles presence)'))
    .option('--json', 'machine-readable output')
    .action(async (button: string, o: { long?: boolean; json?: boolean }) => {
      const r = await call<PanelAction & { error?: string }>(sock(), 'POST', '/v1/panel/press', {
        button,
        long: !!o.long,
      });
      out(!!o.json, r, () => {
        if (r.type === 'answer')
          return `${r.answer} ${r.kind} ${r.id}${r.error ? ` — failed: ${r.error}` : ''}`;
        if (r.type === 'presence') return `presence: ${r.status}${r.error ? ` — failed: ${r.error}` : ''}`;
        return `nothing to do: ${r.reason}`;
      });
      if (r.error) process.exitCode = 1;
    });
  return [panel, press];
}
