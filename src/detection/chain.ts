/**
 * Facts of the chain that the event sources and the detectors share, so that neither reads them from the
 * other's internals.
 */

/** Raw units of a pump.fun mint (one billion tokens at six decimals): its supply unless an event says. */
export const PUMP_TOTAL_SUPPLY = 1_000_000_000_000_000;
