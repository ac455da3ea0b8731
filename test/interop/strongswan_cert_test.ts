/**
 * Certificate authentication against a real strongSwan charon (kernel-libipsec, ESP in UDP
 * 4500): our appliance in namespace `rh` (203.0.113.1, LAN 10.1.0.0/24 on TUN rhp0) and charon
 * in `swan` (203.0.113.2, inner 10.2.0.1 on lo), with the test PKI of
 * test/auth/x509/make_test_pki.sh, generated once for this file.
 *
 * Trust is set up so that both chains must travel in CERT payloads: end entities are issued by
 * the intermediate CA; we trust only the root (charon sends the intermediate), charon trusts the
 * root and the intermediate (which it needs to send its own chain) and logs the issuer
 * certificate we send. Both ends load the CRLs of the root and the intermediate, re-issued with
 * the authorityKeyIdentifier that charon needs to find them (see {@link issueCrlWithKeyId}).
 *
 * 1. Both directions × both key mixes (RSA-2048 on one side, ECDSA P-256 on the other), so each
 *    key type signs and verifies as initiator and as responder: IKE SA ESTABLISHED and child SA
 *    INSTALLED on charon's side, each side logs the other's certificate, ping both ways.
 * 2. charon initiates with a revoked, an expired and a foreign-CA certificate: we refuse with
 *    the reason in our log, charon receives AUTHENTICATION_FAILED.
 * 3. We initiate with a revoked or expired certificate: charon refuses it, we log that it
 *    refused our authentication.
 */
import { assert, assertEquals, assertNotEquals } from "../_assert.ts";
import { type NetnsLab, requireRoot, withLab } from "../netns/harness.ts";
import { makeTestPki, type TestPki } from "../auth/x509/_pki.ts";
import { FailureArtifacts, RockhopperNode, waitForLogText } from "../netns/rockhopper_node.ts";
import { StrongSwanPeer } from "./strongswan.ts";

const OUR_OUTER = "203.0.113.1";
const SWAN_OUTER = "203.0.113.2";
const OUR_INNER = "10.1.0.1";
const SWAN_INNER = "10.2.0.1";
const OUR_LAN = "10.1.0.0/24";
const SWAN_LAN = "10.2.0.0/24";
const TUNNEL_DEVICE = "rhp0";
const SUITE = { ike: "aes128gcm16-prfsha256-ecp256", esp: "aes128gcm16" };

/** A certificate of the test PKI with its key: file stem, identity, issuing root. */
interface Credential {
  /** File stem in the PKI directory (`NAME.crt`, `NAME.key`). */
  name: string;
  /** The DNS subjectAltName, used as the FQDN identity. */
  fqdn: string;
  /** What charon logs for a signature by this key with RFC 7427 (method 14). */
  charonScheme: RegExp;
  /** The root CA that anchors it. */
  root: "root" | "other-root";
}

const GW_RSA: Credential = {
  name: "gw-rsa",
  fqdn: "gw-rsa.example.com",
  charonScheme: /^RSA_EMSA_PKCS1_SHA2_(256|384|512)$/,
  root: "root",
};
const GW_P256: Credential = {
  name: "gw-p256",
  fqdn: "gw-p256.example.com",
  charonScheme: /^ECDSA_WITH_SHA256_DER$/,
  root: "root",
};
const REVOKED: Credential = { ...GW_P256, name: "revoked", fqdn: "revoked.example.com" };
const EXPIRED: Credential = { ...GW_P256, name: "expired", fqdn: "expired.example.com" };
const FOREIGN: Credential = {
  ...GW_P256,
  name: "gw-other",
  fqdn: "gw-other.example.com",
  root: "other-root",
};

/**
 * Issues `<ca>-akid.crl`: the CA's current CRL with an authorityKeyIdentifier extension.
 * RFC 5280 §5.2.1 requires that extension in every CRL, and charon's revocation plugin finds
 * a loaded CRL only by it (the SHA-1 key id of the issuer); make_test_pki.sh's CRLs lack it,
 * so charon would report "certificate status is not available" and accept a revoked certificate.
 */
async function issueCrlWithKeyId(pki: TestPki, ca: string): Promise<void> {
  const config = pki.path("openssl-crl-akid.cnf");
  await Deno.writeTextFile(
    config,
    `${pki.text("openssl.cnf")}\n[crl_akid]\nauthorityKeyIdentifier = keyid:always\n`,
  );
  const output = await new Deno.Command("openssl", {
    args: ["ca", "-batch", "-config", config, "-cert", pki.path(`${ca}.crt`), "-keyfile"]
      .concat([pki.path(`${ca}.key`), "-gencrl", "-crlexts", "crl_akid"])
      .concat(["-out", pki.path(`${ca}-akid.crl`)]),
    env: { CA_DIR: pki.path(`${ca}.db`) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `Cannot issue ${ca}-akid.crl: ${new TextDecoder().decode(output.stderr).trim()}`,
    );
  }
}

let pkiPromise: Promise<TestPki> | undefined;
/** The PKI of this file, made on first use (so a non-root run does not make it). */
function testPki(): Promise<TestPki> {
  pkiPromise ??= (async () => {
    const pki = await makeTestPki();
    for (const ca of ["root", "intermediate"]) await issueCrlWithKeyId(pki, ca);
    return pki;
  })();
  return pkiPromise;
}

/** The revocation lists both ends load (the intermediate's revokes `revoked`). */
function crlFiles(pki: TestPki): string[] {
  return [pki.path("intermediate-akid.crl"), pki.path("root-akid.crl")];
}

type Direction = "ours-initiates" | "strongswan-initiates";

function directionText(direction: Direction): string {
  return direction === "ours-initiates"
    ? "our initiator → strongSwan responder"
    : "strongSwan initiator → our responder";
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function assertMatch(text: string, pattern: RegExp): void {
  assert(pattern.test(text), `expected ${pattern} in:\n${text.split("\n").slice(-30).join("\n")}`);
}

/** Namespaces, veth, our node and the charon peer with certificates (neither started). */
async function certPair(
  lab: NetnsLab,
  options: { direction: Direction; ours: Credential; theirs: Credential; label: string },
): Promise<{ rh: RockhopperNode; swan: StrongSwanPeer; artifacts: FailureArtifacts }> {
  const pki = await testPki();
  const { ours, theirs } = options;
  await lab.addNamespace("rh");
  await lab.addNamespace("swan");
  await lab.link("rh", `${OUR_OUTER}/24`, "swan", `${SWAN_OUTER}/24`);
  const rh = new RockhopperNode(lab, {
    namespace: "rh",
    listenAddress: OUR_OUTER,
    tunnelInterface: TUNNEL_DEVICE,
    tunnelAddress: `${OUR_INNER}/24`,
    ikeSuites: [SUITE.ike],
    espSuites: [SUITE.esp],
    dpd: "0",
    trafficLocal: [OUR_LAN],
    trafficRemote: [SWAN_LAN],
    myId: `fqdn:${ours.fqdn}`,
    myCert: {
      cert: pki.path(`${ours.name}.crt`),
      key: pki.path(`${ours.name}.key`),
      chain: [pki.path("intermediate.crt")],
    },
    caFiles: [pki.path("root.crt")],
    crlFiles: crlFiles(pki),
    peers: [{
      id: `fqdn:${theirs.fqdn}`,
      address: SWAN_OUTER,
      auto: options.direction === "ours-initiates" ? "start" : "add",
      auth: "cert",
    }],
  });
  const caCerts = [pki.path("root.crt"), pki.path("intermediate.crt")];
  if (theirs.root === "other-root") caCerts.push(pki.path("other-root.crt"));
  const swan = new StrongSwanPeer(lab, {
    namespace: "swan",
    localAddress: SWAN_OUTER,
    remoteAddress: OUR_OUTER,
    localId: theirs.fqdn,
    remoteId: ours.fqdn,
    cert: {
      cert: pki.path(`${theirs.name}.crt`),
      key: pki.path(`${theirs.name}.key`),
      caCerts,
      crls: crlFiles(pki),
    },
    logLevels: { lib: 2 },
    ikeProposals: SUITE.ike,
    espProposals: SUITE.esp,
    localTs: SWAN_LAN,
    remoteTs: OUR_LAN,
    innerAddress: SWAN_INNER,
  });
  // Registered after both nodes, so these hooks run before the nodes' own stop hooks.
  const artifacts = new FailureArtifacts(lab, options.label);
  artifacts.add("rockhopper", rh);
  artifacts.add("charon", swan);
  return { rh, swan, artifacts };
}

/** Starts both sides; the initiator goes last (charon's initiation is left to the test). */
async function startPair(
  rh: RockhopperNode,
  swan: StrongSwanPeer,
  direction: Direction,
): Promise<void> {
  if (direction === "ours-initiates") {
    await swan.start();
    await swan.loadConfig();
    await rh.start();
  } else {
    await rh.start();
    await swan.start();
    await swan.loadConfig();
  }
}

/** The DN our log prints for a gateway certificate of the test PKI. */
function gatewaySubject(credential: Credential): string {
  return `C=CH, O=Rockhopper Test, OU=Gateways, CN=${credential.fqdn}`;
}

const KEY_MIXES: readonly { ours: Credential; theirs: Credential }[] = [
  { ours: GW_RSA, theirs: GW_P256 },
  { ours: GW_P256, theirs: GW_RSA },
];

for (const direction of ["ours-initiates", "strongswan-initiates"] as const) {
  for (const { ours, theirs } of KEY_MIXES) {
    Deno.test({
      name: `${directionText(direction)}: we sign with ${ours.name}, charon with ${theirs.name}; ` +
        `the tunnel carries ping both ways`,
      ignore: requireRoot(),
      fn: () =>
        withLab(async (lab) => {
          const { rh, swan, artifacts } = await certPair(lab, {
            direction,
            ours,
            theirs,
            label: `cert-${direction}-${ours.name}`,
          });
          await startPair(rh, swan, direction);
          if (direction === "strongswan-initiates") await swan.initiate();

          const child = await rh.waitForChildSa();
          const ike = await swan.waitEstablished();
          assertEquals(ike.state, "ESTABLISHED");
          assertEquals(ike.initiator, direction === "strongswan-initiates");
          assertEquals([ike.localId, ike.remoteId], [theirs.fqdn, ours.fqdn]);
          assertEquals(ike.remoteHost, OUR_OUTER);
          const swanChild = ike.childSas.find((c) => c.name === swan.childName);
          assertEquals(swanChild?.state, "INSTALLED");
          assertEquals(swanChild?.spiIn, child.spiOut, "charon's inbound SPI is our outbound SPI");
          assertEquals(swanChild?.spiOut, child.spiIn, "charon's outbound SPI is our inbound SPI");

          // We validated charon's chain (its intermediate arrived in a CERT payload: we trust
          // only the root) and say whose certificate it was.
          const ourLog = await rh.logText();
          assertMatch(
            ourLog,
            new RegExp(
              `fqdn:${escapeRegExp(theirs.fqdn)} authenticated with certificate ${
                escapeRegExp(gatewaySubject(theirs))
              }`,
            ),
          );
          assertMatch(
            ourLog,
            new RegExp(
              `IKE_SA established: fqdn:${escapeRegExp(ours.fqdn)} .* ↔ fqdn:${
                escapeRegExp(theirs.fqdn)
              } `,
            ),
          );
          // charon received our certificate and its issuer, and verified our signature with
          // the scheme our key type implies (RFC 7427: charon announced SIGNATURE_HASH_ALGORITHMS).
          const swanLog = await swan.logText();
          assertMatch(
            swanLog,
            new RegExp(`received end entity cert "${escapeRegExp(gatewaySubject(ours))}"`),
          );
          assertMatch(
            swanLog,
            /received issuer cert "C=CH, O=Rockhopper Test, CN=Test Intermediate CA"/,
          );
          assertMatch(swanLog, /reached self-signed root ca with a path length of 1/);
          // charon checked our certificate against the intermediate's CRL (not "not available").
          assertMatch(
            swanLog,
            new RegExp(
              `checking certificate status of "${escapeRegExp(gatewaySubject(ours))}"\n` +
                `(?:(?!.*certificate status)[^\n]*\n)*[^\n]*certificate status is good`,
            ),
          );
          const verified = swanLog.match(
            new RegExp(`authentication of '${escapeRegExp(ours.fqdn)}' with (\\S+) successful`),
          );
          assert(verified !== null, "charon logs a successful authentication of our identity");
          assertMatch(verified[1]!, ours.charonScheme);
          const signed = swanLog.match(
            new RegExp(
              `authentication of '${
                escapeRegExp(theirs.fqdn)
              }' \\(myself\\) with (\\S+) successful`,
            ),
          );
          assert(signed !== null, "charon logs its own signature");
          assertMatch(signed[1]!, theirs.charonScheme);

          assertEquals(await lab.ping("rh", SWAN_INNER, { from: OUR_INNER, count: 3 }), 3);
          assertEquals(await lab.ping("swan", OUR_INNER, { from: SWAN_INNER, count: 3 }), 3);
          artifacts.passed();
        }, { timeoutMs: 60_000 }),
    });
  }
}

/** Certificates charon presents that our responder must refuse, with the reason we log. */
const REFUSED_BY_US: readonly { credential: Credential; what: string; reason: RegExp }[] = [
  { credential: REVOKED, what: "revoked", reason: /revoked on \d{4}-\d\d-\d\d/ },
  { credential: EXPIRED, what: "expired", reason: /expired on 2021-01-01/ },
  { credential: FOREIGN, what: "foreign-CA", reason: /signed by an unknown CA/ },
];

for (const { credential, what, reason } of REFUSED_BY_US) {
  Deno.test({
    name: `our responder refuses strongSwan's ${what} certificate with a clear log line`,
    ignore: requireRoot(),
    fn: () =>
      withLab(async (lab) => {
        const { rh, swan, artifacts } = await certPair(lab, {
          direction: "strongswan-initiates",
          ours: GW_RSA,
          theirs: credential,
          label: `cert-refuse-${what}`,
        });
        await startPair(rh, swan, "strongswan-initiates");
        const initiate = await swan.swanctl(
          ["--initiate", "--child", swan.childName, "--timeout", "15"],
          { check: false, timeoutMs: 20_000 },
        );
        assertNotEquals(initiate.code, 0, "swanctl --initiate reports the failure");
        const [line] = await rh.waitForLog(
          new RegExp(
            `AUTHENTICATION_FAILED for ${escapeRegExp(SWAN_OUTER)}: Cannot validate certificate ` +
              `[^\\n]*CN=${escapeRegExp(credential.fqdn)}[^\\n]*`,
          ),
          10_000,
        );
        assertMatch(line!, reason);
        await waitForLogText(swan, /received AUTHENTICATION_FAILED notify error/, 10_000);
        assertEquals((await swan.listSas()).filter((sa) => sa.state === "ESTABLISHED").length, 0);
        await rh.stop();
        const log = await rh.logText();
        assert(!/IKE_SA established/.test(log), "we established an IKE SA");
        assert(!/CHILD_SA installed/.test(log), "we installed a CHILD_SA");
        assert(!/authenticated with certificate/.test(log), "we accepted the certificate");
        artifacts.passed();
      }, { timeoutMs: 60_000 }),
  });
}

/** Our certificates charon must refuse, with what charon logs about them. */
const REFUSED_BY_CHARON: readonly { credential: Credential; what: string; reason: RegExp }[] = [
  {
    credential: REVOKED,
    what: "revoked",
    reason: /certificate was revoked on .*, reason: key compromise/,
  },
  {
    credential: EXPIRED,
    what: "expired",
    reason: /certificate invalid \(valid from .* to .*2021\)/,
  },
];

for (const { credential, what, reason } of REFUSED_BY_CHARON) {
  Deno.test({
    name: `strongSwan refuses our ${what} certificate and we log the refusal`,
    ignore: requireRoot(),
    fn: () =>
      withLab(async (lab) => {
        const { rh, swan, artifacts } = await certPair(lab, {
          direction: "ours-initiates",
          ours: credential,
          theirs: GW_P256,
          label: `cert-refused-${what}`,
        });
        await startPair(rh, swan, "ours-initiates");
        await waitForLogText(swan, reason, 20_000);
        await waitForLogText(
          swan,
          /generating IKE_AUTH response \d+ \[ N\(AUTH_FAILED\) \]/,
          5_000,
        );
        await rh.waitForLog(
          new RegExp(
            `fqdn:${escapeRegExp(GW_P256.fqdn)} refused our authentication ` +
              `\\(AUTHENTICATION_FAILED\\)`,
          ),
          10_000,
        );
        assertEquals((await swan.listSas()).filter((sa) => sa.state === "ESTABLISHED").length, 0);
        await rh.stop();
        const log = await rh.logText();
        assert(!/IKE_SA established/.test(log), "we established an IKE SA");
        assert(!/CHILD_SA installed/.test(log), "we installed a CHILD_SA");
        artifacts.passed();
      }, { timeoutMs: 60_000 }),
  });
}
