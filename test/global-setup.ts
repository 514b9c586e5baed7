import net from "node:net";

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || "127.0.0.1", port: Number(port || defaultPort) });
    socket.setTimeout(2000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
  });
}

/** Fails the run at once, with the command to fix it, when a service the tests need is not there. */
export default async function setup() {
  const pg = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const redis = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  if (!(await reachable(pg, 5432))) throw new Error(`PostgreSQL does not answer at ${new URL(pg).host}: start it (see README, "Tests").`);
  if (!(await reachable(redis, 6379))) throw new Error(`Redis does not answer at ${new URL(redis).host}: start it (see README, "Tests").`);
}
