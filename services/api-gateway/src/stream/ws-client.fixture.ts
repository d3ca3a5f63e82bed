import { WS_OPEN, type WsClient } from './stream-message.schema';

/** An open WebSocket for session specs that records every frame sent to it, parsed. */
export function recordingClient(): { client: WsClient; frames: Record<string, unknown>[] } {
  const frames: Record<string, unknown>[] = [];
  const client: WsClient = {
    readyState: WS_OPEN,
    bufferedAmount: 0,
    send: (data) => frames.push(JSON.parse(data) as Record<string, unknown>),
    close: () => undefined,
    terminate: () => undefined,
    on() {
      return this;
    },
  };
  return { client, frames };
}
