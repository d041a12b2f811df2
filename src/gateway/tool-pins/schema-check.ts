import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';

/** Checks one call's arguments: undefined when they fit, else what is wrong with them. */
export type ArgumentsCheck = (args: unknown) => string | undefined;

/**
 * Compiles a tool's `inputSchema` once (per pin) into a check for its calls: the only module that
 * knows about ajv. MCP (2025-11-25) makes JSON Schema 2020-12 the default dialect of tool
 * schemas; a schema that names draft-07 (or older) gets that dialect instead. Formats are not
 * validated: they are annotations in 2020-12 and the upstream validates them anyway.
 *
 * A schema ajv cannot compile returns undefined (no check): the gateway cannot judge arguments
 * against a schema it does not understand, and refusing every call would break a working tool.
 */
export function createSchemaCompiler(): (schema: unknown) => ArgumentsCheck | undefined {
  // Schemas are compiled without being kept by $id: two tools (or two versions of one) may share one.
  const options = { strict: false, validateFormats: false, addUsedSchema: false, allErrors: false } as const;
  let modern: Ajv2020 | undefined;
  let draft7: Ajv | undefined;
  return (schema) => {
    if (schema === null || typeof schema !== 'object') return undefined;
    const dialect = (schema as { $schema?: unknown }).$schema;
    const ajv = typeof dialect === 'string' && /draft-0[4-7]/.test(dialect) ? (draft7 ??= new Ajv(options)) : (modern ??= new Ajv2020(options));
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(schema as object);
    } catch {
      return undefined;
    }
    return (args) => {
      if (validate(args ?? {})) return undefined;
      const [first] = validate.errors ?? [];
      return first ? `${first.instancePath || '(arguments)'} ${first.message ?? 'is invalid'}` : 'arguments do not match the input schema';
    };
  };
}
