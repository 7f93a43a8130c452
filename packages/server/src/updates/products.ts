/**
 * The one place the updates domain reads products and releases from: when they move to their
 * own `products/` domain folder, only this line changes.
 */
export {
  type Product,
  productById,
  type Release,
  type ReleaseClassification,
  releaseById,
} from "../products/products.ts";
