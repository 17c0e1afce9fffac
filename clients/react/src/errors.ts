import type { Problem } from "./types.js";

/**
 * A refusal from Coffer, carrying the problem body (CONTRACT §3): `status` is
 * the HTTP status, `code` the stable machine code (`unauthorized`,
 * `forbidden`, `validation_error`, ...).
 */
export class CofferError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem | null;

  constructor(status: number, problem: Problem | null) {
    super(problem?.detail ?? problem?.title ?? `Coffer answered HTTP ${status}`);
    this.name = "CofferError";
    this.status = status;
    this.code = problem?.code ?? `http_${status}`;
    this.problem = problem;
  }
}

/** Reads an error response as a CofferError, whatever its body turns out to be. */
export async function errorFrom(response: Response): Promise<CofferError> {
  let problem: Problem | null = null;
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object" && "code" in body) problem = body as Problem;
  } catch {
    // not JSON (a proxy's HTML page, say): the status alone has to do
  }
  return new CofferError(response.status, problem);
}
