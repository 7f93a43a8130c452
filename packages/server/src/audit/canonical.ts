export { canonicalJson } from "@bulwark/sdk/audit/canonical";
