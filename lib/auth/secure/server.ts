/**
 * The secure process's side of the IPC: every frame from the main process is parsed against
 * the protocol, refused (and logged) when it does not match, else handed to the services, and
 * answered with a result that holds no secret.
 *
 *   1. stdin → FrameDecoder (oversized frames skipped, answered with `oversized`)
 *   2. parseRequest: envelope + the type's schema; `malformed` / `unknown_request` otherwise
 *   3. run against AuthService / WebUserAuthService / SysService (policed)
 *   4. reply frame → stdout, one whole frame at a time, in completion order
 */
import { IpCommandError } from "../../net/mod.ts";
import { SysRefusedError, type SysService } from "../../sys_control/mod.ts";
import { Logger } from "../../log/mod.ts";
import { type AuthService, AuthUnavailableError } from "../service.ts";
import type { WebUserAuthService } from "../web_users.ts";
import { encodeFrame, FrameDecoder, frameOfBody } from "./framing.ts";
import {
  encodeError,
  encodeResult,
  ErrorCode,
  type ParsedRequest,
  parseRequest,
} from "./protocol.ts";

/** What the handler answers requests with. */
export interface SecureServices {
  auth: AuthService;
  webUsers: WebUserAuthService;
  sys: SysService;
}

/** Options of {@link SecureRequestHandler}. */
export interface SecureRequestHandlerOptions {
  /** Called after the reply to a `restart` request was written. */
  onRestart?: () => void;
  log?: Logger;
}

/**
 * Turns request frames into reply frames. Pure with respect to I/O: {@link serveStream} feeds
 * it; tests call {@link handle} directly.
 *
 * @example
 * ```ts
 * const handler = new SecureRequestHandler({ auth, webUsers, sys });
 * const reply = await handler.handle(body); // JSON text of the reply
 * ```
 */
export class SecureRequestHandler {
  readonly #services: SecureServices;
  readonly #log: Logger;
  readonly #options: SecureRequestHandlerOptions;
  /** Requests refused so far (malformed, unknown, oversized). */
  refused = 0;

  constructor(services: SecureServices, options: SecureRequestHandlerOptions = {}) {
    this.#services = services;
    this.#options = options;
    this.#log = options.log ?? new Logger("auth", "secure");
  }

  /** Answers one request body; never throws. */
  async handle(body: Uint8Array): Promise<string> {
    return (await this.answer(body)).reply;
  }

  /** Answers one request body; `restart` when it was a granted `restart` request. */
  async answer(body: Uint8Array): Promise<{ reply: string; restart: boolean }> {
    const request = parseRequest(body);
    if ("code" in request) {
      this.refused++;
      this.#log.warn(
        `refused a request from the main process (${request.code}): ${request.message}`,
      );
      return { reply: encodeError(request.id, request.code, request.message), restart: false };
    }
    try {
      const result = await this.#run(request);
      return { reply: encodeResult(request.id, result), restart: request.type === "restart" };
    } catch (e) {
      return { reply: this.#failure(request, e), restart: false };
    }
  }

  /** The reply to a frame too large to read. */
  oversized(message: string): string {
    this.refused++;
    this.#log.warn(`refused a request from the main process (oversized): ${message}`);
    return encodeError(null, ErrorCode.Oversized, message);
  }

  #failure(request: ParsedRequest, e: unknown): string {
    if (e instanceof AuthUnavailableError) {
      return encodeError(request.id, ErrorCode.Unavailable, e.message);
    }
    if (e instanceof SysRefusedError) {
      this.#log.warn(`refused ${request.type}: ${e.message}`);
      return encodeError(request.id, ErrorCode.Refused, e.message);
    }
    if (e instanceof IpCommandError) {
      return encodeError(request.id, ErrorCode.CommandFailed, e.message);
    }
    if (e instanceof TypeError && request.type in SYS_REQUESTS) {
      // lib/net's argument checks ("interface name ... is invalid").
      return encodeError(request.id, ErrorCode.Refused, e.message);
    }
    // Unexpected: the details stay in this process's log.
    this.#log.error(`${request.type} failed: ${(e as Error)?.stack ?? String(e)}`);
    return encodeError(
      request.id,
      ErrorCode.Failed,
      `${request.type} failed in the secure process (see its log)`,
    );
  }

  async #run(request: ParsedRequest): Promise<unknown> {
    const { auth, webUsers, sys } = this.#services;
    switch (request.type) {
      case "computePskAuth":
        return await auth.computePskAuth(request.args);
      case "verifyPskAuth":
        return await auth.verifyPskAuth(request.args);
      case "hasPsk":
        return await auth.hasPsk(request.args.realmId, request.args.peerId);
      case "localMethod":
        return await auth.localMethod(request.args.realmId);
      case "peerMethod":
        return (await auth.peerMethod(request.args.realmId, request.args.peerId)) ?? null;
      case "localCertificates":
        return await auth.localCertificates(request.args.realmId);
      case "certificateRequest":
        return (await auth.certificateRequest(request.args.realmId)) ?? null;
      case "signAuth":
        return await auth.signAuth({
          realmId: request.args.realmId,
          signedOctets: request.args.signedOctets,
          peerHashAlgorithms: request.args.peerHashAlgorithms ?? undefined,
        });
      case "verifyCertificateAuth":
        return await auth.verifyCertificateAuth(request.args);
      case "eapStart":
        return await auth.eapStart(request.args);
      case "eapProcess":
        return await auth.eapProcess(request.args.session, request.args.packet);
      case "eapAuth":
        return await auth.eapAuth(request.args);
      case "eapVerifyAuth":
        return await auth.eapVerifyAuth(request.args);
      case "eapEnd":
        return await auth.eapEnd(request.args.session);
      case "verifyWebUser":
        return await webUsers.verifyWebUser(request.args.user, request.args.password);
      case "setMtu":
        return await sys.setMtu(request.args.device, request.args.mtu);
      case "linkUp":
        return await sys.linkUp(request.args.device);
      case "disableAddressGeneration":
        return await sys.disableAddressGeneration(request.args.device);
      case "addAddress":
        return await sys.addAddress(request.args.device, request.args.cidr);
      case "delAddress":
        return await sys.delAddress(request.args.device, request.args.cidr);
      case "addRoute": {
        const { prefix, ...change } = request.args;
        return await sys.addRoute(prefix, change);
      }
      case "delRoute":
        return await sys.delRoute(request.args.prefix, { device: request.args.device });
      case "restart":
        this.#log.info("restart requested by the main process (configuration changed)");
        return null;
    }
  }

  /** Called by {@link serveStream} after a restart reply went out. */
  restartRequested(): void {
    this.#options.onRestart?.();
  }
}

const SYS_REQUESTS = {
  setMtu: true,
  linkUp: true,
  disableAddressGeneration: true,
  addAddress: true,
  delAddress: true,
  addRoute: true,
  delRoute: true,
};

/** Writes whole frames, one at a time, in the order they were queued. */
export class FrameWriter {
  readonly #write: (frame: Uint8Array) => Promise<void>;
  #tail: Promise<void> = Promise.resolve();

  constructor(write: (frame: Uint8Array) => Promise<void>) {
    this.#write = write;
  }

  /** Queues one frame with `body` (JSON text or its UTF-8); resolves when it was written. */
  send(body: string | Uint8Array): Promise<void> {
    const frame = typeof body === "string" ? encodeFrame(body) : frameOfBody(body);
    const next = this.#tail.then(() => this.#write(frame));
    this.#tail = next.catch(() => {});
    return next;
  }
}

/**
 * Serves requests from `input` until it ends (the main process closed the pipe or exited);
 * replies go to `writer`. Requests run concurrently; each reply is one whole frame.
 */
export async function serveStream(
  input: ReadableStream<Uint8Array>,
  writer: FrameWriter,
  handler: SecureRequestHandler,
  log: Logger = new Logger("auth", "secure"),
): Promise<void> {
  const decoder = new FrameDecoder();
  const inflight = new Set<Promise<void>>();
  for await (const chunk of input) {
    for (const frame of decoder.push(chunk)) {
      if ("error" in frame) {
        if (frame.error.problem === "oversized") {
          await writer.send(handler.oversized(frame.error.message));
        } else {
          handler.refused++;
          log.warn(`refused a request from the main process (malformed): ${frame.error.message}`);
          await writer.send(encodeError(null, ErrorCode.Malformed, frame.error.message));
        }
        continue;
      }
      const task = handler.answer(frame.body).then(async ({ reply, restart }) => {
        await writer.send(reply);
        if (restart) handler.restartRequested();
      }).catch((e) => log.error(`Cannot answer the main process: ${(e as Error).message}`));
      inflight.add(task);
      void task.finally(() => inflight.delete(task));
    }
  }
  const truncated = decoder.end();
  if (truncated) log.warn(`the main process closed the pipe mid-frame: ${truncated.message}`);
  await Promise.allSettled([...inflight]);
}
