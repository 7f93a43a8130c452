import { BulwarkError, type ErrorCode, errorCatalogue, toProblem } from "@bulwark/sdk/errors";
import type { FastifyError, FastifyInstance } from "fastify";

// Fastify's own error codes mapped onto the catalogue; anything else is internal.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "BW_ERR_PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "BW_ERR_UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "BW_ERR_VALIDATION",
  FST_ERR_CTP_EMPTY_JSON_BODY: "BW_ERR_VALIDATION",
  FST_ERR_CTP_INVALID_JSON_BODY: "BW_ERR_VALIDATION",
  FST_ERR_VALIDATION: "BW_ERR_VALIDATION",
};

function asBulwarkError(error: FastifyError): BulwarkError {
  if (error instanceof BulwarkError) return error;
  if (error.validation)
    return new BulwarkError("BW_ERR_VALIDATION", `${error.validationContext ?? "request"} ${error.message}`);
  const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
  if (mapped)
    return new BulwarkError(
      mapped,
      mapped === "BW_ERR_VALIDATION" ? "the body is not valid JSON" : undefined,
    );
  if (error.statusCode === 400 && /JSON/.test(error.message))
    return new BulwarkError("BW_ERR_VALIDATION", "the body is not valid JSON");
  return new BulwarkError("BW_ERR_INTERNAL", undefined, { cause: error });
}

/** RFC 9457: every error leaves as application/problem+json; the internal cause only goes to the log. */
export function problemDetails(app: FastifyInstance): void {
  app.setErrorHandler((raw: FastifyError, request, reply) => {
    const error = asBulwarkError(raw);
    if (error.status >= 500) request.log.error({ err: raw, code: error.code }, "request failed");
    else request.log.info({ code: error.code, reason: raw.message }, "request refused");
    // RFC 9110 §11.6.1: say which scheme would work (EST takes the token as a Basic password).
    if (error.status === 401)
      reply.header(
        "www-authenticate",
        request.url.startsWith("/.well-known/est/") ? 'Basic realm="bulwark-est"' : 'Bearer realm="bulwark"',
      );
    reply.code(error.status).type("application/problem+json").send(toProblem(error, request.url));
  });
  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .type("application/problem+json")
      .send(toProblem(new BulwarkError("BW_ERR_ROUTE_NOT_FOUND"), request.url));
  });
  app.get("/problems/:code", { config: { auth: { public: true } } }, async (request) => {
    const { code } = request.params as { code: string };
    if (!(code in errorCatalogue)) throw new BulwarkError("BW_ERR_NOT_FOUND");
    return { code, ...errorCatalogue[code as ErrorCode] };
  });
}
