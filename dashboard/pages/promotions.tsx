import { useState } from "preact/hooks";
import { api, type SiteInfo } from "../api";
import { money } from "../format";
import { Loaded, Table, useData } from "../ui";

interface Promotion {
  id: string;
  label?: string;
  action: { type: string };
  couponRequired?: boolean;
  active: boolean;
}
interface Priced {
  promotions: { id: string; label: string; code?: string; discount: number }[];
  rejected: { code: string; reason?: string; message?: string }[];
  totals: { subtotal: number; discount: number; shipping?: number; total: number };
}

const SAMPLE = [
  { product_id: "E7247", price: "79", quantity: "2", categories: "Speakers" },
  { product_id: "H4100", price: "129", quantity: "1", categories: "Headphones" },
  { product_id: "", price: "", quantity: "1", categories: "" },
];

export function Promotions({ site }: { site: SiteInfo }) {
  const state = useData(() => api<{ promotions: Promotion[] }>("/v1/admin/promotions"), []);
  const [lines, setLines] = useState(SAMPLE);
  const [code, setCode] = useState("");
  const [priced, setPriced] = useState<Priced | null>(null);
  const [error, setError] = useState("");
  const cur = (v: number) => money(v, site.currency);
  const set = (i: number, k: keyof (typeof SAMPLE)[0], v: string) =>
    setLines(lines.map((l, j) => (j === i ? { ...l, [k]: v } : l)));
  const simulate = async (e: Event) => {
    e.preventDefault();
    setError("");
    try {
      const body = {
        lines: lines
          .filter((l) => l.product_id && l.price)
          .map((l) => ({
            product_id: l.product_id,
            price: Number(l.price),
            quantity: Number(l.quantity) || 1,
            categories: l.categories ? l.categories.split(",").map((x) => x.trim()) : [],
          })),
        coupons: code ? [code] : [],
      };
      setPriced(await api<Priced>("/v1/admin/dashboard/price", { method: "POST", body }));
    } catch (err) {
      setPriced(null);
      setError(err instanceof Error ? err.message : "Could not price the cart.");
    }
  };
  return (
    <>
      <h1 tabIndex={-1}>Promotions</h1>
      <Loaded state={state}>
        {({ promotions }) =>
          promotions.length === 0 ? (
            <p class="empty">No promotions yet: create them with the admin API (`POST /v1/admin/promotions`).</p>
          ) : (
            <Table label="Promotions">
              <thead>
                <tr>
                  <th scope="col">Promotion</th>
                  <th scope="col">Type</th>
                  <th scope="col">Needs a code</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {promotions.map((p) => (
                  <tr key={p.id}>
                    <th scope="row">{p.label ?? p.id}</th>
                    <td>{p.action.type.replace(/_/g, " ")}</td>
                    <td>{p.couponRequired ? "Yes" : "No"}</td>
                    <td>{p.active ? "Live" : "Paused"}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )
        }
      </Loaded>
      <section aria-labelledby="sim-h">
        <h2 id="sim-h">Cart simulator</h2>
        <p>Price a sample cart as a new shopper would see it, with every live promotion.</p>
        <form onSubmit={simulate} class="sim">
          {lines.map((l, i) => (
            <fieldset key={i}>
              <legend>Line {i + 1}</legend>
              <label>
                Product id{" "}
                <input
                  value={l.product_id}
                  maxLength={100}
                  onInput={(e) => set(i, "product_id", (e.target as HTMLInputElement).value)}
                />
              </label>
              <label>
                Price{" "}
                <input
                  inputMode="decimal"
                  value={l.price}
                  maxLength={12}
                  onInput={(e) => set(i, "price", (e.target as HTMLInputElement).value)}
                />
              </label>
              <label>
                Quantity{" "}
                <input
                  inputMode="numeric"
                  value={l.quantity}
                  maxLength={4}
                  onInput={(e) => set(i, "quantity", (e.target as HTMLInputElement).value)}
                />
              </label>
              <label>
                Categories{" "}
                <input
                  value={l.categories}
                  maxLength={200}
                  onInput={(e) => set(i, "categories", (e.target as HTMLInputElement).value)}
                />
              </label>
            </fieldset>
          ))}
          <label>
            Coupon code{" "}
            <input value={code} maxLength={64} onInput={(e) => setCode((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit">Price this cart</button>
        </form>
        {error ? (
          <p role="alert" class="error">
            {error}
          </p>
        ) : null}
        <div aria-live="polite">
          {priced ? (
            <dl class="facts" data-testid="priced">
              <dt>Subtotal</dt>
              <dd>{cur(priced.totals.subtotal)}</dd>
              <dt>Discount</dt>
              <dd>{cur(priced.totals.discount)}</dd>
              <dt>Total</dt>
              <dd>{cur(priced.totals.total)}</dd>
              <dt>Applied</dt>
              <dd>
                {priced.promotions.length
                  ? priced.promotions.map((a) => `${a.label} (−${cur(a.discount)})`).join("; ")
                  : "none"}
              </dd>
              {priced.rejected.length ? (
                <>
                  <dt>Codes refused</dt>
                  <dd>{priced.rejected.map((r) => `${r.code}: ${r.message ?? r.reason ?? "refused"}`).join("; ")}</dd>
                </>
              ) : null}
            </dl>
          ) : null}
        </div>
      </section>
    </>
  );
}
