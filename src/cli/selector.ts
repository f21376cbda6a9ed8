/**
 * kubectl label selector syntax -> a Kubernetes LabelSelector (pure).
 *
 *   app=web, tier==front       -> matchLabels
 *   env!=prod                  -> NotIn [prod]
 *   env in (a, b), env notin (c) -> In / NotIn
 *   key, !key                  -> Exists / DoesNotExist
 *
 * Requirements are separated by commas (commas inside parentheses belong to the value list).
 * Errors name the offending requirement.
 */
import { validateSelector } from '../api/validate.js';
import type { LabelSelector } from '../api/packetcapture.js';

export class SelectorError extends Error {
  override readonly name = 'SelectorError';
}

type Requirement = NonNullable<LabelSelector['matchExpressions']>[number];

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new SelectorError(`unbalanced ")" in selector "${s}"`);
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) throw new SelectorError(`unbalanced "(" in selector "${s}"`);
  out.push(cur);
  return out;
}

const KEY = String.raw`[A-Za-z0-9][-A-Za-z0-9_./]*`;
const VALUE = String.raw`[-A-Za-z0-9_.]*`;

export function parseSelector(text: string): LabelSelector {
  if (text.trim() === '') throw new SelectorError('empty selector: it would match every pod; give at least one requirement, e.g. app=web');
  const matchLabels: Record<string, string> = {};
  const matchExpressions: Requirement[] = [];
  for (const rawPart of splitTop(text)) {
    const part = rawPart.trim();
    if (part === '') throw new SelectorError(`empty requirement in selector "${text}"`);
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\((.*)\\)$`).exec(part))) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim());
      if (values.some((v) => v === '')) throw new SelectorError(`"${part}": empty value in the list`);
      matchExpressions.push({ key: m[1] as string, operator: m[2] === 'in' ? 'In' : 'NotIn', values });
    } else if ((m = new RegExp(`^(${KEY})\\s*(==|!=|=)\\s*(${VALUE})$`).exec(part))) {
      const [key, op, value] = [m[1] as string, m[2] as string, m[3] as string];
      if (op === '!=') matchExpressions.push({ key, operator: 'NotIn', values: [value] });
      else {
        if (key in matchLabels && matchLabels[key] !== value) {
          throw new SelectorError(`"${part}": ${key} is already required to be "${matchLabels[key]}"`);
        }
        matchLabels[key] = value;
      }
    } else if ((m = new RegExp(`^!\\s*(${KEY})$`).exec(part))) {
      matchExpressions.push({ key: m[1] as string, operator: 'DoesNotExist' });
    } else if ((m = new RegExp(`^(${KEY})$`).exec(part))) {
      matchExpressions.push({ key: m[1] as string, operator: 'Exists' });
    } else if (/[<>]/.test(part)) {
      throw new SelectorError(`"${part}": the operators < and > are not supported in pod selectors`);
    } else {
      throw new SelectorError(`"${part}" is not a label requirement (use key=value, key!=value, key in (a,b), key notin (a,b), key or !key)`);
    }
  }
  const sel: LabelSelector = {};
  if (Object.keys(matchLabels).length > 0) sel.matchLabels = matchLabels;
  if (matchExpressions.length > 0) sel.matchExpressions = matchExpressions;
  const problems = validateSelector(sel, 'selector');
  if (problems[0]) throw new SelectorError(`selector "${text}": ${problems[0].message}`);
  return sel;
}

/** Formats a LabelSelector back into kubectl syntax (for tables and `describe`). */
export function formatSelector(sel: LabelSelector | undefined): string {
  if (!sel) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const vals = e.values ?? [];
    switch (e.operator) {
      case 'In':
        parts.push(`${e.key} in (${vals.join(',')})`);
        break;
      case 'NotIn':
        parts.push(vals.length === 1 ? `${e.key}!=${vals[0]}` : `${e.key} notin (${vals.join(',')})`);
        break;
      case 'Exists':
        parts.push(e.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${e.key}`);
        break;
    }
  }
  return parts.join(',');
}

/** True when `labels` satisfy `sel` (used by `init` to preview matching pods). */
export function selectorMatches(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const v = labels[e.key];
    const vals = e.values ?? [];
    if (e.operator === 'In' && !(has && vals.includes(v as string))) return false;
    if (e.operator === 'NotIn' && has && vals.includes(v as string)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
