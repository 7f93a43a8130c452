/**
 * The one place the CRA compliance layer reads products and releases from. Products move to a
 * `products/` domain of their own; when they do, only this line changes.
 */
export { listReleases, type Product, productById, type Release, releaseById } from "./products.ts";
