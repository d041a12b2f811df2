import { describe, expect, it } from 'vitest';
import { agent, buildPolicy } from './build-policy.js';

/** Lists of resources, templates and prompts are filtered by the action their use is decided with. */
describe('listPermitted', () => {
  const { engine } = buildPolicy({
    agents: [agent('A')],
    grants: {
      A: [
        { id: 'docs-read', resource: 'mcp:docs:**', actions: ['read'] },
        { id: 'docs-secret', resource: 'mcp:docs:file://secret', actions: ['read'], effect: 'deny' },
        { id: 'docs-greet', resource: 'mcp:docs:greet', actions: ['get'] },
        { id: 'wiki-call', resource: 'mcp:wiki:*', actions: ['call'] },
      ],
    },
  });

  it.each([
    ['read on docs: URIs and templates, minus the denied one', 'read', 'docs', ['file://readme', 'file://secret', 'file://notes/{id}'], ['file://readme', 'file://notes/{id}']],
    ['get on docs: only the granted prompt', 'get', 'docs', ['greet', 'summarise'], ['greet']],
    ['call grants do not list prompts', 'get', 'wiki', ['greet'], []],
    ['call grants do not list resources', 'read', 'wiki', ['wiki://page'], []],
    ['nothing on another server', 'read', 'other', ['file://readme'], []],
  ] as const)('%s', (_name, action, server, targets, expected) => {
    expect(engine.listPermitted('A', action, server, targets)).toEqual(expected);
  });
});
