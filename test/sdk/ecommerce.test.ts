import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { flush, init, on, track } from "../../sdk/client";
import {
  cartViewed,
  checkoutStarted,
  couponApplied,
  orderCompleted,
  productAdded,
  productRemoved,
  productShared,
  productViewed,
} from "../../sdk/ecommerce";
import { fakeServer, freshPage } from "./helpers";

beforeEach(freshPage);
afterEach(() => vi.restoreAllMocks());

const ENDPOINT = "https://nudge.example";
const start = () => init({ key: "pk_test", endpoint: ENDPOINT, trackPages: false });

describe("cart helpers (Segment E-commerce Spec v2)", () => {
  it("should name each event as the spec does", async () => {
    const server = fakeServer(200);
    start();
    const p = { product_id: "E7247", price: 79 };
    productViewed(p);
    productAdded(p);
    productRemoved(p);
    cartViewed({ cart_id: "c1", products: [p] });
    checkoutStarted({ order_id: "o1", products: [p] });
    couponApplied({ coupon_id: "DISC10", discount: 7.9 });
    orderCompleted({ order_id: "o1", products: [p] });
    productShared({ ...p, share_via: "email" });
    await flush();
    expect(server.events().map((e) => e.event)).toEqual([
      "Product Viewed",
      "Product Added",
      "Product Removed",
      "Cart Viewed",
      "Checkout Started",
      "Coupon Applied",
      "Order Completed",
      "Product Shared",
    ]);
  });

  it("should normalise what stores commonly pass: id, string prices, no quantity", async () => {
    const server = fakeServer(200);
    start();
    productAdded({ id: 7247, price: "79.50" as never, cart_id: "c1" });
    await flush();
    expect(server.events()[0]?.properties).toEqual({ product_id: "7247", price: 79.5, quantity: 1, cart_id: "c1" });
  });

  it("should fill order totals from the products: subtotal, revenue after discount, total with shipping and tax", async () => {
    const server = fakeServer(200);
    start();
    orderCompleted({
      order_id: "o1",
      currency: "GBP",
      discount: 2,
      shipping: 4.5,
      tax: 1,
      products: [
        { product_id: "A", price: 10, quantity: 2 },
        { product_id: "B", price: 0.1, quantity: 3 },
      ],
    });
    checkoutStarted({ order_id: "o2", total: 99, products: [{ product_id: "A", price: 10 }] });
    await flush();
    const [order, checkout] = server.events();
    expect(order?.properties).toMatchObject({ subtotal: 20.3, revenue: 18.3, total: 23.8, currency: "GBP" });
    // What the store states wins over what the helper would compute.
    expect(checkout?.properties).toMatchObject({ subtotal: 10, revenue: 10, total: 99 });
  });

  it("should never throw into the page, whatever the input", () => {
    fakeServer(200);
    vi.spyOn(console, "warn").mockImplementation(() => {}); // dev warnings about missing ids
    start();
    const helpers = [productViewed, productAdded, productRemoved, cartViewed, checkoutStarted, orderCompleted];
    fc.assert(
      fc.property(fc.anything(), (input) => {
        for (const helper of helpers) expect(() => helper(input as never)).not.toThrow();
      }),
      { numRuns: 200 },
    );
  });
});

describe("development warnings", () => {
  it("should point at the spec name when an event is spelled differently (dev build only)", () => {
    fakeServer(200);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const errors = vi.fn();
    on("error", errors);
    start();
    track("product_added", {});
    track("Product Added", {});
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toContain('did you mean the spec name "Product Added"');
    expect(errors).not.toHaveBeenCalled();
  });
});
