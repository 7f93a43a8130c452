/** JSON Schema of `POST /api/v1/deployments` (validated at the edge; semantics in deployment-create.ts). */
const NAME = { type: "string", minLength: 1, maxLength: 128 } as const;

const STRATEGY = {
  oneOf: [
    {
      type: "object",
      additionalProperties: false,
      required: ["kind"],
      properties: { kind: { const: "all-at-once" } },
    },
    {
      type: "object",
      additionalProperties: false,
      required: ["kind", "waves"],
      properties: {
        kind: { const: "waves" },
        waves: {
          type: "array",
          minItems: 1,
          maxItems: 20,
          items: { type: "number", exclusiveMinimum: 0, maximum: 100 },
        },
        successGate: { type: "number", minimum: 0, maximum: 1 },
        pauseAfterWave: { type: "boolean" },
      },
    },
    {
      type: "object",
      additionalProperties: false,
      required: ["kind", "perMinute"],
      properties: { kind: { const: "rate" }, perMinute: { type: "integer", minimum: 1, maximum: 1_000_000 } },
    },
    {
      type: "object",
      additionalProperties: false,
      required: ["kind", "initial", "factor", "intervalSeconds"],
      properties: {
        kind: { const: "exponential" },
        initial: { type: "integer", minimum: 1, maximum: 1_000_000 },
        factor: { type: "number", minimum: 1.01, maximum: 100 },
        intervalSeconds: { type: "integer", minimum: 1, maximum: 7 * 24 * 3600 },
      },
    },
  ],
} as const;

export const DEPLOYMENT_BODY = {
  type: "object",
  additionalProperties: false,
  required: ["releaseId"],
  properties: {
    releaseId: { type: "string", format: "uuid" },
    group: NAME,
    devices: {
      type: "array",
      minItems: 1,
      maxItems: 100_000,
      uniqueItems: true,
      items: { type: "string", format: "uuid" },
    },
    query: {
      type: "object",
      additionalProperties: false,
      minProperties: 1,
      properties: { group: NAME, hardwareRevision: NAME, model: NAME },
    },
    strategy: STRATEGY,
    abort: {
      type: "object",
      additionalProperties: false,
      required: ["failureRate", "minCount"],
      properties: {
        failureRate: { type: "number", minimum: 0, maximum: 1 },
        minCount: { type: "integer", minimum: 1, maximum: 1_000_000 },
        count: {
          type: "array",
          minItems: 1,
          uniqueItems: true,
          items: { enum: ["failed", "rejected", "timed_out", "rolled_back"] },
        },
      },
    },
    window: {
      anyOf: [
        { type: "null" },
        {
          type: "object",
          additionalProperties: false,
          required: ["cron", "timeZone", "durationMinutes"],
          properties: {
            cron: { type: "string", minLength: 9, maxLength: 128 },
            timeZone: { type: "string", minLength: 1, maxLength: 64 },
            durationMinutes: { type: "integer", minimum: 5, maximum: 24 * 60 },
          },
        },
      ],
    },
    network: {
      type: "object",
      additionalProperties: false,
      required: ["metered"],
      properties: {
        metered: { enum: ["allow", "deny", "cap"] },
        maxMeteredBytes: { type: "integer", minimum: 1 },
      },
    },
    maxDeferralSeconds: { type: "integer", minimum: 0, maximum: 90 * 24 * 3600 },
    jobTimeoutSeconds: { type: "integer", minimum: 1, maximum: 90 * 24 * 3600 },
    rollback: { type: "boolean" },
    delta: { enum: ["off", "prefer", "require"] },
  },
} as const;
