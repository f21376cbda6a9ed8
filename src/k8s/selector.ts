/**
 * Label selector matching (metav1.LabelSelector semantics), pure. Used by the controller to
 * resolve podSelector and workload selectors from its pod cache, and by the agent if it wants.
 */
export interface LabelSelectorRequirement {
  key: string;
  /** In, NotIn, Exists or DoesNotExist */
  operator: string;
  values?: string[];
}
export interface LabelSelectorLike {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Whether `labels` match `sel`. An empty selector matches everything (callers refuse it first). */
export function matchesSelector(sel: LabelSelectorLike, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const r of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.operator) {
      case 'In':
        if (!has || v === undefined || !(r.values ?? []).includes(v)) return false;
        break;
      case 'NotIn':
        if (has && v !== undefined && (r.values ?? []).includes(v)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false; // unknown operator: match nothing
    }
  }
  return true;
}

/** Renders a selector as a ?labelSelector= string (for list/watch). */
export function selectorToString(sel: LabelSelectorLike): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const r of sel.matchExpressions ?? []) {
    const vals = (r.values ?? []).join(',');
    if (r.operator === 'In') parts.push(`${r.key} in (${vals})`);
    else if (r.operator === 'NotIn') parts.push(`${r.key} notin (${vals})`);
    else if (r.operator === 'Exists') parts.push(r.key);
    else if (r.operator === 'DoesNotExist') parts.push(`!${r.key}`);
  }
  return parts.join(',');
}
