/** Whether something accepts TCP connections at a URL's host and port: what "it stopped" means for a server. */
import { connect } from 'node:net';

export function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket
      .once('connect', () => done(true))
      .once('error', () => done(false))
      .setTimeout(2_000, () => done(false));
  });
}
