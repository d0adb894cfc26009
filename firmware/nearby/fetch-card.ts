/**
 * The card fetch the verifier needs, on real sockets. A shared PeerClient reuses one session per peer id
 * whatever the endpoint, so a check of `id@endpoint` could ride on a session opened to another endpoint
 * (a spoofer's row would then look verified). Each check therefore gets its own client: one handshake
 * to exactly that endpoint, closed afterwards.
 */
import { PeerClient, type PeerClientDeps, type PeerClientInit } from '../wire/index.js';
import type { CardTarget } from './types.js';

export type CardFetcherDeps = Omit<PeerClientDeps, 'events'> & Partial<Pick<PeerClientDeps, 'events'>>;

/** `fetchCard` for createNearbyVerifier; a spoof error carries `presented` (the id the endpoint proved). */
export function createCardFetcher(
  deps: CardFetcherDeps,
  init: PeerClientInit = {},
): (target: CardTarget) => Promise<unknown> {
  return async (target) => {
    let presented: string | undefined;
    const client = new PeerClient(
      {
        ...deps,
        events: {
          emit: (type, data) => {
            if (type === 'peer:spoof') presented = (data as { presented: string }).presented;
            return deps.events?.emit(type, data);
          },
        },
      },
      // A background check waits longer than a user's request (5 s to connect): under load a handshake
      // given up on is one both sides paid for and will pay for again (the verifier's own time-out,
      // 20 s by default, still bounds the whole check).
      { idleCloseMs: 1000, connectTimeoutMs: 15_000, requestTimeoutMs: 15_000, ...init },
    );
    try {
      return await client.request(target, 'GET', '/v1/card');
    } catch (e) {
      if (presented !== undefined && typeof e === 'object' && e !== null) Object.assign(e, { presented });
      throw e;
    } finally {
      await client.close();
    }
  };
}
