/**
 * Which live member owns which partition: a pure function of the partition count and the member names,
 * so every member computes the same answer from the same membership without talking to the others.
 *
 * Rendezvous hashing with bounded loads: each partition goes to the member with the highest score
 * `hash(member, partition)` among those still below a cap: `floor(P / K)` in a first pass, one more for the
 * partitions left over. Every member owns `floor(P / K)` or `ceil(P / K)`, and a join or a leave moves few
 * more partitions than the ones that must move (rendezvous hashing alone moves only those; the caps add a
 * few), where dealing round-robin over the sorted names moved most of them.
 */

/** Partition → member, for `partitions` partitions over `members` (at least one). */
export function assignPartitions(partitions: number, members: readonly string[]): string[] {
  const names = [...new Set(members)].sort();
  if (names.length === 0) throw new RangeError("assignPartitions needs at least one member");
  const floor = Math.floor(partitions / names.length);
  const load = new Map(names.map((name) => [name, 0]));
  const owners: (string | undefined)[] = new Array(partitions);
  const ranked = (partition: number) =>
    names
      .map((name) => ({ name, score: score(name, partition) }))
      .sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : 1));
  // First every member up to floor(P / K), then the P mod K left over one each: floor or ceil apiece.
  for (const cap of [floor, floor + 1])
    for (let partition = 0; partition < partitions; partition++) {
      if (owners[partition] !== undefined) continue;
      const owner = ranked(partition).find(({ name }) => load.get(name)! < cap)?.name;
      if (owner === undefined) continue;
      load.set(owner, load.get(owner)! + 1);
      owners[partition] = owner;
    }
  return owners as string[];
}

const utf8 = new TextEncoder();

/** FNV-1a over `member` and the partition number, then murmur3's finaliser so close inputs spread. */
function score(member: string, partition: number): number {
  let hash = 0x811c9dc5;
  for (const byte of utf8.encode(`${member}\u0000${partition}`)) hash = Math.imul(hash ^ byte, 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
