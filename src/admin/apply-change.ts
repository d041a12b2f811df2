import { policyAgentFromRow, type LoadError, type PolicyIndex } from '../policy/index.js';
import type { PolicyWrite } from '../store/policy-records.js';
import { compileBudgetRecord, compileDelegationRecord, compilePermissionRecord } from './compile-records.js';

/**
 * Applies one saved change to a live policy index: the entity's new row replaces what the index
 * holds, or removes it. Each put bumps the index version, so no cached decision computed before
 * the change is read again. Applying the same change twice is harmless, which is what lets the
 * in-process `onChange` path and the polling sync both apply it.
 *
 * A row that does not compile (it was valid when saved; only a damaged row or an older policy
 * module can get here) is removed from the index, so it grants nothing, and reported.
 */
export function applyPolicyChange(index: PolicyIndex, change: PolicyWrite): LoadError | null {
  switch (change.kind) {
    case 'agent':
      if (change.row === null) index.removeAgent(change.id);
      else index.putAgent(policyAgentFromRow(change.row));
      return null;
    case 'permission': {
      if (change.row === null) {
        index.removePermission(change.id);
        return null;
      }
      const compiled = compilePermissionRecord(change.row);
      if (compiled.ok) {
        index.putPermission(change.row.agentId, compiled.compiled);
        return null;
      }
      index.removePermission(change.id);
      return { kind: 'permission', id: change.id, errors: compiled.errors };
    }
    case 'delegation': {
      if (change.row === null) {
        index.removeDelegation(change.id);
        return null;
      }
      const compiled = compileDelegationRecord(change.row);
      if (compiled.ok) {
        index.putDelegation(compiled.compiled);
        return null;
      }
      index.removeDelegation(change.id);
      return { kind: 'delegation', id: change.id, errors: compiled.errors };
    }
    case 'budget': {
      if (change.row === null) {
        index.removeBudget(change.id);
        return null;
      }
      const compiled = compileBudgetRecord(change.row);
      if (compiled.ok) {
        index.putBudget(compiled.compiled);
        return null;
      }
      index.removeBudget(change.id);
      return { kind: 'budget', id: change.id, errors: compiled.errors };
    }
  }
}
