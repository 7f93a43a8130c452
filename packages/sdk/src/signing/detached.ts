/** Kept for existing importers: release signatures now live in `@bulwark/sdk/sign` (`sign/release.ts`). */
export * from "../sign/release.ts";
