/** What the members and their producers agree on: the streams' names and the partition count. */
export const PARTITIONS = 8;
/** Short leases, so a dead member's partitions move within seconds (the library's default is 10 s). */
export const LEASE_MS = 2_000;
export const ordersStream = (tag: string) => `{${tag}}:orders`;
export const talliesStream = (tag: string) => `{${tag}}:tallies`;
