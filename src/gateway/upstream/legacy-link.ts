import type { JsonRpcId, Message } from '../jsonrpc/message.js';
import type { UpstreamResponse } from './http-upstream.js';

/**
 * A connection to a 2025-era upstream that the gateway itself holds (a stdio child, or an HTTP
 * session it opened): messages go out one by one and come back on `onMessage`, in any order.
 */
export interface LegacyLink {
  send(message: Message): Promise<void>;
  /**
   * Sends a request and hands its raw answer to the caller, who relays it (HTTP links only): the
   * answer never reaches `onMessage`, so the request keeps the caller's own id.
   */
  post?(message: Message): Promise<UpstreamResponse>;
  close(): Promise<void>;
  /** Holds the upstream's standalone stream open, or lets it go (HTTP links that open it on demand). */
  listen?(on: boolean): void;
  /** The child's process id, for links that are processes. */
  readonly pid?: number;
}

export interface LinkEvents {
  /**
   * `relatedTo`: the id of the request whose answer carried the message, where the link knows it
   * (a server→client request sent on that request's stream belongs to that call).
   */
  onMessage(message: Message, relatedTo?: JsonRpcId): void;
  /** The link died (child exited, stream broke); not called after `close()`. */
  onClose(reason: Error): void;
}

/** Opens a link; the channel calls it again to reconnect. */
export type LinkFactory = (events: LinkEvents) => Promise<LegacyLink>;
