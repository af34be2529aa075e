/**
 * One catalogue of the errors Amends raises on purpose. Each has a stable code a user can
 * search for and an HTTP status; the HTTP edge turns them into application/problem+json.
 */
export const ERROR_CATALOGUE = {
  VALIDATION_FAILED: { status: 400, title: "The request is not valid" },
  UNAUTHENTICATED: { status: 401, title: "A valid bearer token is required" },
  FORBIDDEN: { status: 403, title: "This token may not do that" },
  FOUR_EYES: { status: 403, title: "A second person must approve this" },
  NOT_FOUND: { status: 404, title: "Not found" },
  CONFLICT: { status: 409, title: "The request conflicts with the current state" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "The request body is too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Send JSON (Content-Type: application/json)" },
  // 400 like any other bad field: the request is wrong, whatever it names (a component, a monitor, a parent).
  UNKNOWN_REFERENCE: { status: 400, title: "The request refers to something that does not exist" },
  RATE_LIMITED: { status: 429, title: "Too many requests" },
  INTERNAL: { status: 500, title: "Internal error" },
  UNAVAILABLE: { status: 503, title: "A dependency is unavailable" },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface FieldError {
  /** Dotted path of the offending field, e.g. `components.0.status`. */
  field: string;
  message: string;
  /** For errors in a file (a CSV row, a YAML policy): where, 1-based. */
  line?: number;
  column?: number;
}

export class AmendsError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly fields: FieldError[] = [],
  ) {
    super(message ?? ERROR_CATALOGUE[code].title);
    this.name = "AmendsError";
    this.status = ERROR_CATALOGUE[code].status;
    this.title = ERROR_CATALOGUE[code].title;
  }
}

export function invalidField(field: string, message: string): AmendsError {
  return new AmendsError("VALIDATION_FAILED", `${field}: ${message}`, [{ field, message }]);
}

export function unknownReference(field: string, kind: string, id: string): AmendsError {
  const message = `no ${kind} with id "${id}"`;
  return new AmendsError("UNKNOWN_REFERENCE", `${field}: ${message}`, [{ field, message }]);
}

export function notFound(kind: string, id: string): AmendsError {
  return new AmendsError("NOT_FOUND", `no ${kind} with id "${id}"`);
}

export function conflict(message: string, field?: string): AmendsError {
  return new AmendsError("CONFLICT", message, field ? [{ field, message }] : []);
}
