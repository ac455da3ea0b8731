/**
 * The `ui_http_vpn` actions of `PUT /bus/write/<sid>`: each checks its attributes, calls the
 * control facade within the session's admin scope and returns the one response record.
 * Everything a request can get wrong is checked before anything changes.
 */
import {
  type ApplianceControl,
  ControlError,
  type ControlErrorCodeName,
  type RealmChange,
  RealmConfigError,
} from "../appliance/mod.ts";
import { ESP_SUITES, IKE_SUITES } from "../ike/mod.ts";
import { getLogLevel, LogLevel, type LogLevelName } from "../log/mod.ts";
import type { XmlElement } from "../config/mod.ts";
import type { BusHub, BusSession, SessionLogLevel } from "./bus.ts";
import {
  type BusRecord,
  SERVICE_VPN,
  writeDataPlane,
  writeEspRealm,
  writeEspTotal,
  writeIkeStatistics,
  writePeer,
  writeRealmSummary,
  writeVpn,
} from "./records.ts";
import type { XmlAttributes } from "./xml_writer.ts";

/** A refused request: HTTP status, `<rhp_http_bus_error code>` and message. */
export class BusError extends Error {
  readonly status: number;
  readonly code: string;
  readonly attributes: XmlAttributes;
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    code: string,
    message: string,
    options: { attributes?: XmlAttributes; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "BusError";
    this.status = status;
    this.code = code;
    this.attributes = options.attributes ?? {};
    this.headers = options.headers ?? {};
  }
}

/** HTTP status of each control error code. */
export const CONTROL_ERROR_STATUS: Record<ControlErrorCodeName, number> = {
  bad_request: 400,
  forbidden: 403,
  no_such_realm: 404,
  no_such_peer: 404,
  no_such_vpn: 404,
  already_connected: 409,
  config_invalid: 422,
  connect_failed: 502,
  cannot_apply: 500,
};

/** Turns a ControlError into the BusError the client sees. */
export function busErrorFrom(e: ControlError): BusError {
  const attributes: Record<string, string | number | undefined> = {};
  if (e instanceof RealmConfigError && e.config) {
    attributes.file = e.config.file;
    attributes.line = e.config.line;
    attributes.element = e.config.element;
    attributes.attribute = e.config.attribute;
    attributes.problem = e.config.problem;
    attributes.path = e.path;
  }
  return new BusError(CONTROL_ERROR_STATUS[e.code], e.code, e.message, { attributes });
}

/** What an action works with. */
export interface ActionContext {
  control: ApplianceControl;
  hub: BusHub;
  session: BusSession;
  request: XmlElement;
}

interface ActionSpec {
  /** Attributes besides version, service and action. */
  attributes: readonly string[];
  /** The one child element the action takes (`realm`), if any. */
  child?: string;
  run(ctx: ActionContext): Promise<BusRecord>;
}

const BASE_ATTRIBUTES = ["version", "service", "action"];
const MAX_CONNECT_WAIT_SECONDS = 60;
const MAX_STATS_INTERVAL_SECONDS = 3600;
const SESSION_LEVELS = ["off", "error", "warn", "info", "debug", "trace"] as const;

function attribute(ctx: ActionContext, name: string): string | undefined {
  const value = ctx.request.attributes.get(name)?.value.trim();
  if (value === "") {
    throw new BusError(400, "bad_request", `Cannot run ${action(ctx)}: attribute ${name} is empty`);
  }
  return value;
}

function required(ctx: ActionContext, name: string): string {
  const value = attribute(ctx, name);
  if (value === undefined) {
    throw new BusError(
      400,
      "bad_request",
      `Cannot run ${action(ctx)}: missing attribute ${name}`,
    );
  }
  return value;
}

function integer(ctx: ActionContext, name: string, min: number, max: number): number | undefined {
  const value = attribute(ctx, name);
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,10}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new BusError(
      400,
      "bad_request",
      `Cannot run ${action(ctx)}: ${name} must be a whole number in ${min}-${max}`,
    );
  }
  return Number(value);
}

function action(ctx: ActionContext): string {
  return ctx.request.attributes.get("action")?.value ?? "?";
}

function ok(ctx: ActionContext, attributes: XmlAttributes = {}, body?: BusRecord["body"]) {
  const record: BusRecord = {
    service: SERVICE_VPN,
    action: action(ctx),
    attributes: { result: "ok", ...attributes },
  };
  if (body) record.body = body;
  return record;
}

function scopeAttribute(ctx: ActionContext) {
  return ctx.session.scope === "any" ? "any" : ctx.session.scope;
}

function realmChangeRecord(ctx: ActionContext, change: RealmChange) {
  return ok(
    ctx,
    {
      realm_id: change.realmId,
      realm_name: change.realmName,
      change: change.change,
      file: change.file,
      previous: change.previous,
    },
    change.warnings.length === 0 ? undefined : (w) => {
      for (const message of change.warnings) w.empty("warning", { message });
    },
  );
}

function childRealm(ctx: ActionContext): XmlElement {
  const realm = ctx.request.children[0];
  if (!realm || realm.name !== "realm" || ctx.request.children.length !== 1) {
    throw new BusError(
      400,
      "bad_request",
      `Cannot run ${action(ctx)}: the request needs exactly one <realm> element`,
    );
  }
  return realm;
}

function changeContext(ctx: ActionContext) {
  return { scope: ctx.session.scope, user: ctx.session.grant.user };
}

/** Every action of the `ui_http_vpn` service. */
export const ACTIONS: Readonly<Record<string, ActionSpec>> = {
  connect: {
    attributes: ["realm", "peer_id", "wait"],
    async run(ctx) {
      const wait = integer(ctx, "wait", 0, MAX_CONNECT_WAIT_SECONDS) ?? 0;
      const result = await ctx.control.connect(required(ctx, "realm"), attribute(ctx, "peer_id"), {
        scope: ctx.session.scope,
        waitMs: wait * 1000,
      });
      const now = Date.now();
      return ok(ctx, {
        ike_sa: result.vpn.ikeSa,
        realm_id: result.vpn.realmId,
        peer_id: result.vpn.peerId,
        state: result.vpn.state,
        established: result.established,
      }, (w) => writeVpn(w, result.vpn, now));
    },
  },
  close: {
    attributes: ["realm", "peer_id", "ike_sa"],
    async run(ctx) {
      const realm = attribute(ctx, "realm");
      const peerId = attribute(ctx, "peer_id");
      const ikeSa = integer(ctx, "ike_sa", 1, 2 ** 31);
      const closed = await ctx.control.closeVpn({
        scope: ctx.session.scope,
        ...(realm === undefined ? {} : { realm }),
        ...(peerId === undefined ? {} : { peerId }),
        ...(ikeSa === undefined ? {} : { ikeSa }),
      });
      return ok(ctx, { closed });
    },
  },
  vpn_clear_all: {
    attributes: ["realm"],
    async run(ctx) {
      const closed = await ctx.control.clearAll(ctx.session.scope, attribute(ctx, "realm"));
      return ok(ctx, { closed });
    },
  },
  status_vpn: {
    attributes: ["realm"],
    run(ctx) {
      const vpns = ctx.control.status(ctx.session.scope, attribute(ctx, "realm"));
      const now = Date.now();
      return Promise.resolve(
        ok(ctx, { vpns: vpns.length }, (w) => {
          for (const vpn of vpns) writeVpn(w, vpn, now);
        }),
      );
    },
  },
  status_vpn_peers: {
    attributes: ["realm"],
    run(ctx) {
      const peers = ctx.control.peers(ctx.session.scope, attribute(ctx, "realm"));
      return Promise.resolve(
        ok(ctx, { peers: peers.length }, (w) => {
          for (const peer of peers) writePeer(w, peer);
        }),
      );
    },
  },
  global_statistics_ikev2: {
    attributes: [],
    run(ctx) {
      const stats = ctx.control.ikeStatistics(ctx.session.scope);
      return Promise.resolve(ok(ctx, {}, (w) => writeIkeStatistics(w, stats)));
    },
  },
  global_statistics_esp: {
    attributes: [],
    run(ctx) {
      const realms = ctx.control.espStatistics(ctx.session.scope);
      const dataPlane = ctx.control.dataPlaneStatistics(ctx.session.scope);
      return Promise.resolve(ok(ctx, {}, (w) => {
        for (const realm of realms) writeEspRealm(w, realm);
        writeEspTotal(w, realms);
        if (dataPlane) writeDataPlane(w, dataPlane);
      }));
    },
  },
  config_get: {
    attributes: ["realm"],
    async run(ctx) {
      const view = await ctx.control.configView(ctx.session.scope, attribute(ctx, "realm"));
      return ok(ctx, { file: view.file, scope: scopeAttribute(ctx) }, (w) => {
        w.empty("suites", {
          ike: [...IKE_SUITES.keys()].join(" "),
          esp: [...ESP_SUITES.keys()].join(" "),
        });
        if (view.interfaces) w.element(view.interfaces);
        if (view.admin) w.element(view.admin);
        for (const realm of view.realms) w.element(realm);
      });
    },
  },
  config_enum_realms: {
    attributes: [],
    async run(ctx) {
      const realms = await ctx.control.realmSummaries(ctx.session.scope);
      return ok(ctx, { realms: realms.length }, (w) => {
        for (const realm of realms) writeRealmSummary(w, realm);
      });
    },
  },
  config_update_realm: {
    attributes: [],
    child: "realm",
    async run(ctx) {
      const change = await ctx.control.updateRealm(childRealm(ctx), changeContext(ctx));
      return realmChangeRecord(ctx, change);
    },
  },
  config_create_realm: {
    attributes: [],
    child: "realm",
    async run(ctx) {
      const change = await ctx.control.createRealm(childRealm(ctx), changeContext(ctx));
      return realmChangeRecord(ctx, change);
    },
  },
  config_delete_realm: {
    attributes: ["realm"],
    async run(ctx) {
      const change = await ctx.control.deleteRealm(required(ctx, "realm"), changeContext(ctx));
      return realmChangeRecord(ctx, change);
    },
  },
  config_enable_realm: {
    attributes: ["realm"],
    async run(ctx) {
      const change = await ctx.control.setRealmEnabled(
        required(ctx, "realm"),
        true,
        changeContext(ctx),
      );
      return realmChangeRecord(ctx, change);
    },
  },
  config_disable_realm: {
    attributes: ["realm"],
    async run(ctx) {
      const change = await ctx.control.setRealmEnabled(
        required(ctx, "realm"),
        false,
        changeContext(ctx),
      );
      return realmChangeRecord(ctx, change);
    },
  },
  event_log_control: {
    attributes: ["level", "history"],
    run(ctx) {
      if (ctx.session.scope !== "any") {
        throw new BusError(
          403,
          "forbidden",
          `Cannot run event_log_control: log records span every realm; this user's realm is ${ctx.session.scope}`,
        );
      }
      const level = required(ctx, "level");
      if (!(SESSION_LEVELS as readonly string[]).includes(level)) {
        throw new BusError(
          400,
          "bad_request",
          `Cannot run event_log_control: level must be one of ${SESSION_LEVELS.join(", ")}`,
        );
      }
      const history = integer(ctx, "history", 0, ctx.hub.options.logHistory) ?? 0;
      ctx.session.logLevel = level as SessionLogLevel;
      const replayed = ctx.hub.replayLog(ctx.session, history);
      const applianceLevel: LogLevelName = getLogLevel();
      const effective = level === "off"
        ? "off"
        : LogLevel[level as SessionLogLevel & LogLevelName] <= LogLevel[applianceLevel]
        ? level
        : applianceLevel;
      return Promise.resolve(ok(ctx, {
        level,
        appliance_level: applianceLevel,
        effective_level: effective,
        history: replayed,
      }));
    },
  },
  statistics_control: {
    attributes: ["interval"],
    run(ctx) {
      const seconds = integer(ctx, "interval", 0, MAX_STATS_INTERVAL_SECONDS);
      if (seconds === undefined) {
        throw new BusError(400, "bad_request", "Cannot run statistics_control: missing interval");
      }
      ctx.session.setStatsInterval(seconds * 1000);
      return Promise.resolve(ok(ctx, { interval: seconds }));
    },
  },
};

/**
 * Checks a parsed `<rhp_http_bus_request>` and runs its action.
 *
 * @throws {BusError} for every refusal (bad request, unknown action, scope, control errors).
 */
export async function runAction(
  control: ApplianceControl,
  hub: BusHub,
  session: BusSession,
  request: XmlElement,
): Promise<BusRecord> {
  if (request.name !== "rhp_http_bus_request") {
    throw new BusError(
      400,
      "bad_request",
      `Cannot run the request: the root element is <${request.name}>, not <rhp_http_bus_request>`,
    );
  }
  const version = request.attributes.get("version")?.value;
  if (version !== "1.0") {
    throw new BusError(
      400,
      "bad_request",
      `Cannot run the request: version ${
        version === undefined ? "is missing" : `"${version}" is not supported`
      } (this server speaks 1.0)`,
    );
  }
  const service = request.attributes.get("service")?.value;
  if (service !== SERVICE_VPN) {
    throw new BusError(
      400,
      "bad_request",
      `Cannot run the request: service ${
        service === undefined ? "is missing" : `"${service}" is unknown`
      } (known: ${SERVICE_VPN})`,
    );
  }
  const name = request.attributes.get("action")?.value;
  if (name === undefined || name === "") {
    throw new BusError(400, "bad_request", "Cannot run the request: missing attribute action");
  }
  const spec = Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined;
  if (!spec) {
    throw new BusError(
      400,
      "unknown_action",
      `Cannot run the request: unknown action "${name}" (known: ${
        Object.keys(ACTIONS).join(", ")
      })`,
    );
  }
  for (const a of request.attributes.keys()) {
    if (!BASE_ATTRIBUTES.includes(a) && !spec.attributes.includes(a)) {
      throw new BusError(
        400,
        "bad_request",
        `Cannot run ${name}: unknown attribute ${a} (allowed: ${
          spec.attributes.join(", ") || "none"
        })`,
      );
    }
  }
  if (!spec.child && request.children.length > 0) {
    throw new BusError(
      400,
      "bad_request",
      `Cannot run ${name}: the request takes no elements (found <${request.children[0]!.name}>)`,
    );
  }
  const ctx: ActionContext = { control, hub, session, request };
  try {
    return await spec.run(ctx);
  } catch (e) {
    if (e instanceof ControlError) throw busErrorFrom(e);
    throw e;
  }
}
