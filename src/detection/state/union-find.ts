/**
 * Union-find over wallet addresses for the sybil detectors (S2 clusters, S3 components): union by
 * size, path halving, and member lists merged small-into-large, so a union is amortised O(log n)
 * and `find` near O(1). The root of a merge is the larger component's (ties: the older one), so a
 * growing cluster keeps its root, which alert keys rely on.
 *
 * Bounded: `prune(nowTs, ttlMs)` rebuilds the structure without components whose latest edge is older
 * than `ttlMs` (a union-find cannot delete single nodes); callers run it every few minutes of event
 * time, so it costs O(n) amortised over many events.
 *
 * Durable: the nodes are one table keyed by wallet, and a node names its parent by wallet (not by
 * reference), so a restored structure has the same parents, roots and members as before.
 */
import type { DurableTable } from "../../runtime/durable-table.ts";

export interface UnionFindNode {
  parent: string;
  /** Root only: component size and members. */
  size: number;
  members: string[] | undefined;
  /** Root only: event time of the component's latest edge. */
  lastTs: number;
  /** Root only: bit set of edge sources seen in the component. */
  sources: number;
  /** Creation order, to keep the older root on a tie. */
  seq: number;
}

export class UnionFind {
  readonly #nodes: DurableTable<UnionFindNode>;
  #seq = 0;

  constructor(nodes: DurableTable<UnionFindNode>) {
    this.#nodes = nodes;
    // Restored, numbering continues after the newest live node: only the order among nodes matters.
    for (const node of nodes.values()) if (node.seq >= this.#seq) this.#seq = node.seq + 1;
  }

  has(wallet: string): boolean {
    return this.#nodes.has(wallet);
  }

  #node(wallet: string, ts: number): void {
    if (this.#nodes.has(wallet)) return;
    this.#nodes.set(wallet, {
      parent: wallet,
      size: 1,
      members: [wallet],
      lastTs: ts,
      sources: 0,
      seq: this.#seq++,
    });
  }

  /** The root of a wallet that has a node, halving the path on the way. */
  #root(wallet: string): string {
    const nodes = this.#nodes;
    let at = wallet;
    let node = nodes.get(at) as UnionFindNode;
    while (node.parent !== at) {
      const grandparent = (nodes.get(node.parent) as UnionFindNode).parent;
      if (grandparent !== node.parent) {
        node.parent = grandparent;
        nodes.touch(at);
      }
      at = node.parent;
      node = nodes.get(at) as UnionFindNode;
    }
    return at;
  }

  /** The root wallet of `wallet`'s component, or undefined when it has no edge. */
  find(wallet: string): string | undefined {
    return this.#nodes.has(wallet) ? this.#root(wallet) : undefined;
  }

  /**
   * Joins the components of `a` and `b`; `source` is a bit recorded on the component. Returns the
   * root and whether two components were merged (false when they already were one).
   */
  union(a: string, b: string, ts: number, source = 0): { root: string; merged: boolean } {
    const nodes = this.#nodes;
    this.#node(a, ts);
    this.#node(b, ts);
    let ra = this.#root(a);
    let rb = this.#root(b);
    let na = nodes.get(ra) as UnionFindNode;
    if (ra === rb) {
      if (ts > na.lastTs) na.lastTs = ts;
      na.sources |= source;
      nodes.touch(ra);
      return { root: ra, merged: false };
    }
    let nb = nodes.get(rb) as UnionFindNode;
    if (nb.size > na.size || (nb.size === na.size && nb.seq < na.seq)) {
      [ra, rb] = [rb, ra];
      [na, nb] = [nb, na];
    }
    nb.parent = ra;
    na.size += nb.size;
    const into = na.members as string[];
    for (const member of nb.members as string[]) into.push(member);
    nb.members = undefined;
    na.lastTs = Math.max(na.lastTs, nb.lastTs, ts);
    na.sources |= nb.sources | source;
    nodes.touch(ra);
    nodes.touch(rb);
    return { root: ra, merged: true };
  }

  /** Size of the component rooted at (or containing) `wallet`; 0 without edges. */
  size(wallet: string): number {
    return this.#nodes.has(wallet) ? (this.#nodes.get(this.#root(wallet)) as UnionFindNode).size : 0;
  }

  /** Members of `wallet`'s component (the live array: do not mutate). */
  members(wallet: string): readonly string[] {
    if (!this.#nodes.has(wallet)) return [];
    return (this.#nodes.get(this.#root(wallet)) as UnionFindNode).members as string[];
  }

  /** Bit set of the edge sources in `wallet`'s component. */
  sources(wallet: string): number {
    return this.#nodes.has(wallet) ? (this.#nodes.get(this.#root(wallet)) as UnionFindNode).sources : 0;
  }

  /** Drops components whose latest edge is older than `ttlMs`; returns the wallets removed. */
  prune(nowTs: number, ttlMs: number): number {
    const nodes = this.#nodes;
    let stale = 0;
    for (const [wallet, node] of nodes) {
      if (node.parent === wallet && nowTs - node.lastTs > ttlMs) stale += node.size;
    }
    if (stale === 0) return 0;
    // Roots are looked up by wallet: find every stale node before deleting any.
    const gone: string[] = [];
    for (const wallet of nodes.keys()) {
      if (nowTs - (nodes.get(this.#root(wallet)) as UnionFindNode).lastTs > ttlMs) gone.push(wallet);
    }
    for (const wallet of gone) nodes.delete(wallet);
    return stale;
  }

  /** Wallets with at least one edge. */
  get nodeCount(): number {
    return this.#nodes.size;
  }
}
