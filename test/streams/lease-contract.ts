/**
 * The lease and membership contract, run against every backend (memory.test.ts, redis.test.ts,
 * cluster.test.ts): one holder at a time, a higher generation per holder, expiry on the backend's clock,
 * members alive until their heartbeat's ttl.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { type LeaseStore, leaseGenerationKey, leaseKey, membersKey } from "../../src/streams/leases.ts";
import type { ContractHarness } from "./contract.ts";

/** `losesData`: the store can lose its keys (Redis restarted without persistence), `lose` is present. */
export function runLeaseContract(
  name: string,
  create: () => Promise<ContractHarness>,
  { losesData = false } = {},
): void {
  describe(`leases: ${name}`, () => {
    let h: ContractHarness;
    let leases: LeaseStore;
    let key: string;
    const open = async () => {
      h = await create();
      leases = h.backend.leases();
      key = leaseKey(`${h.prefix}:tx`, "g");
    };
    afterEach(async () => {
      await h?.cleanup();
    });

    test("one holder at a time; a release lets the next in with a higher generation", async () => {
      await open();
      const a = await leases.acquire(key, "a", 60_000);
      const g = a.generation;
      expect(a).toMatchObject({ held: true, holder: "a" });
      expect(g).toBeGreaterThan(0);
      expect(a.ttlMs).toBeGreaterThan(59_000);
      expect(await leases.acquire(key, "b", 60_000)).toMatchObject({
        held: false,
        holder: "a",
        generation: g,
      });
      expect(await leases.renew(key, "a", g, 60_000)).toBe(true);
      expect(await leases.renew(key, "b", g, 60_000)).toBe(false);
      await leases.release(key, "b", g);
      expect((await leases.inspect(key)).holder).toBe("a");
      // Taken again under the same name (a restarted process): a new generation, the old one refused.
      expect(await leases.acquire(key, "a", 60_000)).toMatchObject({ held: true, generation: g + 1 });
      expect(await leases.renew(key, "a", g, 60_000)).toBe(false);
      await leases.release(key, "a", g);
      expect((await leases.inspect(key)).holder).toBe("a");
      await leases.release(key, "a", g + 1);
      expect(await leases.inspect(key)).toMatchObject({ holder: null, generation: 0 });
      expect(await leases.acquire(key, "b", 60_000)).toMatchObject({
        held: true,
        holder: "b",
        generation: g + 2,
      });
      // The earlier holder's generation is refused even under its own name.
      expect(await leases.renew(key, "b", g + 1, 60_000)).toBe(false);
      await leases.release(key, "a", g + 1);
      expect((await leases.inspect(key)).holder).toBe("b");
    });

    test("a lease not renewed expires; its holder's renew is refused after someone else took it", async () => {
      await open();
      const { generation: g } = await leases.acquire(key, "a", 150);
      await h.elapse(200);
      expect(await leases.inspect(key)).toMatchObject({ holder: null });
      expect(await leases.acquire(key, "b", 60_000)).toMatchObject({ held: true, generation: g + 1 });
      expect(await leases.renew(key, "a", g, 60_000)).toBe(false);
    });

    if (losesData)
      test("a store that lost the lease and its counter hands out no generation it handed out before", async () => {
        await open();
        const before = await leases.acquire(key, "a", 60_000);
        await h.lose?.([key, leaseGenerationKey(key)]);
        // The same holder name again (a process restarted under its name while the old one is frozen).
        const after = await leases.acquire(key, "a", 60_000);
        expect(after).toMatchObject({ held: true, holder: "a" });
        expect(after.generation).toBeGreaterThan(before.generation);
        // The frozen incarnation thaws: its renew under the old generation is refused.
        expect(await leases.renew(key, "a", before.generation, 60_000)).toBe(false);
        expect(await leases.renew(key, "a", after.generation, 60_000)).toBe(true);
      });

    test("a member is present until it closes its presence or its backend closes; a gone holder's lease is taken at once", async () => {
      await open();
      const members = membersKey(`${h.prefix}:tx`, "g");
      // Another process where the backend can have one (Redis); the same store otherwise.
      const otherBackend = h.connect?.();
      const a = await leases.present(members, "a", 10_000, () => {});
      const b = await (otherBackend ?? h.backend).leases().present(members, "b", 10_000, () => {});
      expect(await a.departed(["b", "c"])).toEqual(["c"]);
      const { generation: g } = await leases.acquire(key, "b", 60_000);
      expect(await leases.inspect(key)).toMatchObject({ holder: "b", generation: g });
      // Named gone, its holder loses the lease at once, to a higher generation; otherwise it keeps it.
      expect(await leases.acquire(key, "a", 60_000, ["c"])).toMatchObject({ held: false, holder: "b" });
      expect(await leases.acquire(key, "a", 60_000, ["b"])).toMatchObject({
        held: true,
        holder: "a",
        generation: g + 1,
      });
      expect(await leases.renew(key, "b", g, 60_000)).toBe(false);
      // The server drops a closed connection's name on its own time: asked until it has.
      if (otherBackend) await otherBackend.close();
      else await b.close();
      const deadline = performance.now() + 5_000;
      let gone = await a.departed(["b"]);
      while (gone.length === 0 && performance.now() < deadline) {
        await Bun.sleep(10);
        gone = await a.departed(["b"]);
      }
      expect(gone).toEqual(["b"]);
      // A member that is not present itself cannot tell who is: it takes nobody for gone.
      await a.close();
      expect(await a.departed(["b", "c"])).toEqual([]);
    });

    test("a name another live process is present under is refused; free once that process ends or its membership expires", async () => {
      await open();
      const members = membersKey(`${h.prefix}:tx`, "g");
      // Another process where the backend can have one (Redis); the same store otherwise.
      const otherBackend = h.connect?.();
      const elsewhere = (otherBackend ?? h.backend).leases();
      const inUse = { code: "ERR_MEMBER_IN_USE" };
      const first = await elsewhere.present(members, "a", 150, () => {});
      await expect(leases.present(members, "a", 10_000, () => {})).rejects.toMatchObject(inUse);
      // Still present, but its membership expired (a frozen process, or a host gone without closing its
      // connections, which Redis lists for minutes): the name is taken over.
      await h.elapse(200);
      const second = await leases.present(members, "a", 10_000, () => {});
      await expect(elsewhere.present(members, "a", 10_000, () => {})).rejects.toMatchObject(inUse);
      // Its process ends (the server drops the closed connections on its own time: asked until it has).
      await second.close();
      const deadline = performance.now() + 5_000;
      let third = await elsewhere.present(members, "a", 10_000, () => {}).catch((error: unknown) => error);
      while (!("departed" in (third as object)) && performance.now() < deadline) {
        expect(third).toMatchObject(inUse);
        await Bun.sleep(10);
        third = await elsewhere.present(members, "a", 10_000, () => {}).catch((error: unknown) => error);
      }
      expect(third).toHaveProperty("departed");
      await first.close();
      await otherBackend?.close();
    });

    test("a member's announcement reaches the other members present, not itself nor another group", async () => {
      await open();
      const members = membersKey(`${h.prefix}:tx`, "g");
      const heard: string[] = [];
      let notify = () => {};
      const hear = (name: string) => () => {
        heard.push(name);
        notify();
      };
      const a = await leases.present(members, "a", 10_000, hear("a"));
      const b = await (h.connect?.() ?? h.backend).leases().present(members, "b", 10_000, hear("b"));
      const other = await leases.present(membersKey(`${h.prefix}:tx`, "other"), "c", 10_000, hear("c"));
      const heardBy = (name: string) =>
        new Promise<void>((resolve) => {
          notify = () => {
            if (heard.includes(name)) resolve();
          };
          notify();
        });
      await b.announce();
      await heardBy("a");
      await a.announce();
      await heardBy("b");
      expect(heard).toEqual(["a", "b"]);
      for (const presence of [a, b, other]) await presence.close();
    });

    test("members live until their heartbeat's ttl; a leaver goes at once; names come sorted", async () => {
      await open();
      const members = membersKey(`${h.prefix}:tx`, "g");
      expect(await leases.heartbeat(members, "b", 60_000)).toEqual(["b"]);
      expect(await leases.heartbeat(members, "a", 60_000)).toEqual(["a", "b"]);
      expect(await leases.heartbeat(members, "c", 150)).toEqual(["a", "b", "c"]);
      await leases.leave(members, "b");
      await h.elapse(200);
      expect(await leases.heartbeat(members, "a", 60_000)).toEqual(["a"]);
    });
  });
}
