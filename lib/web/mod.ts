/**
 * The management server: HTTP (Deno.serve) with the XML bus protocol and the GUI's static
 * files. lib/web/README.md documents the protocol; {@link startManagement} is what main.ts
 * calls after the appliance started.
 */
import { ApplianceControl, type ControlTarget } from "../appliance/mod.ts";
import { LocalWebUserService, type WebUserAuthService } from "../auth/mod.ts";
import type { AuthConfig, RockhopperConfig } from "../config/mod.ts";
import { Logger } from "../log/mod.ts";
import { ManagementServer, type ManagementServerOptions } from "./server.ts";

export { ACTIONS, BusError, CONTROL_ERROR_STATUS, runAction } from "./actions.ts";
export { FailedLoginLimiter, SourceAcl } from "./acl.ts";
export { BusHub, BusSession, DEFAULT_BUS_OPTIONS, scopeCovers } from "./bus.ts";
export type { BusOptions, SessionLogLevel } from "./bus.ts";
export { BUS_VERSION, renderResponse, SERVICE_BUS, SERVICE_VPN } from "./records.ts";
export type { BusErrorBody, BusRecord } from "./records.ts";
export {
  DEFAULT_FAILED_LOGINS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_STATIC_DIR,
  ManagementServer,
} from "./server.ts";
export type { ManagementServerOptions } from "./server.ts";
export { XmlWriter } from "./xml_writer.ts";
export type { XmlAttributes, XmlAttributeValue } from "./xml_writer.ts";

/** A running management server with its control facade. */
export interface Management {
  server: ManagementServer;
  control: ApplianceControl;
  stop(): Promise<void>;
}

/** Options of {@link startManagement}. */
export interface StartManagementOptions {
  appliance: ControlTarget;
  config: RockhopperConfig;
  auth: AuthConfig;
  /** The rockhopper.xml the appliance was started with (realm changes rewrite it). */
  configPath: string;
  /** auth.xml, re-read to cross-check realm changes as the next start would. */
  authPath?: string;
  /** Web-user check; default the users of `auth` in this process. */
  users?: WebUserAuthService;
  /** Further server options (tests: port 0, short timeouts). */
  server?: Partial<Omit<ManagementServerOptions, "control" | "users" | "admin">>;
}

function directoryOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

/**
 * Starts the management server when `<admin enabled>` (the default) says so; resolves to
 * undefined when it is disabled.
 *
 * @example
 * ```ts
 * const management = await startManagement({ appliance, config, auth, configPath, authPath });
 * // ...
 * await management?.stop();
 * ```
 */
export async function startManagement(
  options: StartManagementOptions,
): Promise<Management | undefined> {
  const { config, auth } = options;
  if (!config.admin.enabled) {
    new Logger("web").info('management server disabled (<admin enabled="no">)');
    return undefined;
  }
  const users = options.users ?? new LocalWebUserService(auth);
  if (users instanceof LocalWebUserService && users.size === 0) {
    new Logger("web").warn(
      "no web user in auth.xml: nobody can log in to the management server until you add " +
        '<admin user="..." hash="..." realm="any"/> (see "rockhopper hash-password")',
    );
  }
  const control = new ApplianceControl(options.appliance, {
    configPath: options.configPath,
    auth,
    ...(options.authPath === undefined ? {} : { authPath: options.authPath }),
  });
  let server: ManagementServer;
  try {
    server = await ManagementServer.start({
      control,
      users,
      admin: config.admin,
      baseDir: directoryOf(options.configPath),
      ...options.server,
    });
  } catch (e) {
    control.close();
    throw e;
  }
  return {
    server,
    control,
    async stop() {
      await server.stop();
      control.close();
    },
  };
}
