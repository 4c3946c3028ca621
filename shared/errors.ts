/**
 * The one table of error codes (docs/architecture.md "Conventions"): every error that crosses a
 * process boundary carries one of these codes, its HTTP status and whether a retry can help.
 */
export interface ErrorSpec {
  /** Human-readable default message. */
  readonly message: string;
  /** HTTP status the hub or agent API answers with. */
  readonly http: number;
  /** True when the same request may succeed later without change. */
  readonly retryable: boolean;
}

export const ERROR_CODES = {
  PROTO_INVALID_PAYLOAD: { message: 'payload does not match its schema', http: 400, retryable: false },
  PROTO_INVALID_TOPIC: { message: 'topic is not an Outpost topic', http: 400, retryable: false },
  PROTO_PAYLOAD_TOO_LARGE: { message: 'payload exceeds the size limit', http: 413, retryable: false },
  PROTO_BAD_SIGNATURE: {
    message: 'signature does not verify with any trusted key',
    http: 400,
    retryable: false,
  },
  PROTO_UNTRUSTED_KEY: {
    message: 'manifest is signed by a key that is not trusted',
    http: 400,
    retryable: false,
  },
  PROTO_NOT_CANONICAL: { message: 'value cannot be written as canonical JSON', http: 400, retryable: false },
  HUB_UNAUTHORIZED: { message: 'missing or wrong admin bearer token', http: 401, retryable: false },
  HUB_FORBIDDEN: { message: 'not allowed', http: 403, retryable: false },
  HUB_BAD_REQUEST: { message: 'request is invalid', http: 400, retryable: false },
  HUB_NOT_FOUND: { message: 'no such route', http: 404, retryable: false },
  HUB_DEVICE_NOT_FOUND: { message: 'no such device', http: 404, retryable: false },
  HUB_DEVICE_EXISTS: { message: 'a device with this id already exists', http: 409, retryable: false },
  HUB_DEVICE_ID_RESERVED: {
    message: 'this device id is reserved for the hub or its broker',
    http: 400,
    retryable: false,
  },
  HUB_ROLLOUT_NOT_FOUND: { message: 'no such rollout', http: 404, retryable: false },
  HUB_ROLLOUT_CONFLICT: {
    message: 'the rollout cannot do that in its current state',
    http: 409,
    retryable: false,
  },
  HUB_CONFIG_INVALID: { message: 'hub configuration is invalid', http: 500, retryable: false },
  HUB_STORE_UNAVAILABLE: { message: 'hub store is unavailable', http: 503, retryable: true },
  HUB_INTERNAL: { message: 'internal hub error', http: 500, retryable: true },
  HUB_RATE_LIMITED: {
    message: 'too many requests; retry after the Retry-After seconds',
    http: 429,
    retryable: true,
  },
  HUB_MODEL_NOT_FOUND: { message: 'no such model version', http: 404, retryable: false },
  HUB_MODEL_EXISTS: {
    message: 'this model version variant is already registered',
    http: 409,
    retryable: false,
  },
  HUB_MODEL_IN_USE: {
    message: 'model version is referenced by a desired state or a rollout',
    http: 409,
    retryable: false,
  },
  HUB_AGENT_BUNDLE_NOT_FOUND: {
    message: 'no such agent release in the registry',
    http: 404,
    retryable: false,
  },
  HUB_AGENT_BUNDLE_EXISTS: {
    message: 'this agent release already has a bundle for that platform',
    http: 409,
    retryable: false,
  },
  HUB_AGENT_BUNDLE_INVALID: {
    message: 'the upload is not an agent bundle (no valid outpost-bundle.json first in its tar)',
    http: 422,
    retryable: false,
  },
  HUB_AGENT_BUNDLE_IN_USE: {
    message: 'agent release is referenced by a desired state or a live rollout',
    http: 409,
    retryable: false,
  },
  HUB_ARTIFACT_NOT_FOUND: { message: 'no such artifact', http: 404, retryable: false },
  HUB_ARTIFACT_MISMATCH: {
    message: 'uploaded bytes do not match the declared digest',
    http: 400,
    retryable: false,
  },
  HUB_RANGE_NOT_SATISFIABLE: {
    message: 'requested range is outside the artifact',
    http: 416,
    retryable: false,
  },
  AGENT_CONFIG_INVALID: { message: 'agent configuration is invalid', http: 500, retryable: false },
  AGENT_BAD_REQUEST: { message: 'request is invalid', http: 400, retryable: false },
  AGENT_NOT_FOUND: { message: 'no such route', http: 404, retryable: false },
  AGENT_UNAUTHORIZED: { message: 'missing or wrong local API bearer token', http: 401, retryable: false },
  AGENT_FORBIDDEN: { message: 'request refused: foreign Host or Origin', http: 403, retryable: false },
  AGENT_OUTBOX_FULL: { message: 'outbox lane is full; retry later', http: 503, retryable: true },
  AGENT_SAMPLES_FULL: {
    message: 'sample store quota exceeded; delete samples first',
    http: 507,
    retryable: false,
  },
  AGENT_CLOSED: { message: 'agent is shutting down', http: 503, retryable: true },
  AGENT_STORAGE_FULL: {
    message: "the data dir's filesystem is full; events are refused until the queue drains",
    http: 507,
    retryable: true,
  },
  AGENT_INTERNAL: { message: 'internal agent error', http: 500, retryable: true },
  AGENT_DOWNLOAD_FAILED: { message: 'artifact download failed', http: 502, retryable: true },
  AGENT_ARTIFACT_MISMATCH: {
    message: 'downloaded artifact does not match its manifest (size or sha256)',
    http: 422,
    retryable: false,
  },
  AGENT_DISK_FULL: { message: 'not enough free disk for the artifact', http: 507, retryable: true },
  AGENT_BUNDLE_PLATFORM: {
    message: 'agent bundle is built for another platform (os, arch, libc or Node ABI)',
    http: 422,
    retryable: false,
  },
  AGENT_DOWNGRADE_REFUSED: {
    message: 'version is older than the active one and no rollback allows it',
    http: 409,
    retryable: false,
  },
  AGENT_UPDATE_UNMANAGED: {
    message:
      'this agent is not run by the launcher and cannot update itself (a container is updated by its image)',
    http: 422,
    retryable: false,
  },
  AGENT_UPDATE_FAILED: {
    message: 'the new agent release did not confirm its health and was reverted',
    http: 500,
    retryable: false,
  },
  AGENT_MANIFEST_MISMATCH: {
    message: 'signed manifest does not describe the desired model version',
    http: 422,
    retryable: false,
  },
  INFER_MODEL_NOT_FOUND: { message: 'no such model', http: 404, retryable: false },
  INFER_MODEL_INVALID: { message: 'model cannot be installed or read', http: 422, retryable: false },
  INFER_BAD_INPUT: { message: 'input tensors do not match the model signature', http: 400, retryable: false },
  INFER_NO_ENGINE: { message: 'no engine was admitted for this model', http: 500, retryable: false },
  INFER_ENGINE_FAILED: { message: 'the engine failed to run the model', http: 500, retryable: true },
  INFER_STORAGE_FULL: { message: 'model storage quota exceeded', http: 507, retryable: false },
  INFER_OUTPUT_TOO_LARGE_FOR_JSON: {
    message: 'the outputs are too large for a JSON answer; ask for the binary tensor form',
    http: 406,
    retryable: false,
  },
  INFER_CLOUD_UNAVAILABLE: {
    message: 'the hub cannot be reached for cloud inference',
    http: 503,
    retryable: true,
  },
  INFER_CLOUD_REFUSED: { message: 'the hub refused the cloud inference', http: 502, retryable: false },
  FL_BAD_UPDATE: { message: 'federated update cannot be decoded or verified', http: 422, retryable: false },
  FL_BAD_PARAMS: { message: 'federated-learning parameters are invalid', http: 400, retryable: false },
  FL_ROUND_FAILED: { message: 'the round cannot be aggregated', http: 409, retryable: false },
  FL_SECAGG_FAILED: { message: 'secure aggregation cannot unmask the sum', http: 422, retryable: false },
  FL_EXPORT_PARITY: {
    message: 'the exported model does not compute what the trained model does',
    http: 422,
    retryable: false,
  },
  FL_UPLOAD_OFFSET: {
    message: 'the upload is at another offset: ask with HEAD and resume from there',
    http: 409,
    retryable: false,
  },
  FL_UPLOAD_REFUSED: {
    message: 'the round takes no update from this device now',
    http: 409,
    retryable: false,
  },
} as const satisfies Record<string, ErrorSpec>;

/** One of the codes in {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The JSON body every HTTP API answers errors with. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/** The single error type of Outpost. `message` defaults to the table's message. */
export class OutpostError extends Error {
  readonly code: ErrorCode;
  readonly http: number;
  readonly retryable: boolean;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, options?: { details?: unknown; cause?: unknown }) {
    const spec = ERROR_CODES[code];
    super(message ?? spec.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OutpostError';
    this.code = code;
    this.http = spec.http;
    this.retryable = spec.retryable;
    this.details = options?.details;
  }

  /** The `{error: {code, message}}` body of the HTTP APIs. */
  toBody(): ErrorBody {
    const body: ErrorBody = { error: { code: this.code, message: this.message } };
    if (this.details !== undefined) body.error.details = this.details;
    return body;
  }
}

/** True when `value` is an {@link OutpostError} (also across module copies). */
export function isOutpostError(value: unknown): value is OutpostError {
  return value instanceof OutpostError;
}
