/**
 * The pump.fun bonding curve as the generator simulates it: constant product on virtual reserves,
 * fee on top ([IDL]: virtual 30 SOL / 1.073e15 raw tokens, real tokens 7.931e14, 100 bps). The SOL
 * reported on a trade is the amount that moves the curve, so the recovery formula of
 * src/ingest/pumpportal.ts inverts it exactly (up to integer rounding).
 */
export const INITIAL_VSOL = 30_000_000_000;
export const INITIAL_VTOK = 1_073_000_000_000_000;
export const REAL_TOKENS = 793_100_000_000_000;
export const FEE_BPS = 100;
/** Real SOL in the curve at which a mint graduates to the AMM. */
export const GRADUATION_LAMPORTS = 85_000_000_000;

const MIN_VTOK = INITIAL_VTOK - REAL_TOKENS;

export class Curve {
  vSol = INITIAL_VSOL;
  vTok = INITIAL_VTOK;

  get graduated(): boolean {
    return this.vSol - INITIAL_VSOL >= GRADUATION_LAMPORTS;
  }

  /** Spends `lamports` (fee excluded) on tokens; returns the tokens received (0 once sold out). */
  buy(lamports: number): { sol: number; tok: number } {
    const x1 = this.vSol + lamports;
    const y1 = Math.max(MIN_VTOK, Math.ceil((this.vSol * this.vTok) / x1));
    const tok = this.vTok - y1;
    if (tok <= 0) return { sol: 0, tok: 0 };
    this.vSol = x1;
    this.vTok = y1;
    return { sol: lamports, tok };
  }

  /** Sells `tok` raw tokens; returns the lamports that leave the curve. */
  sell(tok: number): { sol: number; tok: number } {
    if (tok <= 0) return { sol: 0, tok: 0 };
    const y1 = this.vTok + tok;
    const x1 = Math.ceil((this.vSol * this.vTok) / y1);
    const sol = this.vSol - x1;
    this.vSol = x1;
    this.vTok = y1;
    return { sol, tok };
  }
}
