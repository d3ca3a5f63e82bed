import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { WsAdapter } from '@nestjs/platform-ws';

interface UpgradeTarget {
  path: string;
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, done: (ws: unknown) => void): void;
  emit(event: 'connection', ws: unknown, req: http.IncomingMessage): boolean;
}

/**
 * Nest's WsAdapter, whose upgrade routing also accepts the paths under a prefix path: Binance's
 * raw streams are /ws/<streamName> (and ccxt connects to /ws/<n>), one gateway at /ws serves all.
 * Every other path must match a gateway's path exactly, as with WsAdapter; an unmatched upgrade
 * is refused (the socket is destroyed).
 */
export class GatewayWsAdapter extends WsAdapter {
  private readonly prefixes: ReadonlySet<string>;

  constructor(
    app: ConstructorParameters<typeof WsAdapter>[0],
    options: {
      messageParser: NonNullable<ConstructorParameters<typeof WsAdapter>[1]>['messageParser'];
      prefixPaths: readonly string[];
    },
  ) {
    super(app, { messageParser: options.messageParser });
    this.prefixes = new Set(options.prefixPaths);
  }

  protected override ensureHttpServerExists(port: number, httpServer?: http.Server): http.Server | undefined {
    if (this.httpServersRegistry.has(port) || !httpServer)
      return super.ensureHttpServerExists(port, httpServer);
    this.httpServersRegistry.set(port, httpServer);
    httpServer.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        const pathname = new URL(request.url ?? '/', 'ws://localhost/').pathname;
        const servers = (this.wsServersRegistry.get(port) ?? []) as unknown as UpgradeTarget[];
        const target = servers.find(
          (s) => pathname === s.path || (this.prefixes.has(s.path) && pathname.startsWith(`${s.path}/`)),
        );
        if (!target) {
          socket.destroy();
          return;
        }
        target.handleUpgrade(request, socket, head, (ws) => target.emit('connection', ws, request));
      } catch {
        socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      }
    });
    return httpServer;
  }
}
