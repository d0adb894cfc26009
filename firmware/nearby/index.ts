/** People Near Me, verified: which nearby hubs proved the id they announce, and which are spoofs. */
export type {
  CardTarget,
  NearbyEvents,
  NearbyVerifier,
  NearbyVerifierDeps,
  NearbyVerifierInit,
  PeerEventType,
  PeopleNearMeRow,
} from './types.js';
export { createNearbyVerifier } from './verifier.js';
export { createCardFetcher } from './fetch-card.js';
export type { CardFetcherDeps } from './fetch-card.js';
export { parseEndpoint } from './endpoint.js';
export type { HostPort } from './endpoint.js';
export { classify, retryDelay, step as verifyStep, VERIFY_DEFAULTS } from './machine.js';
export type { CheckOutcome, VerifyEffect, VerifyEvent, VerifyPhase, VerifyState } from './machine.js';
