/** Money arrives in minor units (pence, cents); shown in the site's currency. */
export const money = (minor: number, currency: string) =>
  new Intl.NumberFormat("en-GB", { style: "currency", currency }).format(minor / 100);

export const percent = (x: number, digits = 1) => `${(x * 100).toFixed(digits)} %`;

export const count = (n: number) => new Intl.NumberFormat("en-GB").format(n);

export const dateTime = (iso: string | number | null) =>
  iso === null ? "—" : new Date(iso).toISOString().slice(0, 16).replace("T", " ");

/** A signed percentage-point figure: "+3.0 pp". */
export const points = (x: number) => `${x >= 0 ? "+" : "−"}${Math.abs(x * 100).toFixed(1)} pp`;
