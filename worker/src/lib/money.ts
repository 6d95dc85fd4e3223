const exponents = new Map<string, number>();

/** Digits after the decimal point for a currency (GBP 2, JPY 0, ...), from the platform's ICU data. */
export function currencyExponent(currency: string): number {
  let exp = exponents.get(currency);
  if (exp === undefined) {
    try {
      exp = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      exp = 2;
    }
    exponents.set(currency, exp);
  }
  return exp;
}

/** Segment sends prices in major units (18.99); we keep integer minor units (1899), rounded half-up. */
export function toMinor(amount: unknown, currency: string): number {
  const n = typeof amount === "string" ? Number(amount) : amount;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0 || n > 1e12) return 0;
  // toFixed first: 1.005 * 100 is 100.49999… in binary floating point.
  return Math.round(Number((n * 10 ** currencyExponent(currency)).toFixed(6)));
}

export function formatMoney(minor: number, currency: string, locale = "en-GB"): string {
  const exp = currencyExponent(currency);
  return new Intl.NumberFormat(locale, { style: "currency", currency }).format(minor / 10 ** exp);
}
