import { hashPassword } from '../oauth/password.js';
import { CliError, type CliCommand } from './command.js';

/**
 * `portcullis hash-password`: reads a password on stdin (so it stays out of shell history and
 * `ps`) and prints the scrypt hash that `oauth.users[].passwordHash` takes.
 */
export const hashPasswordCommand: CliCommand = {
  name: 'hash-password',
  summary: 'hash-password < password.txt       print the hash for oauth.users[].passwordHash',
  async run(argv) {
    if (argv.length > 0) throw new CliError('hash-password takes the password on stdin, not as an argument');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
    if (password.length === 0) throw new CliError('no password on stdin');
    process.stdout.write(`${await hashPassword(password)}\n`);
    return 0;
  },
};
