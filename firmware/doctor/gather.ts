/** The agent's side of `peerhub doctor`: its own state plus the machine's (facts.ts). */
import { X509Certificate } from 'node:crypto';
import { overlayFor, overlayHint } from '../../board/pins.js';
import type { AgentPanel } from '../agent-panel.js';
import type { Trust } from '../agent-trust.js';
import type { Config } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { StatusView } from '../control/types.js';
import type { FirstBootStatus } from '../firstboot/types.js';
import type { Identity } from '../identity/types.js';
import type { DoctorFacts } from './checks.js';
import { freeSpace, multicastRoute, onRaspberryPi, port5353Owners, quarantinedFiles } from './facts.js';
import { readFileSync } from 'node:fs';
import { currentAddresses } from '../presence/transport-mdns.js';

export function doctorFacts(a: {
  config: Config;
  identity: Identity;
  clock: Clock;
  status(): StatusView;
  trust: Trust;
  panel: AgentPanel | null;
  firstBoot: FirstBootStatus | null;
}): DoctorFacts {
  const s = a.status();
  const peers = a.trust.peers();
  const tls = a.trust.tlsInfo();
  let board: DoctorFacts['panel']['board'] = 'none';
  try {
    board = a.panel ? a.panel.control.view().board : 'none';
  } catch {
    board = 'none';
  }
  let compatible: string | undefined;
  try {
    compatible = readFileSync('/proc/device-tree/compatible', 'utf8');
  } catch {
    compatible = undefined;
  }
  const hint = overlayHint(overlayFor(compatible));
  return {
    version: s.version,
    uptimeMs: s.uptimeMs,
    controlSocket: a.config.control_socket,
    mdnsBackend: s.mdns.backend,
    port5353: port5353Owners(),
    multicastRoute: multicastRoute(a.config.interface ?? null),
    interface: a.config.interface ?? null,
    addresses: currentAddresses(a.config.interface).map((x) => x.address),
    peersSeen: peers.length,
    peersVerified: peers.filter((p) => p.verified).length,
    clockSynchronised: tls.clockSynchronised,
    now: a.clock.now(),
    identity: {
      peerId: a.identity.peerId,
      notAfter: Date.parse(new X509Certificate(a.identity.rootCertPem).validTo),
    },
    tls: { notAfter: tls.notAfter, provisional: tls.provisional },
    quarantined: quarantinedFiles(a.config.data_dir),
    disk: freeSpace(a.config.data_dir),
    panel: { board, onPi: onRaspberryPi(), ...(hint ? { overlayHint: hint } : {}) },
    firstBoot: a.firstBoot,
  };
}
