import type { Logger } from '../../logger.js';
import { MODERN_VERSIONS } from '../protocol.js';
import { GATEWAY_ENVELOPE } from '../routes/route-helpers.js';
import type { ModernExchange } from './modern-exchange.js';

export type Era = 'modern' | 'legacy';

/**
 * Which protocol era an HTTP upstream speaks: as configured, or (`auto`) found by asking once.
 * 2026-07-28 servers MUST answer `server/discover`; anything else is a 2025-era server.
 */
export class EraProbe {
  /** hot path: once known, read without awaiting a promise. */
  verdict: Era | undefined;
  readonly #exchange: ModernExchange;
  readonly #logger: Logger;
  readonly #onFound: (era: Era) => void;
  #asking: Promise<Era> | undefined;

  constructor(exchange: ModernExchange, protocol: 'auto' | Era, logger: Logger, onFound: (era: Era) => void = () => undefined) {
    this.#exchange = exchange;
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
    const answer = await this.#exchange.discover(GATEWAY_ENVELOPE);
    // Reached, but no valid answer (a 2025-era server refusing the method): not a 2026 server.
    const final = await this.#exchange.finalOf(answer, 'server/discover', () => undefined).catch(() => undefined);
    const versions = final?.result?.supportedVersions;
    const era: Era = Array.isArray(versions) && versions.includes(MODERN_VERSIONS[0]) ? 'modern' : 'legacy';
    this.#logger.info({ server: this.#exchange.server, era }, 'upstream protocol era');
    return era;
  }
}
