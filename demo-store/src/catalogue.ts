/**
 * The demo shop's product data. Prices are integers in minor units (pence) so that cart
 * arithmetic never meets floating point; events convert to major units at the edge
 * (Segment's e-commerce spec expects decimal prices).
 */

export type Category = "Speakers" | "Headphones" | "Accessories" | "Gifts" | "Apparel";

export type Product = {
  readonly id: string;
  readonly name: string;
  readonly category: Category;
  /** Integer minor units (pence). */
  readonly price: number;
  readonly currency: "GBP";
  /** Root-relative path, e.g. `/img/E7247.svg`. */
  readonly image: string;
  readonly description: string;
  /** The sizes it comes in (apparel): the loyalty mail shows a shopper products in their size. */
  readonly sizes?: readonly string[];
};

export const CATEGORIES: readonly Category[] = ["Speakers", "Headphones", "Accessories", "Gifts", "Apparel"];

// Tuples keep the table readable; `product()` expands them into full records.
const rows: ReadonlyArray<readonly [string, string, Category, number, string, (readonly string[])?]> = [
  [
    "E7247",
    "E7247 speaker",
    "Speakers",
    7900,
    "Portable Bluetooth speaker with a warm, room-filling sound and 20 hours of battery.",
  ],
  [
    "E3110",
    "Pebble mini speaker",
    "Speakers",
    3400,
    "Pocket-sized, splash-proof and louder than it looks. Clips onto any bag.",
  ],
  [
    "E9600",
    "Tower bookshelf pair",
    "Speakers",
    24900,
    "Two-way passive speakers in matte oak for a proper stereo image at home.",
  ],
  [
    "E5200",
    "Slim soundbar",
    "Speakers",
    14900,
    "Clear dialogue and deep bass under your TV, with a single HDMI cable.",
  ],
  [
    "H4100",
    "Arc over-ear headphones",
    "Headphones",
    12900,
    "Active noise cancelling, memory-foam cushions and 30 hours of play.",
  ],
  [
    "H2200",
    "Drift wireless earbuds",
    "Headphones",
    8900,
    "True wireless earbuds with a pocketable charging case and IPX4 rating.",
  ],
  [
    "H6300",
    "Studio monitor headphones",
    "Headphones",
    15900,
    "Flat, honest response for mixing, with a detachable coiled cable.",
  ],
  [
    "H1050",
    "Kids' volume-safe headphones",
    "Headphones",
    2900,
    "Bendy, bright and capped at 85 dB to protect young ears.",
  ],
  [
    "A1010",
    "Braided USB-C cable",
    "Accessories",
    1200,
    "Two metres of tangle-free braided cable, rated for 60 W charging.",
  ],
  [
    "A2040",
    "Wireless charging dock",
    "Accessories",
    3900,
    "Charges your phone and earbuds at once, with a soft night light.",
  ],
  ["A3300", "Walnut headphone stand", "Accessories", 4500, "Solid walnut stand with a weighted base and a cable hook."],
  [
    "A4120",
    "Hard-shell carry case",
    "Accessories",
    2400,
    "Crush-proof zip case that fits over-ear headphones and a cable.",
  ],
  ["G1000", "£50 gift card", "Gifts", 5000, "Let them choose. Delivered by email, valid for two years."],
  ["G2010", "Vinyl care kit", "Gifts", 1950, "Carbon-fibre brush, cleaning fluid and anti-static sleeves."],
  ["G3020", "Canvas tote bag", "Gifts", 1500, "Heavy organic cotton tote, big enough for a record haul."],
  [
    "W1000",
    "Tour T-shirt",
    "Apparel",
    2200,
    "Soft organic cotton tee with the Wavelength wave.",
    ["S", "M", "L", "XL"],
  ],
  ["W2000", "Logo hoodie", "Apparel", 4800, "Brushed-back fleece hoodie for late studio nights.", ["M", "L", "XL"]],
  ["W3000", "Crew socks", "Apparel", 900, "Two pairs of ribbed cotton socks in studio teal.", ["S", "M", "L"]],
];

export const PRODUCTS: readonly Product[] = rows.map(([id, name, category, price, description, sizes]) => ({
  id,
  name,
  category,
  price,
  currency: "GBP",
  image: `/img/${id}.svg`,
  description,
  ...(sizes ? { sizes } : {}),
}));

const byId = new Map(PRODUCTS.map((p) => [p.id, p]));

export function findProduct(id: string): Product | undefined {
  return byId.get(id);
}
