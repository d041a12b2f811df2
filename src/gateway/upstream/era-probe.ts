import type { Logger } from '../../logger.js';
import { serializeMessage, type RequestMessage } from '../jsonrpc/message.js';
import { META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, MODERN_VERSIONS } from '../protocol.js';
import { GATEWAY_CLIENT_INFO } from '../routes/route-helpers.js';
import type { HttpUpstream } from './http-upstream.js';
import { forEachUpstreamMessage, type MessageLimits } from './read-body.js';

export type Era = 'modern' | 'legacy';

/**
 * Which protocol era an HTTP upstream speaks: as configured, or (`auto`) found by asking once.
 * 2026-07-28 servers MUST answer `server/discover`; anything else is a 2025-era server.
 */
export class EraProbe {
  /** hot path: once known, read without awaiting a promise. */
  verdict: Era | undefined;
  readonly #upstream: HttpUpstream;
  readonly #limits: MessageLimits;
  readonly #logger: Logger;
  readonly #onFound: (era: Era) => void;
  #asking: Promise<Era> | undefined;

  constructor(upstream: HttpUpstream, protocol: 'auto' | Era, limits: MessageLimits, logger: Logger, onFound: (era: Era) => void = () => undefined) {
    this.#upstream = upstream;
    this.#limits = limits;
    this.#logger = logger;
    this.#onFound = onFound;
    this.verdict = protocol === 'auto' ? undefined : protocol;
  }

  era(): Promise<Era> {
    if (this.verdict) return Promise.resolve(this.verdict);
    this.#asking ??= this.#ask().then(
      (found) => {
        this.verdict = found;
        this.#onFound(found);
        return found;
      },
      (err) => {
        this.#asking = undefined; // an unreachable upstream has no verdict yet: ask again next time
        throw err;
      },
    );
    return this.#asking;
  }

  async #ask(): Promise<Era> {
    const version = MODERN_VERSIONS[0];
    const probe: RequestMessage = {
      kind: 'request',
      id: 'portcullis-probe',
      method: 'server/discover',
      params: { _meta: { [META_PROTOCOL_VERSION]: version, [META_CLIENT_INFO]: GATEWAY_CLIENT_INFO, [META_CLIENT_CAPABILITIES]: {} } },
    };
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': version, 'mcp-method': 'server/discover' };
    const res = await this.#upstream.post(serializeMessage(probe), headers);
    let modern = false;
    await forEachUpstreamMessage(res, this.#limits, (m) => {
      const versions = m.kind === 'response' ? m.result?.supportedVersions : undefined;
      if (Array.isArray(versions) && versions.includes(version)) modern = true;
    }).catch(() => undefined);
    const era: Era = modern ? 'modern' : 'legacy';
    this.#logger.info({ server: this.#upstream.name, era }, 'upstream protocol era');
    return era;
  }
}
