/**
 * Union-find over wallet addresses for the sybil detectors (S2 clusters, S3 components): union by
 * size, path halving, and member lists merged small-into-large, so a union is amortised O(log n)
 * and `find` near O(1). The root of a merge is the larger component's (ties: the older one), so a
 * growing cluster keeps its root, which alert keys rely on.
 *
 * Bounded: `prune(nowTs, ttlMs)` rebuilds the structure without components whose latest edge is older
 * than `ttlMs` (a union-find cannot delete single nodes); callers run it every few minutes of event
 * time, so it costs O(n) amortised over many events.
 */

interface Node {
  wallet: string;
  parent: Node;
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
  readonly #nodes = new Map<string, Node>();
  #seq = 0;

  has(wallet: string): boolean {
    return this.#nodes.has(wallet);
  }

  #node(wallet: string, ts: number): Node {
    let node = this.#nodes.get(wallet);
    if (node === undefined) {
      node = {
        wallet,
        parent: undefined as unknown as Node,
        size: 1,
        members: [wallet],
        lastTs: ts,
        sources: 0,
        seq: this.#seq++,
      };
      node.parent = node;
      this.#nodes.set(wallet, node);
    }
    return node;
  }

  #root(node: Node): Node {
    let n = node;
    while (n.parent !== n) {
      n.parent = n.parent.parent;
      n = n.parent;
    }
    return n;
  }

  /** The root wallet of `wallet`'s component, or undefined when it has no edge. */
  find(wallet: string): string | undefined {
    const node = this.#nodes.get(wallet);
    return node === undefined ? undefined : this.#root(node).wallet;
  }

  /**
   * Joins the components of `a` and `b`; `source` is a bit recorded on the component. Returns the
   * root and whether two components were merged (false when they already were one).
   */
  union(a: string, b: string, ts: number, source = 0): { root: string; merged: boolean } {
    let ra = this.#root(this.#node(a, ts));
    let rb = this.#root(this.#node(b, ts));
    if (ra === rb) {
      if (ts > ra.lastTs) ra.lastTs = ts;
      ra.sources |= source;
      return { root: ra.wallet, merged: false };
    }
    if (rb.size > ra.size || (rb.size === ra.size && rb.seq < ra.seq)) [ra, rb] = [rb, ra];
    rb.parent = ra;
    ra.size += rb.size;
    const into = ra.members!;
    for (const member of rb.members!) into.push(member);
    rb.members = undefined;
    ra.lastTs = Math.max(ra.lastTs, rb.lastTs, ts);
    ra.sources |= rb.sources | source;
    return { root: ra.wallet, merged: true };
  }

  /** Size of the component rooted at (or containing) `wallet`; 0 without edges. */
  size(wallet: string): number {
    const node = this.#nodes.get(wallet);
    return node === undefined ? 0 : this.#root(node).size;
  }

  /** Members of `wallet`'s component (the live array: do not mutate). */
  members(wallet: string): readonly string[] {
    const node = this.#nodes.get(wallet);
    return node === undefined ? [] : this.#root(node).members!;
  }

  /** Bit set of the edge sources in `wallet`'s component. */
  sources(wallet: string): number {
    const node = this.#nodes.get(wallet);
    return node === undefined ? 0 : this.#root(node).sources;
  }

  /** Drops components whose latest edge is older than `ttlMs`; returns the wallets removed. */
  prune(nowTs: number, ttlMs: number): number {
    let stale = 0;
    for (const node of this.#nodes.values()) {
      if (node.parent === node && nowTs - node.lastTs > ttlMs) stale += node.size;
    }
    if (stale === 0) return 0;
    for (const [wallet, node] of this.#nodes) {
      if (nowTs - this.#root(node).lastTs > ttlMs) this.#nodes.delete(wallet);
    }
    return stale;
  }

  /** Wallets with at least one edge. */
  get nodeCount(): number {
    return this.#nodes.size;
  }
}
