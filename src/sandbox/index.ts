/** A Kognic-compatible HTTP API on loopback, for tests, benchmarks and `kognic-dataset-mcp --sandbox`. */

export { KognicSandbox } from './server.js';
export { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from './tokens.js';
export { MAX_BODY_BYTES } from './http.js';
export { TOKEN_PATH } from './token-route.js';
export { SEEDED_DATASETS, SEEDED_PREDICTION_GROUPS, seededSceneUuids } from './seed.js';
export type { SeededDataset, SeededDatasetKind, SeededPredictionGroup } from './seed.js';
export type { NewDataset } from './store.js';
export type {
  AuthorizationState,
  ClassMappingEntry,
  ClientAuthMethod,
  RecordedRequest,
  SandboxDataset,
  SandboxGroup,
  SandboxOptions,
  SandboxPrediction,
  SandboxRoute,
  SandboxStats,
  ScriptedResponse,
  TokenRequestRecord,
} from './types.js';
