import type { ServerResponse } from 'node:http';
import type { StdioServerConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import { discoverResultFor, initializeResultFor, resultMessage, serveChannelCall } from '../channel-serving.js';
import { ClientStream } from '../client-stream.js';
import { serializeMessage, type JsonObject, type Message, type NotificationMessage, type RequestMessage } from '../jsonrpc/message.js';
import type { MrtrBridge } from '../mrtr-bridge.js';
import { LEGACY_VERSIONS } from '../protocol.js';
import { formatSseEvent } from '../sse-parser.js';
import type { ClientSession, SessionRegistry } from '../sessions.js';
import { LegacyChannel } from '../upstream/legacy-channel.js';
import type { MessageLimits } from '../upstream/read-body.js';
import { stdioLinkFactory } from '../upstream/stdio-link.js';
import { RpcCode, sendWireError, wireError } from '../wire-error.js';
import type { McpContext, ServerRoute } from './server-route.js';
import { GATEWAY_CLIENT_INFO, GATEWAY_CLIENT_CAPABILITIES, answerLocally, openGatewayStream, sessionHeaders } from './route-helpers.js';

export interface StdioRouteDeps {
  sessions: SessionRegistry;
  bridge: MrtrBridge;
  limits: MessageLimits;
  logger: Logger;
}

/**
 * A stdio server. `shared` (default): one supervised child for all clients, ids rewritten per
 * client. `isolated`: a child per client session, started with that client's own `initialize`.
 * 2026-07-28 clients always use the shared child (they have no session to give a child to).
 */
export function createStdioRoute(name: string, config: StdioServerConfig, deps: StdioRouteDeps): ServerRoute {
  const linkFactory = stdioLinkFactory(name, config, deps.limits, deps.logger);
  const newChannel = (initParams: JsonObject) =>
    new LegacyChannel({ server: name, connect: linkFactory, initParams, timeoutMs: config.timeoutMs, restart: config.restart, logger: deps.logger });
  const shared = newChannel({ protocolVersion: LEGACY_VERSIONS[0], capabilities: GATEWAY_CLIENT_CAPABILITIES, clientInfo: GATEWAY_CLIENT_INFO });
  const isolated = new Map<string, LegacyChannel>();
  const streams = new Set<ServerResponse>();
  shared.onBroadcast((m) => broadcast(streams, m));
  if (config.mode === 'shared') shared.start();

  function channelFor(session: ClientSession): LegacyChannel {
    if (config.mode === 'shared') return shared;
    let channel = isolated.get(session.id);
    if (!channel) {
      // A session restored after a restart gets a fresh child, initialised as its client did.
      channel = newChannel(session.initParams);
      isolated.set(session.id, channel);
      const sessionStreams = session.streams;
      channel.onBroadcast((m) => broadcast(sessionStreams, m));
      session.onEnd = async () => {
        isolated.delete(session.id);
        await channel!.close();
      };
    }
    return channel;
  }

  return {
    name,
    async initialize(ctx, request, version) {
      const initParams: JsonObject = { ...request.params, protocolVersion: version };
      let init: JsonObject;
      let channel: LegacyChannel | undefined;
      if (config.mode === 'shared') {
        init = initializeResultFor(await shared.ready(), version);
      } else {
        channel = newChannel(initParams);
        init = await channel.ready().catch(async (err) => {
          await channel!.close();
          throw err;
        });
      }
      const session = await deps.sessions.create({
        server: name,
        principal: ctx.principal,
        protocolVersion: typeof init.protocolVersion === 'string' ? init.protocolVersion : version,
        initParams,
        upstreamSessionId: null,
      });
      if (channel) {
        isolated.set(session.id, channel);
        channel.onBroadcast((m) => broadcast(session.streams, m));
        const own = channel;
        session.onEnd = async () => {
          isolated.delete(session.id);
          await own.close();
        };
      }
      new ClientStream(ctx.res, sessionHeaders(session)).final(resultMessage(request.id, init));
    },

    async sessionMessage(ctx, session, message) {
      const channel = channelFor(session);
      if (message.kind === 'request') {
        if (answerLocally(ctx.res, message)) return;
        serveChannelCall(channel, session.id, message, ctx.res, undefined, ctx.outcome);
      } else if (message.kind === 'notification') {
        channel.notify(session.id, message);
        ctx.res.writeHead(202).end();
      } else if (channel.respond(session.id, message)) {
        ctx.res.writeHead(202).end();
      } else {
        sendWireError(ctx.res, wireError(400, RpcCode.INVALID_REQUEST, 'Invalid Request: no pending server request has this id', { id: message.id }));
      }
    },

    async openStream(ctx, session) {
      openGatewayStream(ctx.res, session, config.mode === 'shared' ? streams : session.streams);
    },

    async endSession(ctx, session) {
      await deps.sessions.end(session);
      ctx.res.writeHead(200).end();
    },

    async modern(ctx, message, _version) {
      if (message.kind !== 'request') {
        ctx.res.writeHead(202).end();
        return;
      }
      if (message.method === 'server/discover') {
        const init = await shared.ready();
        new ClientStream(ctx.res).final(resultMessage(message.id, discoverResultFor(init)));
        return;
      }
      deps.bridge.serve(shared, ctx.principal, message as RequestMessage, ctx.res, ctx.outcome);
    },

    health: () => ({ name, transport: 'stdio', state: shared.state, pid: shared.pid }),

    async close() {
      for (const res of streams) res.end();
      await Promise.all([shared.close(), ...[...isolated.values()].map((c) => c.close())]);
    },
  };
}

function broadcast(streams: Set<ServerResponse>, message: NotificationMessage | Message): void {
  if (streams.size === 0) return;
  const event = formatSseEvent(serializeMessage(message));
  for (const res of streams) res.write(event);
}
