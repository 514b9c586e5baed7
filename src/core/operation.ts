import { z } from "zod";
import { ERROR_MESSAGES, RefreshError, failure, type Failure } from "./errors";
import type { Logger } from "./logger";
import { describeIssues } from "./validation";

/** Errors of the services below us, recognised by their codes so that the answer can say which one is down. */
const STORE_DOWN = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|57P01|57P03|08\d{3}|Connection terminated/;

/**
 * Wraps one operation: parse the input with zod (nothing runs on bad input), run the body, and turn every
 * failure into `{ success: false, error, code }` — an expected one with its own sentence, an unexpected one
 * logged and answered with a generic sentence that leaks nothing.
 */
export function defineOperation<S extends z.ZodType, R extends object>(
  name: string,
  schema: S,
  logger: Logger,
  body: (input: z.output<S>) => Promise<R | Failure>,
): (input: z.input<S>) => Promise<R | Failure> {
  return async (input) => {
    const parsed = schema.safeParse(input);
    if (!parsed.success) return failure("INVALID_INPUT", `Invalid input: ${describeIssues(parsed.error)}.`);
    try {
      return await body(parsed.data);
    } catch (error) {
      return failureFor(error, name, logger);
    }
  };
}

export function failureFor(error: unknown, operation: string, logger: Logger): Failure {
  if (error instanceof RefreshError) return failure(error.code, error.message);
  const text = error instanceof Error ? `${error.message} ${(error as { code?: string }).code ?? ""}` : "";
  if (/MaxRetriesPerRequest|Connection is closed|Redis/i.test(text)) {
    logger.error({ operation, err: text }, "Redis is not reachable");
    return failure("QUEUE_UNAVAILABLE");
  }
  if (STORE_DOWN.test(text)) {
    logger.error({ operation, err: text }, "PostgreSQL is not reachable");
    return failure("STORE_UNAVAILABLE");
  }
  logger.error({ operation, err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) }, "operation failed");
  return failure("INTERNAL", ERROR_MESSAGES.INTERNAL);
}
