import { EventBus } from '../../../firmware/core/bus.js';
import { silentLogger } from '../../../firmware/core/logger.js';
import type { ControlDeps, StatusView } from '../../../firmware/control/types.js';
import { step } from '../../../firmware/me/machine.js';
import type { LocalPresenceState } from '../../../firmware/me/types.js';
import type { PeerRow } from '../../../firmware/control/types.js';

/** A stand-in agent behind the control API: real local-presence machine and event bus, no sockets. */
export function fakeAgent(): ControlDeps & {
  bus: EventBus<Record<string, unknown>>;
  state: LocalPresenceState;
} {
  const bus = new EventBus<Record<string, unknown>>();
  const self = {
    state: { scope: 'NearMe', status: 'Online', text: '', seq: 1 } as LocalPresenceState,
    bus,
    logger: silentLogger(),
    events: bus,
    status(): StatusView {
      return {
        id: 'AAAAAAA-BBBBBBB',
        shortId: 'AAAAAAA',
        peerName: 'AAAAAAA-BBBBBBB.hub',
        nickname: 'Kitchen',
        classifier: 'hub',
        scope: self.state.scope,
        presence: { status: self.state.status, text: self.state.text, seq: self.state.seq },
        mdns: { backend: 'multicast-dns', instance: 'Kitchen', host: 'peerhub-aaaaaa', interface: null },
        port: 7443,
        version: '0.0.0',
        pid: 1,
        uptimeMs: 5000,
        counters: {},
      };
    },
    peers(): PeerRow[] {
      return [
        {
          instance: 'Attic',
          id: 'CCCCCCC-DDDDDDD',
          nickname: 'Attic',
          status: 'Busy',
          seq: 4,
          host: 'peerhub-cccccc.local',
          port: 7443,
          endpoints: ['10.77.0.3:7443'],
          wellFormed: true,
          verified: true,
          spoof: false,
          contact: false,
          txt: { v: '1' },
          firstSeen: Date.now() - 60_000,
          lastSeen: Date.now() - 2000,
        },
      ];
    },
    async setPresence(status: LocalPresenceState['status'], text?: string) {
      self.state = step(self.state, { type: 'set', status, text }).state;
      bus.emit('presence:changed', self.state);
      return self.state;
    },
    async signIn(scope: 'NearMe' | 'Internet' | 'All') {
      self.state = step(self.state, { type: 'signin', scope }).state;
      return self.state;
    },
    async signOut() {
      self.state = step(self.state, { type: 'signout' }).state;
      return self.state;
    },
  };
  return self;
}
