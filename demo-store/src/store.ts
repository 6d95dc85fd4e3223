/**
 * The demo shop: one script for every shop page (catalogue, product, cart, checkout), chosen by
 * `<body data-page>`. It talks to Nudge only through `window.nudge`, exactly as a merchant would,
 * and keeps working when the SDK is blocked: every call goes through `nudge()` below.
 */
import { CATEGORIES, findProduct, PRODUCTS, type Product } from "./catalogue";

declare global {
  interface Window {
    nudge: (command: string, ...args: unknown[]) => void;
  }
}

type CartLine = { id: string; quantity: number };
type User = { email: string; name?: string; size?: string };
type Checkout = { cart_id: string; order_id: string; checkout_id: string };

const KEYS = {
  cart: "demo:cart",
  cartId: "demo:cart_id",
  user: "demo:user",
  checkout: "demo:checkout",
  coupons: "demo:coupons",
  /** A referral code from a shared link (`?ref=`), kept until the next order. */
  referral: "demo:ref",
};
/** Set by the demo panel: report orders from the browser (the site then trusts browser orders). */
const BROWSER_ORDERS = "demo:browser-orders";
const MAX_QUANTITY = 10;
/** The site's public key, the same one the snippet is initialised with. */
const NUDGE_KEY = "pk_demo";
/** Flat UK delivery; promotions (e.g. free delivery over £100) may waive it. */
const SHIPPING = 495;
const gbp = new Intl.NumberFormat("en-GB", { style: "currency", currency: "GBP" });

// ---------------------------------------------------------------------------------------------
// Nudge, storage and small helpers

/** Forwards to the snippet's queue. A blocked or broken SDK must never break the shop. */
function nudge(command: string, ...args: unknown[]): void {
  try {
    if (typeof window.nudge === "function") window.nudge(command, ...args);
  } catch (error) {
    console.warn("[demo-store] nudge call failed:", error);
  }
}

// Storage can throw (Safari private mode, quota, disabled cookies); fall back to memory so the
// current page still works.
const memory = new Map<string, string>();

function load(key: string): unknown {
  let raw: string | null | undefined;
  try {
    raw = localStorage.getItem(key);
  } catch {
    raw = memory.get(key);
  }
  if (raw == null) return null;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

function save(key: string, value: unknown): void {
  const raw = JSON.stringify(value);
  memory.set(key, raw);
  try {
    localStorage.setItem(key, raw);
  } catch {
    // Kept in memory only.
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Random id such as `ORD-K3J9X0Q2ZL`; base36 keeps it short and readable in emails. */
function randomId(prefix: string, length = 10): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return (
    prefix +
    Array.from(bytes, (b) => (b % 36).toString(36))
      .join("")
      .toUpperCase()
  );
}

const money = (pence: number): string => gbp.format(pence / 100);
const absolute = (path: string): string => location.origin + path;
const productPath = (id: string): string => `/product?id=${encodeURIComponent(id)}`;

type Child = Node | string | null | undefined | false;

/** createElement with attributes and children; strings become text nodes, so data is always escaped. */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined) el.setAttribute(name, value);
  for (const child of children) if (child) el.append(child);
  return el;
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T | null {
  return document.getElementById(id) as T | null;
}

// ---------------------------------------------------------------------------------------------
// Cart and user state

/** Validates cart lines from storage or a restore link: known ids, whole quantities, merged. */
function parseLines(raw: unknown, idKey: "id" | "product_id"): CartLine[] {
  if (!Array.isArray(raw)) return [];
  const lines = new Map<string, number>();
  for (const item of raw) {
    if (!isRecord(item)) continue;
    const id = item[idKey];
    const quantity = item.quantity ?? 1;
    if (typeof id !== "string" || !findProduct(id)) continue;
    if (typeof quantity !== "number" || !Number.isInteger(quantity) || quantity < 1) continue;
    lines.set(id, Math.min(MAX_QUANTITY, (lines.get(id) ?? 0) + quantity));
  }
  return Array.from(lines, ([id, quantity]) => ({ id, quantity }));
}

const readCart = (): CartLine[] => parseLines(load(KEYS.cart), "id");

function writeCart(lines: CartLine[]): void {
  save(KEYS.cart, lines);
  renderCartCount();
}

function cartId(): string {
  const stored = load(KEYS.cartId);
  if (typeof stored === "string" && stored) return stored;
  const id = randomId("cart_").toLowerCase();
  save(KEYS.cartId, id);
  return id;
}

/** Each line joined with its product; lines whose product vanished from the catalogue are dropped. */
function cartItems(lines = readCart()): { product: Product; quantity: number }[] {
  return lines.flatMap(({ id, quantity }) => {
    const product = findProduct(id);
    return product ? [{ product, quantity }] : [];
  });
}

const subtotalOf = (items: { product: Product; quantity: number }[]): number =>
  items.reduce((sum, { product, quantity }) => sum + product.price * quantity, 0);

function readUser(): User | null {
  const raw = load(KEYS.user);
  if (!isRecord(raw) || typeof raw.email !== "string" || !raw.email) return null;
  return {
    email: raw.email,
    ...(typeof raw.name === "string" && raw.name ? { name: raw.name } : {}),
    ...(typeof raw.size === "string" && raw.size ? { size: raw.size } : {}),
  };
}

/** Identifies the shopper to Nudge (their size is a trait, for the loyalty mail's showcase). */
function signIn(email: string, name: string, size = ""): void {
  const user: User = { email, ...(name ? { name } : {}), ...(size ? { size } : {}) };
  nudge("identify", user);
  save(KEYS.user, user);
  renderUser();
}

// ---------------------------------------------------------------------------------------------
// Event payloads (Segment e-commerce spec v2: prices in major units)

function eventProduct(product: Product, quantity: number) {
  return {
    product_id: product.id,
    sku: product.id,
    name: product.name,
    category: product.category,
    price: product.price / 100,
    quantity,
    url: absolute(productPath(product.id)),
    image_url: absolute(product.image),
  };
}

const withCurrency = (product: Product, quantity: number) => ({
  ...eventProduct(product, quantity),
  currency: product.currency,
});

function changeQuantity(product: Product, delta: number): void {
  if (delta === 0) return;
  const lines = readCart();
  const line = lines.find((l) => l.id === product.id);
  const current = line?.quantity ?? 0;
  const next = Math.max(0, Math.min(MAX_QUANTITY, current + delta));
  if (next === current) return;
  if (line) line.quantity = next;
  else lines.push({ id: product.id, quantity: next });
  writeCart(lines.filter((l) => l.quantity > 0));
  const event = next > current ? "Product Added" : "Product Removed";
  nudge("track", event, { cart_id: cartId(), ...withCurrency(product, Math.abs(next - current)) });
}

// ---------------------------------------------------------------------------------------------
// Header: cart count, sign-in, notices

function renderCartCount(): void {
  const count = readCart().reduce((sum, l) => sum + l.quantity, 0);
  const badge = byId("cart-count");
  if (badge) badge.textContent = String(count);
  byId("cart-link")?.setAttribute("aria-label", `Cart, ${count} ${count === 1 ? "item" : "items"}`);
}

function renderUser(): void {
  const user = readUser();
  const form = byId<HTMLFormElement>("signin");
  const signedIn = byId("signed-in");
  if (form) form.hidden = user !== null;
  if (!signedIn) return;
  signedIn.hidden = user === null;
  signedIn.replaceChildren();
  if (!user) return;
  const signOut = h("button", { type: "button", class: "link-button" }, "Sign out");
  // Logging out: the SDK forgets the shopper too, so the next person on this browser starts fresh.
  signOut.addEventListener("click", () => {
    save(KEYS.user, null);
    nudge("reset");
    renderUser();
  });
  signedIn.append("Signed in as ", h("strong", {}, user.email), " ", signOut);
}

function setupHeader(): void {
  const form = byId<HTMLFormElement>("signin");
  form?.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const email = String(data.get("email") ?? "").trim();
    if (!email || !form.checkValidity()) {
      form.reportValidity();
      return;
    }
    signIn(email, String(data.get("name") ?? "").trim(), String(data.get("size") ?? ""));
    form.reset();
  });
  // Keep the badge right when the cart changes in another tab.
  addEventListener("storage", (event) => {
    if (event.key === KEYS.cart) renderCartCount();
  });
  renderCartCount();
  renderUser();
}

/**
 * Nudge's onsite widgets open from these launchers (the demo's onsite config maps
 * `[data-nudge-open=…]` clicks to the callback and newsletter widgets); exit intent needs none.
 */
function onsiteLaunchers(): void {
  const footer = document.querySelector(".site-footer .wrap");
  footer?.append(
    h(
      "p",
      { class: "launchers" },
      h("button", { type: "button", class: "button", "data-nudge-open": "callback" }, "Request a callback"),
      " ",
      h("button", { type: "button", class: "button", "data-nudge-open": "newsletter" }, "Get our newsletter"),
    ),
  );
}

/** The exit-intent code Nudge minted for this shopper (README "Onsite widgets"), if any. */
const nudgeCoupon = (): string => {
  try {
    return localStorage.getItem("nudge:coupon") ?? "";
  } catch {
    return "";
  }
};

function forgetNudgeCoupon(): void {
  try {
    localStorage.removeItem("nudge:coupon");
  } catch {
    // Storage off: nothing was kept.
  }
}

function notify(message: string): void {
  const region = byId("toast");
  if (!region) return;
  region.textContent = message;
  region.classList.add("show");
  clearTimeout(Number(region.dataset.timer));
  region.dataset.timer = String(setTimeout(() => region.classList.remove("show"), 3000));
}

// ---------------------------------------------------------------------------------------------
// Cart restore links: ?restore=<base64url JSON [{ product_id, quantity }]>

function decodeRestore(value: string): CartLine[] | null {
  try {
    const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const parsed: unknown = JSON.parse(json);
    return Array.isArray(parsed) ? parseLines(parsed, "product_id") : null;
  } catch {
    return null;
  }
}

/** Applies a restore link. Returns false when the page is navigating to the cart instead. */
function handleRestore(page: string): boolean {
  const url = new URL(location.href);
  const value = url.searchParams.get("restore");
  if (value === null) return true;
  url.searchParams.delete("restore");
  const lines = decodeRestore(value);
  if (lines && lines.length > 0) {
    writeCart(lines);
    if (page !== "cart") {
      // Other params (e.g. campaign attribution) travel along to the cart page.
      location.replace(`/cart${url.search}${url.hash}`);
      return false;
    }
  }
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  if (!lines) notify("Sorry, that cart link could not be read.");
  else if (lines.length === 0) notify("The products in that cart link are no longer available.");
  return true;
}

// ---------------------------------------------------------------------------------------------
// Pricing: Nudge's promotions engine (POST /v1/cart/price) prices the cart and the typed codes

type Priced = {
  lines: { productId: string; name: string; quantity: number; subtotal: number; discount: number; total: number }[];
  promotions: { id: string; label: string; code?: string; discount: number; shippingDiscount: number }[];
  rejected: { code: string; reason: string; message: string }[];
  /** Automatic offers the cart is close to ("spend £21.00 more"). */
  hints?: { id: string; label: string; message: string }[];
  totals: { subtotal: number; discount: number; shipping: number; shippingDiscount: number; total: number };
};

/** The SDK's anonymous id, so codes bound to this visitor and first-order offers are recognised. */
function anonymousId(): string | undefined {
  try {
    return localStorage.getItem("nudge_aid") ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reports an order the way a merchant should: from the shop's own server (the demo's is
 * `/v1/demo-shop/orders`, which sends it to Nudge with the secret key), because anyone can send
 * anything with the public key and Nudge counts orders only from the merchant (SECURITY.md). The
 * demo panel's "Browser orders" switch shows the other way: the site trusts the browser's
 * `Order Completed`. Either way the browser's own events go first, so the order closes the cart
 * they built.
 */
async function reportOrder(email: string, order: Record<string, unknown>): Promise<void> {
  if (load(BROWSER_ORDERS) !== true) {
    try {
      await Promise.resolve(window.nudge?.("flush") as unknown);
      const res = await fetch("/v1/demo-shop/orders", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ anonymousId: anonymousId(), email, order }),
      });
      if (res.ok) return;
    } catch {
      // the shop's backend is unreachable: tell Nudge from the browser, as the fallback
    }
  }
  nudge("track", "Order Completed", order);
  nudge("flush");
}

/** Prices the cart with the site's promotions; null when pricing is unreachable (the shop still sells). */
async function priceCart(items: { product: Product; quantity: number }[], coupons: string[]): Promise<Priced | null> {
  try {
    const res = await fetch("/v1/cart/price", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        writeKey: NUDGE_KEY,
        currency: "GBP",
        shipping: SHIPPING,
        coupons,
        anonymousId: anonymousId(),
        lines: items.map(({ product, quantity }) => ({
          product_id: product.id,
          name: product.name,
          price: product.price,
          quantity,
          categories: [product.category],
        })),
      }),
    });
    if (!res.ok) return null;
    const body: unknown = await res.json();
    return isRecord(body) && isRecord(body.totals) && Array.isArray(body.promotions) ? (body as Priced) : null;
  } catch {
    return null;
  }
}

/** Without the engine: list prices and the flat delivery charge. */
function unpriced(items: { product: Product; quantity: number }[]): Priced {
  const subtotal = subtotalOf(items);
  return {
    lines: items.map(({ product, quantity }) => ({
      productId: product.id,
      name: product.name,
      quantity,
      subtotal: product.price * quantity,
      discount: 0,
      total: product.price * quantity,
    })),
    promotions: [],
    rejected: [],
    totals: { subtotal, discount: 0, shipping: SHIPPING, shippingDiscount: 0, total: subtotal + SHIPPING },
  };
}

/** Lines (with what each saves), the promotions applied, and the totals. */
function pricedSummary(priced: Priced): HTMLElement {
  const t = priced.totals;
  const delivery = t.shipping - t.shippingDiscount;
  return h(
    "div",
    { id: "order-summary" },
    h(
      "ul",
      { class: "summary-lines" },
      ...priced.lines.map((l) =>
        h(
          "li",
          { "data-product-id": l.productId },
          h("span", {}, `${l.quantity} × ${l.name}`),
          h(
            "span",
            {},
            l.discount > 0 ? h("s", { class: "was" }, money(l.subtotal)) : null,
            l.discount > 0 ? " " : null,
            l.total === 0 && l.discount > 0 ? "Free" : money(l.total),
          ),
        ),
      ),
    ),
    priced.promotions.length
      ? h(
          "ul",
          { id: "applied-promotions", class: "promotions", "aria-label": "Offers applied" },
          ...priced.promotions.map((p) =>
            h(
              "li",
              { "data-promotion": p.id },
              h("span", {}, p.label, p.code ? h("span", { class: "code" }, ` (${p.code})`) : null),
              h("span", { class: "saving" }, `−${money(p.discount + p.shippingDiscount)}`),
            ),
          ),
        )
      : null,
    priced.hints?.length
      ? h(
          "ul",
          { id: "offer-hints", class: "hints", "aria-label": "Offers you are close to" },
          ...priced.hints.map((hint) =>
            h("li", { "data-promotion": hint.id }, h("strong", {}, hint.label), ": ", hint.message),
          ),
        )
      : null,
    h(
      "dl",
      { class: "totals" },
      h("dt", {}, "Subtotal"),
      h("dd", {}, money(t.subtotal)),
      ...(t.discount > 0 ? [h("dt", {}, "Discounts"), h("dd", { id: "discount-total" }, `−${money(t.discount)}`)] : []),
      h("dt", {}, "Delivery"),
      h("dd", { id: "delivery" }, delivery === 0 ? "Free" : money(delivery)),
      h("dt", { class: "total" }, "Total"),
      h("dd", { class: "total", id: "order-total" }, money(t.total)),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Pages

function productCard(product: Product): HTMLElement {
  const add = h("button", { type: "button", class: "quick-add", "aria-label": `Add ${product.name} to cart` }, "Add");
  add.addEventListener("click", () => {
    changeQuantity(product, 1);
    notify(`Added ${product.name} to your cart.`);
  });
  return h(
    "article",
    { class: "card", "data-category": product.category },
    h(
      "a",
      { href: productPath(product.id), "data-product": product.id },
      h("img", { src: product.image, alt: "", width: "240", height: "240", loading: "lazy" }),
      h("span", { class: "card-category" }, product.category),
      h("span", { class: "card-name" }, product.name),
    ),
    h("div", { class: "card-foot" }, h("span", { class: "price" }, money(product.price)), add),
  );
}

function renderCatalogue(app: HTMLElement): void {
  const grid = h("div", { class: "grid" }, ...PRODUCTS.map(productCard));
  const filters = h("div", { class: "filters", role: "group", "aria-label": "Filter by category" });
  for (const category of ["All", ...CATEGORIES]) {
    const button = h("button", { type: "button", "aria-pressed": String(category === "All") }, category);
    button.addEventListener("click", () => {
      for (const b of filters.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
      for (const card of grid.querySelectorAll<HTMLElement>(".card")) {
        card.hidden = category !== "All" && card.dataset.category !== category;
      }
    });
    filters.append(button);
  }
  app.replaceChildren(h("h2", { class: "section-title" }, "All products"), filters, grid);
}

function renderProduct(app: HTMLElement): void {
  const product = findProduct(new URLSearchParams(location.search).get("id") ?? "");
  if (!product) {
    app.replaceChildren(
      h("h1", {}, "Product not found"),
      h("p", {}, "We couldn't find that product. ", h("a", { href: "/" }, "Back to the shop")),
    );
    return;
  }
  document.title = `${product.name} · Wavelength`;
  nudge("track", "Product Viewed", withCurrency(product, 1));

  const quantity = h("select", { id: "quantity", name: "quantity" });
  for (let n = 1; n <= MAX_QUANTITY; n++) quantity.append(h("option", { value: String(n) }, String(n)));
  const add = h("button", { type: "submit", id: "add-to-cart", class: "button primary" }, "Add to cart");
  const status = h("p", { class: "add-status", role: "status" });
  const form = h("form", { class: "buy" }, h("label", { for: "quantity" }, "Quantity"), quantity, add);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    changeQuantity(product, Number(quantity.value) || 1);
    status.replaceChildren("Added to your cart. ", h("a", { href: "/cart" }, "View cart"));
  });

  const related = PRODUCTS.filter((p) => p.category === product.category && p.id !== product.id).slice(0, 3);
  app.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/" }, "Shop"), " / ", product.category),
    h(
      "div",
      { class: "product" },
      h("img", { src: product.image, alt: product.name, width: "480", height: "480" }),
      h(
        "div",
        { class: "product-info" },
        h("p", { class: "card-category" }, product.category),
        h("h1", {}, product.name),
        h("p", { class: "product-price" }, money(product.price)),
        h("p", {}, product.description),
        ...(product.sizes ? [h("p", { class: "sizes" }, `Sizes: ${product.sizes.join(" · ")}`)] : []),
        form,
        status,
        h(
          "button",
          {
            type: "button",
            class: "button",
            "data-nudge-open": "friend",
            "data-product-id": product.id,
            "data-product-name": product.name,
            "data-product-price": String(product.price / 100),
          },
          "Send to a friend",
        ),
        h("p", { class: "muted" }, "Free UK delivery on orders over £100 · 30-day returns"),
      ),
    ),
    ...(related.length
      ? [
          h("h2", { class: "section-title" }, "You might also like"),
          h("div", { class: "grid" }, ...related.map(productCard)),
        ]
      : []),
  );
}

function emptyState(title: string): HTMLElement {
  return h(
    "div",
    { class: "empty" },
    h("h1", {}, title),
    h("p", {}, h("a", { href: "/", class: "button primary" }, "Browse the shop")),
  );
}

let pricingRun = 0;

/** List prices at once, then the engine's prices, unless the page was re-rendered meanwhile. */
function summaryWithOffers(items: { product: Product; quantity: number }[]): HTMLElement {
  const slot = h("div", { class: "summary-slot" }, pricedSummary(unpriced(items)));
  const run = ++pricingRun;
  priceCart(items, []).then((priced) => {
    if (priced && run === pricingRun) slot.replaceChildren(pricedSummary(priced));
  });
  return slot;
}

function renderCart(app: HTMLElement): void {
  const items = cartItems();
  if (items.length === 0) {
    app.replaceChildren(emptyState("Your cart is empty"));
    return;
  }
  const list = h("ul", { class: "cart-lines" });
  for (const { product, quantity } of items) {
    const select = h("select", { id: `qty-${product.id}`, "aria-label": `Quantity of ${product.name}` });
    for (let n = 1; n <= Math.max(MAX_QUANTITY, quantity); n++) {
      select.append(h("option", { value: String(n), selected: n === quantity ? "" : undefined }, String(n)));
    }
    select.addEventListener("change", () => {
      changeQuantity(product, Number(select.value) - quantity);
      renderCart(app);
      byId(`qty-${product.id}`)?.focus();
    });
    const remove = h("button", { type: "button", class: "remove", "aria-label": `Remove ${product.name}` }, "Remove");
    remove.addEventListener("click", () => {
      changeQuantity(product, -quantity);
      notify(`Removed ${product.name} from your cart.`);
      renderCart(app);
      byId("cart-title")?.focus();
    });
    list.append(
      h(
        "li",
        { class: "cart-line", "data-product-id": product.id },
        h("img", { src: product.image, alt: "", width: "72", height: "72" }),
        h(
          "div",
          { class: "line-info" },
          h("a", { href: productPath(product.id) }, product.name),
          h("span", { class: "muted" }, `${money(product.price)} each`),
        ),
        select,
        h("span", { class: "line-total" }, money(product.price * quantity)),
        remove,
      ),
    );
  }
  app.replaceChildren(
    h("h1", { id: "cart-title", tabindex: "-1" }, "Your cart"),
    h(
      "div",
      { class: "columns" },
      list,
      h(
        "aside",
        { class: "summary", "aria-label": "Order summary" },
        h("h2", {}, "Summary"),
        summaryWithOffers(items),
        h("a", { href: "/checkout", id: "checkout", class: "button primary block" }, "Checkout"),
        h("a", { href: "/", class: "button block" }, "Continue shopping"),
      ),
    ),
  );
}

function trackCartViewed(): void {
  const items = cartItems();
  nudge("track", "Cart Viewed", {
    cart_id: cartId(),
    products: items.map(({ product, quantity }) => eventProduct(product, quantity)),
    value: subtotalOf(items) / 100,
    currency: "GBP",
  });
}

/** The ids of the checkout in progress, kept while the cart is unchanged so a reload reuses them. */
function currentCheckout(): Checkout {
  const stored = load(KEYS.checkout);
  const cart_id = cartId();
  if (
    isRecord(stored) &&
    stored.cart_id === cart_id &&
    typeof stored.order_id === "string" &&
    typeof stored.checkout_id === "string"
  ) {
    return { cart_id, order_id: stored.order_id, checkout_id: stored.checkout_id };
  }
  const checkout = { cart_id, order_id: randomId("ORD-"), checkout_id: randomId("chk_").toLowerCase() };
  save(KEYS.checkout, checkout);
  return checkout;
}

function field(label: string, attrs: Record<string, string | undefined>): HTMLElement {
  return h("div", { class: "field" }, h("label", { for: attrs.id }, label), h("input", attrs));
}

function readCodes(): string[] {
  const raw = load(KEYS.coupons);
  return Array.isArray(raw) ? raw.filter((c): c is string => typeof c === "string").slice(0, 5) : [];
}

function renderCheckout(app: HTMLElement): void {
  const items = cartItems();
  if (items.length === 0) {
    app.replaceChildren(emptyState("Nothing to check out yet"));
    return;
  }
  const subtotal = subtotalOf(items);
  const products = items.map(({ product, quantity }) => eventProduct(product, quantity));
  const { order_id, checkout_id, cart_id } = currentCheckout();
  nudge("track", "Checkout Started", { cart_id, order_id, value: subtotal / 100, currency: "GBP", products });

  // A code from a link (?coupon=CODE, e.g. in an email) joins the codes the shopper already typed.
  const fromLink = new URLSearchParams(location.search).get("coupon")?.trim().toUpperCase();
  let codes = readCodes();
  if (fromLink && !codes.includes(fromLink)) codes.push(fromLink);
  // Nudge's exit-intent code for this shopper is applied like any other.
  const fromNudge = nudgeCoupon();
  if (fromNudge && !codes.includes(fromNudge)) codes.push(fromNudge);
  const referral = load(KEYS.referral);
  if (typeof referral === "string" && !codes.includes(referral)) codes.push(referral);
  let priced = unpriced(items);
  let pricing: Promise<void> = Promise.resolve();

  const user = readUser();
  const error = h("p", { id: "checkout-error", class: "error", role: "alert" });
  const placeOrder = h(
    "button",
    { type: "submit", id: "place-order", class: "button primary block" },
    `Place order · ${money(priced.totals.total)}`,
  );
  const form = h(
    "form",
    { id: "checkout-form", class: "checkout-form", novalidate: "" },
    h(
      "fieldset",
      {},
      h("legend", {}, "Contact"),
      field("Email", { id: "co-email", name: "email", type: "email", autocomplete: "email", value: user?.email }),
      field("Name", { id: "co-name", name: "name", autocomplete: "name", value: user?.name }),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Delivery"),
      field("Address", { id: "co-address", name: "address", autocomplete: "street-address" }),
      field("Postcode", { id: "co-postcode", name: "postcode", autocomplete: "postal-code" }),
    ),
    h("p", { class: "muted" }, "Demo shop: no payment is taken and nothing is shipped."),
    error,
    placeOrder,
  );

  // Discount codes: a separate form (forms cannot nest), answered with the engine's reasons.
  const slot = h("div", { class: "summary-slot" }, pricedSummary(priced));
  const codeInput = h("input", { id: "coupon-code", name: "coupon", autocomplete: "off", spellcheck: "false" });
  const codeMessage = h("p", { id: "coupon-message", class: "coupon-message", role: "status" });
  const appliedCodes = h("ul", { id: "applied-codes", class: "codes", "aria-label": "Codes applied" });
  const codeForm = h(
    "form",
    { id: "coupon-form", class: "coupon-form" },
    h("label", { for: "coupon-code" }, "Discount code"),
    h(
      "div",
      { class: "coupon-row" },
      codeInput,
      h("button", { type: "submit", id: "apply-coupon", class: "button" }, "Apply"),
    ),
    codeMessage,
    appliedCodes,
  );

  function say(message: string, isError: boolean): void {
    codeMessage.textContent = message;
    codeMessage.classList.toggle("error", isError);
  }

  function show(next: Priced): void {
    priced = next;
    slot.replaceChildren(pricedSummary(next));
    placeOrder.textContent = `Place order · ${money(next.totals.total)}`;
    appliedCodes.replaceChildren(
      ...codes.map((code) => {
        const remove = h(
          "button",
          { type: "button", class: "link-button", "aria-label": `Remove code ${code}` },
          "Remove",
        );
        remove.addEventListener("click", () => {
          codes = codes.filter((c) => c !== code);
          reprice();
          say(`Code ${code} removed.`, false);
        });
        return h("li", {}, h("strong", { class: "code" }, code), " ", remove);
      }),
    );
  }

  /** Prices with the current codes; keeps only the codes that applied and explains the others. */
  function reprice(typed?: string): void {
    // Only the latest answer counts: a slow reply to an earlier code must not undo a later one.
    const run = ++pricingRun;
    pricing = priceCart(items, codes).then((next) => {
      if (run !== pricingRun) return;
      if (!next) {
        if (codes.length) say("Codes can't be checked right now; you can still order at full price.", true);
        codes = [];
        save(KEYS.coupons, codes);
        show(unpriced(items));
        return;
      }
      const refused = next.rejected.filter((r) => codes.includes(r.code));
      codes = codes.filter((c) => next.promotions.some((p) => p.code === c));
      save(KEYS.coupons, codes);
      const mine = typed ? refused.find((r) => r.code === typed) : undefined;
      if (typed && !mine) {
        const promo = next.promotions.find((p) => p.code === typed);
        say(`Code ${typed} applied: ${promo?.label ?? "discount"}.`, false);
      } else if (refused.length) say(refused.map((r) => `${r.code}: ${r.message}`).join(" "), true);
      show(next);
    });
  }

  codeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = codeInput.value.trim().toUpperCase();
    if (!typed) {
      say("Enter a code first.", true);
      codeInput.focus();
      return;
    }
    if (codes.includes(typed)) {
      say(`Code ${typed} is already applied.`, false);
      return;
    }
    codes = [...codes, typed];
    codeInput.value = "";
    reprice(typed);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // Read now, not at render: the shopper may have signed in from the header meanwhile.
    const current = readUser();
    const data = new FormData(form);
    const typed = String(data.get("email") ?? "").trim();
    const emailInput = form.querySelector<HTMLInputElement>("[name=email]");
    if (typed ? !emailInput?.checkValidity() : !current) {
      error.textContent = typed
        ? "Please enter a valid email address."
        : "Enter your email address or sign in to place your order.";
      emailInput?.focus();
      return;
    }
    // Identify before the order so Nudge attributes it to the right person.
    if (typed && typed !== current?.email) signIn(typed, String(data.get("name") ?? "").trim());
    placeOrder.disabled = true;
    await pricing; // the total the shopper saw is the one they order at
    const t = priced.totals;
    const used = priced.promotions.flatMap((p) => (p.code ? [p.code] : []));
    const email = typed || current?.email || "";
    await reportOrder(email, {
      order_id,
      checkout_id,
      total: t.total / 100,
      subtotal: t.subtotal / 100,
      discount: t.discount / 100,
      shipping: (t.shipping - t.shippingDiscount) / 100,
      currency: "GBP",
      products,
      ...(used.length ? { coupon: used[0], coupons: used } : {}),
      ...(typeof referral === "string" ? { referral_code: referral } : {}),
    });
    save(KEYS.referral, null);
    if (used.includes(nudgeCoupon())) forgetNudgeCoupon(); // single use: it is spent now
    writeCart([]);
    save(KEYS.cartId, randomId("cart_").toLowerCase());
    save(KEYS.checkout, null);
    save(KEYS.coupons, []);
    app.replaceChildren(
      h(
        "section",
        { id: "order-confirmation", class: "confirmation" },
        h("h1", { tabindex: "-1" }, "Thank you for your order!"),
        h("p", {}, "Your order number is ", h("strong", { class: "order-id" }, order_id), "."),
        h("p", {}, "Total paid: ", h("strong", { id: "paid-total" }, money(t.total)), "."),
        h("p", {}, `We've sent a confirmation to ${email}.`),
        h("p", {}, h("a", { href: "/", class: "button primary" }, "Continue shopping")),
      ),
    );
    app.querySelector("h1")?.focus();
  });

  app.replaceChildren(
    h("h1", {}, "Checkout"),
    h(
      "div",
      { class: "columns" },
      form,
      h("aside", { class: "summary", "aria-label": "Order summary" }, h("h2", {}, "Your order"), slot, codeForm),
    ),
  );
  reprice(fromLink);
  // A code minted while the checkout is open (exit intent) is applied right away.
  addEventListener("nudge:coupon", (event) => {
    const code = (event as CustomEvent<{ code?: unknown }>).detail?.code;
    if (typeof code !== "string" || codes.includes(code)) return;
    codes = [...codes, code];
    reprice(code);
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * The shop's server publishes its catalogue to Nudge (a merchant's product feed); the demo asks it
 * to once per browser session, so recommendations have the merchant's rows from the first visit.
 */
function publishCatalogue(): void {
  try {
    if (sessionStorage.getItem("demo:catalogue")) return;
    sessionStorage.setItem("demo:catalogue", "1");
  } catch {
    // Storage off: publish anyway (it is idempotent).
  }
  fetch("/v1/demo-shop/catalogue", { method: "POST" }).catch(() => undefined);
}

/**
 * A referral link (`?ref=CODE`, from a customer's share buttons) is remembered until checkout, where
 * the code is applied as the friend's offer and reported with the order (`referral_code`), so the
 * referrer is credited even if the offer does not apply. A shop does this in its own code: the
 * Nudge core stays the size it is.
 */
function captureReferral(): void {
  const ref = new URLSearchParams(location.search).get("ref")?.trim().toUpperCase();
  if (ref && /^[A-Z0-9-]{4,64}$/.test(ref)) save(KEYS.referral, ref);
}

function main(): void {
  const page = document.body.dataset.page ?? "";
  const app = byId("app");
  publishCatalogue();
  captureReferral();
  setupHeader();
  onsiteLaunchers();
  if (!handleRestore(page) || !app) return;
  if (page === "catalogue") renderCatalogue(app);
  else if (page === "product") renderProduct(app);
  else if (page === "cart") {
    renderCart(app);
    trackCartViewed();
  } else if (page === "checkout") renderCheckout(app);
}

main();
