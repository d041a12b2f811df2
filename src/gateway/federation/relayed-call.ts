import type { ServerResponse } from 'node:http';
import { ClientStream, type FinalHook } from '../client-stream.js';
import type { RequestMessage } from '../jsonrpc/message.js';
import { relayResponse } from '../relay.js';
import type { LegacyChannel } from '../upstream/legacy-channel.js';
import type { MessageLimits } from '../upstream/read-body.js';
import { toWireError } from '../wire-error.js';

/**
 * A 2025-era client's call on the upstream session held for that client alone: sent with the
 * client's own id, answered straight from the upstream's answer (JSON, or SSE event by event) as
 * `/mcp/{server}` does. Only server→client requests are re-keyed: two upstreams of one client may
 * number theirs alike.
 * hot path: one POST, one capped read, one parse; no id bookkeeping, no timer.
 */
export async function relayChannelCall(
  channel: LegacyChannel,
  owner: string,
  request: RequestMessage,
  res: ServerResponse,
  sessionId: string,
  limits: MessageLimits,
  observer: FinalHook,
): Promise<void> {
  const adopted: string[] = [];
  try {
    const up = await channel.post(request);
    await relayResponse(up, res, {
      server: channel.server,
      limits,
      sessionId,
      requestId: request.id,
      onFinal: observer,
      onIntermediate: (m) => channel.relayed(owner, m, adopted),
    });
  } catch (err) {
    // Nothing reached the client yet: a failure after the first byte is answered by the relay.
    new ClientStream(res, { 'mcp-session-id': sessionId }, observer).fail(toWireError(err, channel.server, request.id));
  } finally {
    channel.release(adopted);
  }
}
