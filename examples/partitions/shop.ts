/** What the members and their producers agree on: the streams' names and the partition count. */
export const PARTITIONS = 8;
export const ordersStream = (tag: string) => `{${tag}}:orders`;
export const talliesStream = (tag: string) => `{${tag}}:tallies`;
