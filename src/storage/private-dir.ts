import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The directory of a private service this server starts (the embedded redis-server, the
 * embedded history store) and the password that keeps other local users out of it: any local
 * process can reach a loopback port, so each requires a password kept in its directory.
 */

export const PASSWORD_FILE = "password";

/** Creates `dir` (and its parents) readable by us alone, even where the umask would let others in. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * The password in `<dir>/password`: 32 random bytes (hex) generated on the first start and
 * reused, so that the user's own clients keep working across restarts. The file is (re)set to
 * 0600 each time, in case a copy was restored with wider permissions.
 */
export function ensurePassword(dir: string): string {
  const file = join(dir, PASSWORD_FILE);
  try {
    writeFileSync(file, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  chmodSync(file, 0o600);
  const password = readFileSync(file, "utf8").trim();
  // Hex needs no quoting in a config file nor escaping in a URL.
  if (!/^[0-9a-f]{64}$/.test(password))
    throw new Error(`${file} does not hold 64 hex digits: delete it and a new password is generated`);
  return password;
}
