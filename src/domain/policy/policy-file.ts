import { existsSync, readFileSync, statSync } from "node:fs";
import { z } from "zod";

/**
 * The project's policy: built-in defaults plus `.claudebench/policy.json`. The file is read
 * again when it changes (checked at most once a second); a file that does not validate is
 * reported with its problems and the last good policy stays in force.
 */

const ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const userRule = z
  .object({
    id: z.string().regex(ID, "lower-case id: letters, digits, . _ -"),
    tool: z
      .string()
      .min(1)
      .default("*")
      .describe("Tool name glob, alternatives with |: 'Write|Edit', 'mcp__*__delete*'"),
    command: z
      .string()
      .min(1)
      .optional()
      .describe("Glob over one simple shell command (program and arguments): * matches any text, / included"),
    path: z
      .string()
      .min(1)
      .optional()
      .describe("Glob over a file path the tool writes, reads or deletes: * within a segment, ** across"),
    decision: z.enum(["deny", "ask", "warn", "allow"]),
    reason: z.string().min(1).max(500),
  })
  // a misspelt field would be dropped and the rule widened (an allow rule would waive everything)
  .strict();

const promptRule = z
  .object({
    id: z.string().regex(ID),
    match: z
      .string()
      .min(1)
      .refine((p) => {
        try {
          new RegExp(p, "i");
          return true;
        } catch {
          return false;
        }
      }, "not a valid regular expression"),
    decision: z.enum(["block", "warn"]),
    reason: z.string().min(1).max(500),
  })
  .strict();

const policySchema = z
  .object({
    protectedBranches: z.array(z.string().min(1)).default(["main", "master"]),
    /** Built-in rule ids to turn off. */
    disable: z.array(z.string()).default([]),
    rules: z.array(userRule).default([]),
    prompt: z.array(promptRule).default([]),
    /** `strip`: remove sudo (a modify decision); `keep`: leave it. */
    sudo: z.enum(["strip", "keep"]).default("strip"),
    /** What the command bridge does when the server cannot be reached. */
    onServerUnavailable: z.enum(["allow", "block"]).default("allow"),
  })
  .strict();

export type Policy = z.infer<typeof policySchema>;
export type UserRule = Policy["rules"][number];

export const DEFAULT_POLICY: Policy = policySchema.parse({});

export class PolicyFileError extends Error {
  override name = "PolicyFileError";
}

export function parsePolicy(text: string, path: string): Policy {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PolicyFileError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new PolicyFileError(`${path}: ${problems.join("; ")}`);
  }
  return parsed.data;
}

/** The policy in force, re-read when its file changes. */
class PolicySource {
  #policy: Policy = DEFAULT_POLICY;
  #mtime = -1;
  #checkedAt = 0;
  #error: string | null = null;

  constructor(
    readonly path: string | null,
    private readonly onError: (message: string) => void,
  ) {}

  /** The last problem with the file, if it does not validate. */
  get error(): string | null {
    return this.#error;
  }

  current(): Policy {
    if (!this.path) return this.#policy;
    const now = Date.now();
    if (now - this.#checkedAt < 1000) return this.#policy;
    this.#checkedAt = now;
    let mtime: number;
    try {
      mtime = statSync(this.path).mtimeMs;
    } catch {
      if (this.#mtime !== 0) this.#policy = DEFAULT_POLICY;
      this.#mtime = 0; // no file: the defaults
      this.#error = null;
      return this.#policy;
    }
    if (mtime === this.#mtime) return this.#policy;
    this.#mtime = mtime;
    try {
      this.#policy = parsePolicy(readFileSync(this.path, "utf8"), this.path);
      this.#error = null;
    } catch (err) {
      this.#error = (err as Error).message;
      this.onError(`${this.#error} — keeping the previous policy`);
    }
    return this.#policy;
  }
}

/**
 * One policy per project: `<cwd>/.claudebench/policy.json` when a session's project has one,
 * else the server's own file (POLICY_FILE), else the defaults.
 */
export class ProjectPolicies {
  readonly #sources = new Map<string, PolicySource>();
  readonly #fallback: PolicySource;

  constructor(
    serverFile: string | null,
    private readonly onError: (message: string) => void,
  ) {
    this.#fallback = new PolicySource(serverFile, onError);
  }

  for(cwd: string | undefined): PolicySource {
    if (!cwd?.startsWith("/")) return this.#fallback;
    const path = `${cwd.replace(/\/+$/, "")}/.claudebench/policy.json`;
    let source = this.#sources.get(path);
    if (!source) {
      source = new PolicySource(path, this.onError);
      this.#sources.set(path, source);
    }
    return existsSync(path) ? source : this.#fallback;
  }
}
