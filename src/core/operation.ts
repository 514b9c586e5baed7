import { z } from "zod";
import { EnvelopeError } from "./crypto";
import { ERROR_MESSAGES, RefreshError, failure, type Failure } from "./errors";
import type { Logger } from "./logger";
import { describeIssues } from "./validation";

// SQLSTATE classes of a database that is down or refusing connections (08: connection exception, 57P: operator
// intervention, 53: insufficient resources) and Node's network error codes.
const STORE_DOWN = /^(08|57P|53)|^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE)$/;

/** The errors down a `cause` chain: Drizzle wraps the driver's error (and its message carries the query's parameters). */
function causes(error: unknown): Array<Error & { code?: string }> {
  const chain: Array<Error & { code?: string }> = [];
  for (let current = error; current instanceof Error && chain.length < 5; current = current.cause) chain.push(current);
  return chain;
}

/**
 * Wraps one operation: parse the input with zod (nothing runs on bad input), run the body, and turn every
 * failure into `{ success: false, error, code }` — an expected one with its own sentence, an unexpected one
 * logged and answered with a generic sentence that leaks nothing. Arguments after the input (`context`) are passed
 * through unparsed: they come from trusted code, never from the caller's data (e.g. which API key reads a token).
 */
export function defineOperation<S extends z.ZodType, R extends object, C extends unknown[] = []>(
  name: string,
  schema: S,
  logger: Logger,
  body: (input: z.output<S>, ...context: C) => Promise<R | Failure>,
): (input: z.input<S>, ...context: C) => Promise<R | Failure> {
  return async (input, ...context) => {
    const parsed = schema.safeParse(input);
    if (!parsed.success) return failure("INVALID_INPUT", `Invalid input: ${describeIssues(parsed.error)}.`);
    try {
      return await body(parsed.data, ...context);
    } catch (error) {
      return failureFor(error, name, logger);
    }
  };
}

export function failureFor(error: unknown, operation: string, logger: Pick<Logger, "error">): Failure {
  if (error instanceof RefreshError) return failure(error.code, error.message);
  if (error instanceof EnvelopeError) {
    logger.error({ operation, reason: error.reason, err: error.message }, "credentials could not be decrypted");
    return failure("CREDENTIALS_UNREADABLE");
  }
  const chain = causes(error);
  const root = chain.at(-1);
  if (chain.some((e) => e.name === "MaxRetriesPerRequestError" || /Connection is closed|Redis/i.test(e.message))) {
    logger.error({ operation, err: root?.message }, "Redis is not reachable");
    return failure("QUEUE_UNAVAILABLE");
  }
  if (chain.some((e) => typeof e.code === "string" && STORE_DOWN.test(e.code))) {
    logger.error({ operation, code: root?.code, err: root?.message }, "PostgreSQL is not reachable");
    return failure("STORE_UNAVAILABLE");
  }
  // Only the innermost error is logged: outer wrappers may quote query parameters.
  logger.error({ operation, err: root ? { name: root.name, message: root.message, code: root.code, stack: root.stack } : String(error) }, "operation failed");
  return failure("INTERNAL", ERROR_MESSAGES.INTERNAL);
}
