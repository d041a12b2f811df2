import { parseArgs } from 'node:util';
import { isAdminError } from '../admin/admin-error.js';
import { CliError, type CliCommand, COMMON_OPTIONS } from './command.js';
import { COLUMNS, positionals, printPolicyRows, withPolicyAdmin } from './policy-context.js';

/**
 * `portcullis revoke <id>`: revokes a permission (deletes the grant) or, given a delegation id, the
 * delegation (everything delegated below it is cut too). Agents: `portcullis agents revoke`.
 */
export const revokeCommand: CliCommand = {
  name: 'revoke',
  summary: 'revoke <permission-id|delegation-id>   revoke a grant or a delegation',
  async run(argv) {
    const { values, positionals: args } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: COMMON_OPTIONS,
    });
    const [id] = positionals(args, 1, 'revoke <permission-id|delegation-id>');
    const json = values.json === true;
    return withPolicyAdmin(values.config, async (admin) => {
      try {
        printPolicyRows([await admin.revokePermission(id)], COLUMNS.permission, json);
        return 0;
      } catch (err) {
        if (!isAdminError(err) || err.code !== 'NOT_FOUND') throw err;
      }
      try {
        printPolicyRows([await admin.revokeDelegation(id)], COLUMNS.delegation, json);
        return 0;
      } catch (err) {
        if (!isAdminError(err) || err.code !== 'NOT_FOUND') throw err;
      }
      throw new CliError(`no permission or delegation ${id}`, 1);
    });
  },
};
