// The demo MCP server that `npm start` puts behind Portcullis. The gateway spawns it over stdio
// and speaks the 2025-era `initialize` handshake to it, so it stands in for the unchanged
// upstream servers Portcullis fronts. Each tool exercises one part of the forwarding path:
// `echo` a plain call, `slow_count` streamed progress, `ask_user` a server→client question.
//
// Written with SDK v2 (`@modelcontextprotocol/server`). `serveStdio` serves both protocol eras
// from one factory; `createDemoServer` is exported so the HTTP test fixture serves the very
// same tools.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { acceptedContent, inputRequired, inputResponse, McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import * as z from 'zod';

const answerSchema = z.object({ answer: z.string().meta({ title: 'Your answer' }) });

const README = `# Portcullis demo server

Tools: echo, slow_count (streams progress), ask_user (asks you a question).
Every call you make reaches this server only after the gateway has checked and audited it.
`;

/** Builds one demo server instance; the entry point decides which transport serves it. */
export function createDemoServer({ name = 'portcullis-demo' } = {}) {
  const server = new McpServer({ name, version: '1.0.0' });

  server.registerTool(
    'echo',
    { description: 'Echo the given text back', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );

  server.registerTool(
    'slow_count',
    {
      description: 'Count to `steps`, reporting progress at each step and waiting `delayMs` after it',
      inputSchema: z.object({
        steps: z.number().int().min(1).max(50).default(5),
        delayMs: z.number().int().min(0).max(5000).default(200),
      }),
    },
    async ({ steps, delayMs }, ctx) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      for (let step = 1; step <= steps; step++) {
        // Progress is only sent when asked for: each notification is tied to the request's
        // progressToken, and a client that sent none has nowhere to route it.
        if (progressToken !== undefined) {
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: { progressToken, progress: step, total: steps, message: `step ${step} of ${steps}` },
          });
        }
        // Report, then work: the final wait keeps the last notification from being read in
        // the same chunk as the result, which both SDK clients would drop (they dispatch
        // notifications a microtask late but retire the progress handler with the response).
        await sleep(delayMs, ctx.mcpReq.signal);
      }
      return { content: [{ type: 'text', text: `counted to ${steps}` }] };
    },
  );

  // Written in the 2026-07-28 multi-round-trip style: the handler returns `input_required`
  // until the answer arrives. On a 2025-era connection the SDK's legacy shim turns that into a
  // real `elicitation/create` request to the client and re-enters the handler with the reply,
  // so one handler serves both eras.
  server.registerTool(
    'ask_user',
    { description: 'Ask the user a question and report the answer', inputSchema: z.object({ question: z.string() }) },
    async ({ question }, ctx) => {
      const reply = inputResponse(ctx.mcpReq.inputResponses, 'answer');
      if (reply.kind === 'elicit' && reply.action !== 'accept') {
        return { content: [{ type: 'text', text: reply.action === 'decline' ? 'The user declined.' : 'The user cancelled.' }] };
      }
      const accepted = acceptedContent(ctx.mcpReq.inputResponses, 'answer', answerSchema);
      if (accepted === undefined) {
        return inputRequired({
          inputRequests: { answer: inputRequired.elicit({ message: question, requestedSchema: answerSchema }) },
        });
      }
      return { content: [{ type: 'text', text: `You answered: ${accepted.answer}` }] };
    },
  );

  server.registerResource(
    'readme',
    'demo://readme',
    { title: 'Demo server readme', mimeType: 'text/markdown' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/markdown', text: README }] }),
  );

  server.registerPrompt(
    'greet',
    { description: 'Greet someone by name', argsSchema: z.object({ name: z.string() }) },
    ({ name }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Say hello to ${name}.` } }] }),
  );

  return server;
}

// Stops waiting when the call is cancelled, so a cancelled count ends promptly.
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

// Importing this module (as the HTTP fixture does) must not take over the process's stdio.
const runAsMain = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (runAsMain) {
  serveStdio(() => createDemoServer());
  console.error('portcullis demo server ready on stdio');
}
