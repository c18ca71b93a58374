/**
 * Request parameters as Kraken reads them: a form-encoded or JSON body (private calls, and public POSTs),
 * or a query string (public GETs). Values are kept as the client sent them; endpoints parse what they need.
 */
export class Params {
  private constructor(
    private readonly values: ReadonlyMap<string, unknown>,
    /** The nonce's digits exactly as sent (a JSON number is not re-printed through a float). */
    readonly nonceText: string | undefined,
  ) {}

  static empty(): Params {
    return new Params(new Map(), undefined);
  }

  static fromQuery(search: string): Params {
    return Params.fromForm(search.startsWith('?') ? search.slice(1) : search);
  }

  static fromForm(body: string): Params {
    const values = new Map<string, unknown>();
    for (const [k, v] of new URLSearchParams(body)) values.set(k, v);
    const nonce = values.get('nonce');
    return new Params(values, typeof nonce === 'string' ? nonce : undefined);
  }

  /** `undefined` when the text is not a JSON object. */
  static fromJson(body: string): Params | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const values = new Map<string, unknown>(Object.entries(parsed));
    const nonce = values.get('nonce');
    let nonceText: string | undefined;
    if (typeof nonce === 'string') nonceText = nonce;
    else if (typeof nonce === 'number') nonceText = /"nonce"\s*:\s*(\d+)/.exec(body)?.[1] ?? String(nonce);
    return new Params(values, nonceText);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** A scalar parameter as text; `null` when present but not a scalar (an object or array). */
  text(name: string): string | undefined | null {
    const v = this.values.get(name);
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return null;
  }

  /** Kraken booleans: `true`/`false` in JSON, the strings `true`/`false` (or 1/0) in forms. */
  flag(name: string): boolean | undefined | null {
    const v = this.values.get(name);
    if (v === undefined) return undefined;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === '1' || v === 1) return true;
    if (v === 'false' || v === '0' || v === 0) return false;
    return null;
  }

  /** Bracketed or nested keys such as `close[ordertype]` / `{"close": {...}}`. */
  hasGroup(name: string): boolean {
    if (this.values.has(name)) return true;
    for (const k of this.values.keys()) if (k.startsWith(`${name}[`)) return true;
    return false;
  }
}
