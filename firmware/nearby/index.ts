/** People Near Me, verified: which nearby hubs proved the id they announce, and which are spoofs. */
export type {
  NearbyEvents,
  NearbyVerifier,
  NearbyVerifierDeps,
  NearbyVerifierInit,
  PeerEventType,
  PeopleNearMeRow,
  ProofTarget,
} from './types.js';
export { createNearbyVerifier } from './verifier.js';
export { createEndpointProver } from './prove.js';
export type { EndpointProverDeps } from './prove.js';
export { parseEndpoint } from './endpoint.js';
export type { HostPort } from './endpoint.js';
export { classify, retryDelay, step as verifyStep, VERIFY_DEFAULTS } from './machine.js';
export type { CheckOutcome, VerifyEffect, VerifyEvent, VerifyPhase, VerifyState } from './machine.js';
