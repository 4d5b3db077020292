/** The message every bench sends: a small trade event, the shape the scanner's actors will mostly see. */
export interface Trade {
  id: number;
  kind: "trade";
  mint: string;
  sol: number;
}

/** A 44-character base58 mint address, as real Solana mints are. */
const MINT = "abcDEFghiJKLmnoPQRstuVWXyz123456789ABCDEFGHi";

/** A fresh object per call: real senders hand over new objects, so none of the benches reuse one. */
export function trade(id: number): Trade {
  return { id, kind: "trade", mint: MINT, sol: 12345 };
}
