/**
 * vitest globalSetup: a real Coffer for the hook's tests. Starts `coffer serve`
 * (API + worker in one process, a fresh SQLite file) from the repository's
 * virtualenv on a free port, creates a tenant, and hands its address and keys
 * to the tests through `inject("coffer")`. No fetch is mocked anywhere.
 *
 * The coffer command: $COFFER_BIN, else ../../.venv/bin/coffer (what
 * `bash scripts/test` creates), else `coffer` on PATH.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

export interface CofferUnderTest {
  baseUrl: string;
  adminKey: string;
  serverKey: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    coffer: CofferUnderTest;
  }
}

const here = dirname(fileURLToPath(import.meta.url));

function cofferBin(): string {
  if (process.env.COFFER_BIN) return process.env.COFFER_BIN;
  const venv = resolve(here, "../../../.venv/bin/coffer");
  return existsSync(venv) ? venv : "coffer";
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address ? address.port : 0));
    });
  });
}

async function waitUntilUp(baseUrl: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`coffer serve exited ${child.exitCode}:\n${readFileSync(log, "utf8")}`);
    }
    try {
      if ((await fetch(`${baseUrl}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`coffer serve did not answer within 30 s:\n${readFileSync(log, "utf8")}`);
}

export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), "coffer-react-"));
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("COFFER_")),
  );
  Object.assign(env, {
    COFFER_DATABASE_URL: `sqlite:///${join(dir, "coffer.db")}`,
    COFFER_RATE_LIMIT: "100000/second",
    COFFER_LOG_LEVEL: "WARNING",
  });
  const bin = cofferBin();
  const created = JSON.parse(
    execFileSync(bin, ["tenants", "create", "react-hook-tests", "--json"], { cwd: dir, env })
      .toString(),
  );
  const port = await freePort();
  const log = join(dir, "serve.log");
  const out = openSync(log, "a");
  const args = ["serve", "--port", String(port), "--threads", "8"];
  // setpriv: the kernel kills Coffer if vitest dies without running the teardown
  const [command, argv] = existsSync("/usr/bin/setpriv")
    ? ["/usr/bin/setpriv", ["--pdeathsig", "SIGKILL", "--", bin, ...args]]
    : [bin, args];
  const child = spawn(command, argv, { cwd: dir, env, stdio: ["ignore", out, out] });
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(baseUrl, child, log);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  project.provide("coffer", {
    baseUrl,
    adminKey: created.keys.live.admin,
    serverKey: created.keys.live.server,
  });
  return () => {
    child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
}
