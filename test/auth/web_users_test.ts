/** Web-user passwords: scrypt hashes in the auth.xml format, checked behind the seam. */
import { assert, assertEquals } from "../_assert.ts";
import { hashPassword, LocalWebUserService, verifyPassword } from "../../lib/auth/mod.ts";
import { parseScryptHash, type WebUserConfig } from "../../lib/config/mod.ts";

const FAST = { n: 1024, r: 8, p: 1 };

async function user(name: string, password: string, realm: "any" | number) {
  const hash = parseScryptHash(await hashPassword(password, FAST));
  assert(typeof hash !== "string", String(hash));
  return { user: name, hash, realm } satisfies WebUserConfig;
}

Deno.test("hashPassword writes scrypt$N$r$p$salt$hash with a fresh salt; default N is 32768", async () => {
  const a = await hashPassword("same password", FAST);
  const b = await hashPassword("same password", FAST);
  assert(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/.test(a), a);
  assert(a !== b, "two hashes of one password differ (random salt)");
  assert(!a.includes("same password"));
  const strong = await hashPassword("x", {});
  assert(strong.startsWith("scrypt$32768$8$1$"), strong);
});

Deno.test("verifyPassword accepts the password and refuses any other", async () => {
  const hash = parseScryptHash(await hashPassword("pässwörd 1", FAST));
  assert(typeof hash !== "string");
  assertEquals(await verifyPassword("pässwörd 1", hash), true);
  assertEquals(await verifyPassword("pässwörd 2", hash), false);
  assertEquals(await verifyPassword("", hash), false);
});

Deno.test("LocalWebUserService grants the user's realm, refuses wrong passwords and unknown users", async () => {
  const service = new LocalWebUserService({
    admins: [await user("admin", "admin password", "any"), await user("ops", "ops pw", 2)],
  });
  assertEquals(await service.verifyWebUser("admin", "admin password"), {
    user: "admin",
    realm: "any",
  });
  assertEquals(await service.verifyWebUser("ops", "ops pw"), { user: "ops", realm: 2 });
  assertEquals(await service.verifyWebUser("ops", "admin password"), null);
  assertEquals(await service.verifyWebUser("nobody", "ops pw"), null);
  // Cached success does not open the door for a different password.
  assertEquals(await service.verifyWebUser("admin", "admin password"), {
    user: "admin",
    realm: "any",
  });
  assertEquals(await service.verifyWebUser("admin", "admin passwort"), null);
  assertEquals(new LocalWebUserService({}).size, 0);
});
