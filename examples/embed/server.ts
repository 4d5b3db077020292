/**
 * A Bun HTTP app that embeds Troupe: POST /text counts the words of the body in two worker actors
 * (routed by word), GET /count/:word asks the instance that owns that word.
 *
 *   bun examples/embed/server.ts          # then: curl -d "to be or not to be" localhost:3000/text
 */
import { createSystem } from "troupe";
import type { WordMessage } from "./words.actor.ts";

export async function startWordCounter(port = 3000) {
  const system = createSystem();
  const words = await system.spawn<WordMessage, number | undefined>(
    new URL("./words.actor.ts", import.meta.url),
    {
      instances: 2,
      route: (message) => ("add" in message ? message.add : message.count),
    },
  );
  const server = Bun.serve({
    port,
    hostname: "127.0.0.1",
    routes: {
      "/text": {
        POST: async (req) => {
          const tokens = (await req.text()).toLowerCase().match(/[a-z']+/g) ?? [];
          await words.tellMany(tokens.map((add) => ({ add })));
          return Response.json({ accepted: tokens.length });
        },
      },
      "/count/:word": async (req) => {
        // An ask travels the same mailbox as the tells before it, so the count includes them all.
        const word = req.params.word.toLowerCase();
        return Response.json({ word, count: await words.ask({ count: word }) });
      },
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    async stop() {
      await server.stop();
      await system.stop();
    },
  };
}

if (import.meta.main) {
  const app = await startWordCounter(Number(process.env.PORT ?? 3000));
  console.log(`word counter on ${app.url}`);
  process.on("SIGINT", () => app.stop().then(() => process.exit(0)));
}
