// The package ships no types; this is the part of its API the broker wiring uses.
declare module "aedes-persistence-redis" {
  import type { Redis } from "ioredis";

  interface RedisPersistenceOptions {
    conn?: Redis;
    maxSessionDelivery?: number;
  }
  export default function persistence(options?: RedisPersistenceOptions): unknown;
}
