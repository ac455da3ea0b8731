/**
 * EAP inside IKE_AUTH (RFC 7296 §2.16) against a real strongSwan charon (eap-identity,
 * eap-md5, eap-mschapv2 plugins; kernel-libipsec): our appliance in namespace `rh`
 * (203.0.113.1, LAN 10.1.0.0/24 on TUN rhp0), charon in `swan` (203.0.113.2, inner 10.2.0.1).
 *
 * - our-gateway: charon is the EAP client (`local { auth = eap-<m> }`), our appliance the
 *   gateway (PSK AUTH, `<peer auth="eap-<m>">`, `<eap_user>`).
 * - our-client: our appliance is the EAP client (`<my_auth method="eap-<m>">`), charon the
 *   gateway (PSK AUTH, `remote { auth = eap-<m>; eap_id = %any }`).
 *
 * Each of the four must establish, show ESTABLISHED in `swanctl --list-sas` and carry ping both
 * ways; a wrong password must fail on both sides with a clear log line and no SA. A road warrior
 * admitted by an `<role type="email">` with EAP-MSCHAPv2 gets an inner address from our pool
 * (CP rides in the first IKE_AUTH request and the last response).
 */
import { assert, assertEquals, assertNotEquals } from "../_assert.ts";
import { type NetnsLab, requireRoot, withLab } from "../netns/harness.ts";
import { FailureArtifacts, RockhopperNode, waitForLogText } from "../netns/rockhopper_node.ts";
import { StrongSwanPeer } from "./strongswan.ts";

const OUR_ID = "fqdn:rockhopper.example.com";
const SWAN_ID = "strongswan.example.com";
const CLIENT_ID = "carol@example.com";
const EAP_USER = "carol";
const OUR_OUTER = "203.0.113.1";
const SWAN_OUTER = "203.0.113.2";
const OUR_INNER = "10.1.0.1";
const SWAN_INNER = "10.2.0.1";
const OUR_LAN = "10.1.0.0/24";
const SWAN_LAN = "10.2.0.0/24";

type Method = "md5" | "mschapv2";
type Role = "our-gateway" | "our-client";

function randomSecret(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))));
}

interface Secrets {
  psk: string;
  /** The password the gateway knows. */
  password: string;
  /** The password the client uses. */
  clientPassword: string;
}

async function eapPair(
  lab: NetnsLab,
  options: { method: Method; role: Role; secrets: Secrets; label: string },
): Promise<{ rh: RockhopperNode; swan: StrongSwanPeer; artifacts: FailureArtifacts }> {
  const { method, role, secrets } = options;
  await lab.addNamespace("rh");
  await lab.addNamespace("swan");
  await lab.link("rh", `${OUR_OUTER}/24`, "swan", `${SWAN_OUTER}/24`);
  const gateway = role === "our-gateway";
  const rh = new RockhopperNode(lab, {
    namespace: "rh",
    listenAddress: OUR_OUTER,
    tunnelInterface: "rhp0",
    tunnelAddress: `${OUR_INNER}/24`,
    ikeSuites: ["aes128gcm16-prfsha256-ecp256"],
    espSuites: ["aes128gcm16"],
    dpd: "0",
    trafficLocal: [OUR_LAN],
    trafficRemote: [SWAN_LAN],
    ...(gateway
      ? {
        myId: OUR_ID,
        realmPsk: secrets.psk,
        peers: [{ id: `email:${CLIENT_ID}`, auth: `eap-${method}` as const }],
        eapUsers: [{ name: EAP_USER, password: secrets.password }],
      }
      : {
        myId: `email:${CLIENT_ID}`,
        myEap: {
          method: `eap-${method}` as const,
          identity: EAP_USER,
          password: secrets.clientPassword,
        },
        peers: [{
          id: `fqdn:${SWAN_ID}`,
          address: SWAN_OUTER,
          auto: "start" as const,
          psk: secrets.psk,
        }],
      }),
  });
  const swan = new StrongSwanPeer(lab, {
    namespace: "swan",
    localAddress: SWAN_OUTER,
    remoteAddress: OUR_OUTER,
    localId: gateway ? CLIENT_ID : SWAN_ID,
    remoteId: gateway ? OUR_ID.slice("fqdn:".length) : CLIENT_ID,
    psk: secrets.psk,
    eap: gateway
      ? { role: "client", method, identity: EAP_USER, password: secrets.clientPassword }
      : { role: "server", method, users: [{ name: EAP_USER, password: secrets.password }] },
    ikeProposals: "aes128gcm16-prfsha256-ecp256",
    espProposals: "aes128gcm16",
    localTs: SWAN_LAN,
    remoteTs: OUR_LAN,
    innerAddress: SWAN_INNER,
    logLevels: { ike: 2, cfg: 2 },
  });
  const artifacts = new FailureArtifacts(lab, options.label);
  artifacts.add("rockhopper", rh);
  artifacts.add("charon", swan);
  return { rh, swan, artifacts };
}

async function startPair(rh: RockhopperNode, swan: StrongSwanPeer, role: Role): Promise<void> {
  if (role === "our-client") {
    await swan.start();
    await swan.loadConfig();
    await rh.start();
  } else {
    await rh.start();
    await swan.start();
    await swan.loadConfig();
  }
}

function roleText(role: Role): string {
  return role === "our-gateway"
    ? "strongSwan EAP client → our gateway"
    : "our EAP client → strongSwan gateway";
}

for (const method of ["mschapv2", "md5"] as const) {
  for (const role of ["our-gateway", "our-client"] as const) {
    Deno.test({
      name: `${roleText(role)}: EAP-${method.toUpperCase()} establishes and carries ping`,
      ignore: requireRoot(),
      fn: () =>
        withLab(async (lab) => {
          const password = randomSecret();
          const secrets = { psk: randomSecret(), password, clientPassword: password };
          const { rh, swan, artifacts } = await eapPair(lab, {
            method,
            role,
            secrets,
            label: `eap-${method}-${role}`,
          });
          await startPair(rh, swan, role);
          if (role === "our-gateway") await swan.initiate();

          const ours = await rh.waitForChildSa();
          const ike = await swan.waitEstablished();
          assertEquals(ike.state, "ESTABLISHED");
          assertEquals(ike.initiator, role === "our-gateway");
          assertEquals(ike.remoteHost, OUR_OUTER);
          assertEquals(ike.childSas.length, 1);
          const child = ike.childSas[0]!;
          assertEquals(child.state, "INSTALLED");
          assertEquals([child.localTs, child.remoteTs], [[SWAN_LAN], [OUR_LAN]]);
          assertEquals(child.spiIn, ours.spiOut);
          assertEquals(child.spiOut, ours.spiIn);
          const log = await rh.logText();
          assert(
            new RegExp(`IKE_SA established: .*EAP identity "${EAP_USER}"`).test(log),
            "our log names the EAP identity",
          );
          const swanLog = await swan.logText();
          const eapName = method === "md5" ? "EAP_MD5" : "EAP_MSCHAPV2";
          const established = method === "md5" ? "no MSK established" : "MSK established";
          assert(
            swanLog.includes(`EAP method ${eapName} succeeded, ${established}`),
            `charon reports the EAP method: ${
              swanLog.split("\n").filter((l) => /EAP/.test(l)).join("\n")
            }`,
          );

          const before = await lab.interfaceCounters("rh", "rhp0");
          assertEquals(await lab.ping("rh", SWAN_INNER, { from: OUR_INNER, count: 3 }), 3);
          assertEquals(await lab.ping("swan", OUR_INNER, { from: SWAN_INNER, count: 3 }), 3);
          const after = await lab.interfaceCounters("rh", "rhp0");
          // 3 requests and 3 replies each way cross our TUN in each direction.
          assert(after.txPackets - before.txPackets >= 6, "the pings left us through our TUN");
          assert(after.rxPackets - before.rxPackets >= 6, "the pings reached us through our TUN");

          await rh.stop();
          const all = await rh.logText();
          assert(!all.includes(password), "the EAP password appears in our log");
          assert(!all.includes(secrets.psk), "the PSK appears in our log");
          artifacts.passed();
        }, { timeoutMs: 90_000 }),
    });
  }
}

for (const method of ["mschapv2", "md5"] as const) {
  Deno.test({
    name: `strongSwan EAP client with a wrong EAP-${method.toUpperCase()} password is refused`,
    ignore: requireRoot(),
    fn: () =>
      withLab(async (lab) => {
        const secrets = { psk: randomSecret(), password: randomSecret(), clientPassword: "wrong" };
        const { rh, swan, artifacts } = await eapPair(lab, {
          method,
          role: "our-gateway",
          secrets,
          label: `eap-${method}-wrong-password-our-gateway`,
        });
        await startPair(rh, swan, "our-gateway");
        const initiate = await swan.swanctl(
          ["--initiate", "--child", swan.childName, "--timeout", "15"],
          { check: false, timeoutMs: 20_000 },
        );
        assertNotEquals(initiate.code, 0, "swanctl --initiate reports the failure");
        if (method === "md5") {
          // We decide: EAP-Failure to charon.
          await rh.waitForLog(
            new RegExp(`AUTHENTICATION_FAILED for 203\\.0\\.113\\.2: EAP identity "${EAP_USER}"`),
            10_000,
          );
          await waitForLogText(swan, /received EAP_FAILURE, EAP authentication failed/, 10_000);
        } else {
          // Our MSCHAPv2 Failure-Request (E=691); charon gives up at once and tells us in an
          // INFORMATIONAL with AUTHENTICATION_FAILED, which ends our half-open SA.
          await waitForLogText(
            swan,
            /EAP-MS-CHAPv2 failed with error ERROR_AUTHENTICATION_FAILURE/,
            10_000,
          );
          await rh.waitForLog(
            new RegExp(`email:${CLIENT_ID} ended IKE_AUTH with AUTHENTICATION_FAILED`),
            10_000,
          );
          await rh.waitForLog(/IKE_SA .*deleted by peer|deleted by peer/, 5_000);
        }
        assertEquals((await swan.listSas()).filter((sa) => sa.state === "ESTABLISHED").length, 0);
        await rh.stop();
        const log = await rh.logText();
        assert(!/IKE_SA established/.test(log), "we established an IKE SA");
        assert(!/CHILD_SA installed/.test(log), "we installed a CHILD_SA");
        assert(!log.includes(secrets.password), "the EAP password appears in our log");
        artifacts.passed();
      }, { timeoutMs: 90_000 }),
  });

  Deno.test({
    name:
      `our EAP client with a wrong EAP-${method.toUpperCase()} password is refused by strongSwan`,
    ignore: requireRoot(),
    fn: () =>
      withLab(async (lab) => {
        const wrong = randomSecret();
        const secrets = { psk: randomSecret(), password: randomSecret(), clientPassword: wrong };
        const { rh, swan, artifacts } = await eapPair(lab, {
          method,
          role: "our-client",
          secrets,
          label: `eap-${method}-wrong-password-our-client`,
        });
        await startPair(rh, swan, "our-client");
        await rh.waitForLog(
          new RegExp(
            `AUTHENTICATION_FAILED: EAP identity "${EAP_USER}" refused by fqdn:${SWAN_ID}`,
          ),
          20_000,
        );
        await waitForLogText(swan, /EAP method EAP_\S+ failed for peer/, 10_000);
        assertEquals((await swan.listSas()).filter((sa) => sa.state === "ESTABLISHED").length, 0);
        await rh.stop();
        const log = await rh.logText();
        assert(!/IKE_SA established/.test(log), "we established an IKE SA");
        assert(!/CHILD_SA installed/.test(log), "we installed a CHILD_SA");
        assert(!log.includes(wrong) && !log.includes(secrets.password), "a password in our log");
        artifacts.passed();
      }, { timeoutMs: 90_000 }),
  });
}

Deno.test({
  name: "a strongSwan EAP-MSCHAPv2 road warrior admitted by a role gets an address from our pool",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const psk = randomSecret();
      const password = randomSecret();
      await lab.addNamespace("rh");
      await lab.addNamespace("swan");
      await lab.link("rh", `${OUR_OUTER}/24`, "swan", `${SWAN_OUTER}/24`);
      const rh = new RockhopperNode(lab, {
        namespace: "rh",
        listenAddress: OUR_OUTER,
        tunnelInterface: "rhp0",
        tunnelAddress: `${OUR_INNER}/24`,
        dpd: "0",
        trafficLocal: [OUR_LAN],
        pool: { address: "10.3.0.2/31", subnets: OUR_LAN },
        myId: OUR_ID,
        realmPsk: psk,
        peers: [],
        roles: [{ type: "email", match: "example.com", auth: "eap-mschapv2" }],
        eapUsers: [{ name: EAP_USER, password }],
      });
      const swan = new StrongSwanPeer(lab, {
        namespace: "swan",
        localAddress: SWAN_OUTER,
        remoteAddress: OUR_OUTER,
        localId: CLIENT_ID,
        remoteId: OUR_ID.slice("fqdn:".length),
        psk,
        eap: { role: "client", method: "mschapv2", identity: EAP_USER, password },
        localTs: "dynamic",
        remoteTs: OUR_LAN,
        vips: "0.0.0.0",
      });
      const artifacts = new FailureArtifacts(lab, "eap-road-warrior-pool");
      artifacts.add("rockhopper", rh);
      artifacts.add("charon", swan);
      await rh.start();
      await swan.start();
      await swan.loadConfig();
      await swan.initiate();
      const ike = await swan.waitEstablished();
      assertEquals(ike.state, "ESTABLISHED");
      assertEquals(ike.localVips.length, 1, "charon got one inner address");
      const vip = ike.localVips[0]!;
      assert(["10.3.0.2", "10.3.0.3"].includes(vip), `address ${vip} is from our pool`);
      await rh.waitForChildSa();
      assertEquals(await lab.ping("swan", OUR_INNER, { from: vip, count: 3 }), 3);
      assert(
        new RegExp(`IKE_SA established: .*EAP identity "${EAP_USER}"`).test(await rh.logText()),
      );
      await rh.stop();
      assert(!(await rh.logText()).includes(password), "the EAP password appears in our log");
      artifacts.passed();
    }, { timeoutMs: 90_000 }),
});
