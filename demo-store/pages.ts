/**
 * The shop's pages: what differs between them. Everything else (head with the merchant snippet,
 * header, footer, dev panel) is demo-store/layout.html, so a change there reaches every page.
 */
export interface ShopPage {
  file: string;
  /** `<body data-page>`: which renderer of src/store.ts runs. */
  page: "catalogue" | "product" | "cart" | "checkout";
  title: string;
  /** Shown inside #app until the script renders the page. */
  app: string;
  /** Markup before <main>, e.g. the home page's hero. */
  hero?: string;
}

export const SHOP_PAGES: ShopPage[] = [
  {
    file: "index.html",
    page: "catalogue",
    title: "Wavelength · Speakers, headphones and gifts",
    hero: `<section class="hero">
  <div class="wrap">
    <h1>Sound, simply.</h1>
    <p>Speakers, headphones and small things for people who love music. Free UK delivery over £100.</p>
  </div>
</section>
`,
    app: `<p class="muted">Loading products…</p><noscript><p>This demo shop needs JavaScript.</p></noscript>`,
  },
  { file: "product.html", page: "product", title: "Product · Wavelength", app: `<p class="muted">Loading…</p>` },
  { file: "cart.html", page: "cart", title: "Your cart · Wavelength", app: "<h1>Your cart</h1>" },
  { file: "checkout.html", page: "checkout", title: "Checkout · Wavelength", app: "<h1>Checkout</h1>" },
];

/** Fills the layout's {{placeholders}} for one page. */
export function renderPage(layout: string, p: ShopPage): string {
  const values: Record<string, string> = { title: p.title, page: p.page, app: p.app, hero: p.hero ?? "" };
  return layout.replace(/\{\{(\w+)\}\}/g, (_, key: string) => values[key] ?? "");
}
