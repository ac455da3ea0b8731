/**
 * Privilege separation: the secure process holds every secret (PSKs, private keys, web-user
 * hashes) and makes every system change; the main process talks to it over framed, typed
 * requests on the child's stdin/stdout. See conf/README.md ("Processes") for the operator's
 * view and protocol.ts for the request set.
 */
export {
  encodeFrame,
  FRAME_HEADER_LENGTH,
  FrameDecoder,
  FrameError,
  frameOfBody,
  MAX_FRAME_LENGTH,
} from "./framing.ts";
export type { DecodedFrame, FrameProblem } from "./framing.ts";
export { SchemaError } from "./schema.ts";
export type { Schema } from "./schema.ts";
export {
  authConfigOfView,
  authViewOf,
  encodeError,
  encodeEvent,
  encodeRequest,
  encodeResult,
  ErrorCode,
  parseRequest,
  parseResult,
  parseSecureMessage,
  REDACTED_SECRET,
  REQUESTS,
  secretFilesOf,
} from "./protocol.ts";
export type {
  ArgsOf,
  AuthView,
  ErrorCodeName,
  ParsedRequest,
  ReadyInfo,
  RefusedRequest,
  RequestType,
  ResultOf,
  SecureMessage,
} from "./protocol.ts";
export { FrameWriter, SecureRequestHandler, serveStream } from "./server.ts";
export type { SecureRequestHandlerOptions, SecureServices } from "./server.ts";
export {
  REQUEST_TIMEOUT_MS,
  SecureClient,
  SecureProcessUnavailableError,
  SecureRequestError,
  SecureStartError,
} from "./client.ts";
export type { SecureClientOptions } from "./client.ts";
export {
  RemoteAuthService,
  RemoteSysService,
  RemoteWebUserService,
  WEB_USER_WAIT_MS,
} from "./remote.ts";
export { DEFAULT_RESTART_LIMITS, RestartPolicy, SecureProcessSupervisor } from "./supervisor.ts";
export type { RestartLimits, SupervisorOptions } from "./supervisor.ts";
export {
  isStandalone,
  keeperCommand,
  probeSecretFiles,
  roleArgs,
  workerCommand,
} from "./command.ts";
export type { CommandLine, SecureRoleOptions } from "./command.ts";
export { SecureSide } from "./launch.ts";
export type { SecureSideOptions } from "./launch.ts";
export { checkUnreadable, logReadCheck, revokeAll, revokePaths } from "./permissions.ts";
export type { ReadCheck, RevocableName } from "./permissions.ts";
export { runSecureRole } from "./role.ts";
