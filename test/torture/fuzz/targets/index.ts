/** Every fuzz target, in report order. */
import type { FuzzTarget } from '../engine.js';
import { configFile, contactXml, firstBootFile } from './files.js';
import { mdnsDecoder, mdnsReceive, txtParsing } from './mdns.js';
import { peerApi } from './peer-api.js';

export const TARGETS: FuzzTarget[] = [
  mdnsDecoder,
  mdnsReceive,
  txtParsing,
  peerApi,
  contactXml,
  configFile,
  firstBootFile,
];

export function targetByName(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target ${name} (have ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}
