// The one definition of every name format pcapper checks: Kubernetes object names, interface and
// file names, and the system namespace. The CRD schema uses the pattern strings; code calls the
// predicates, which also check the length limits that a pattern alone does not.

/** The namespace pcapper's components run in unless configured otherwise. */
export const SYSTEM_NAMESPACE = 'pcapper';

/** DNS-1123 label (namespaces): lower-case letters, digits and '-', at most 63 characters. */
export const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS1123_LABEL_MAX = 63;
/** DNS-1123 subdomain (pod, node and workload names): labels joined by '.', at most 253 characters. */
export const DNS1123_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const DNS1123_SUBDOMAIN_MAX = 253;
/**
 * A Linux interface name (IFNAMSIZ: at most 15 bytes). No '/', no whitespace, no leading '-' or
 * '.', so it can be neither a path nor a flag; `any` is allowed.
 */
export const INTERFACE_NAME = '^[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,14}$';
/** A plain file or path-segment name: no '/', no leading '.' or '-' (never a path, never a flag). */
export const FILE_NAME = '^[A-Za-z0-9][A-Za-z0-9_.:@-]*$';
/** NAME_MAX of Linux file systems. */
export const MAX_FILE_NAME_LENGTH = 255;

/** A label value, or the name part of a label key: at most 63 of letters, digits, '-', '_', '.', alphanumeric at both ends; a value may be empty. */
export const LABEL_VALUE = '^(([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?)$';
export const LABEL_VALUE_MAX = 63;

const LABEL_RE = new RegExp(DNS1123_LABEL);
const LABEL_VALUE_RE = new RegExp(LABEL_VALUE);
const SUBDOMAIN_RE = new RegExp(DNS1123_SUBDOMAIN);
const INTERFACE_RE = new RegExp(INTERFACE_NAME);
const FILE_NAME_RE = new RegExp(FILE_NAME);

/** A namespace name (DNS-1123 label, at most 63 characters). */
export const isDns1123Label = (v: string): boolean => v.length <= DNS1123_LABEL_MAX && LABEL_RE.test(v);
/** A pod, node or workload name (DNS-1123 subdomain, at most 253 characters). */
export const isDns1123Subdomain = (v: string): boolean => v.length <= DNS1123_SUBDOMAIN_MAX && SUBDOMAIN_RE.test(v);
/** A label value (may be empty). */
export const isLabelValue = (v: string): boolean => v.length <= LABEL_VALUE_MAX && LABEL_VALUE_RE.test(v);
/** The name part of a label key (not empty). */
export const isLabelName = (v: string): boolean => v !== '' && isLabelValue(v);
/** A Linux interface name (see INTERFACE_NAME). */
export const isInterfaceName = (v: string): boolean => INTERFACE_RE.test(v);
/** A plain file name of at most `max` characters (see FILE_NAME). */
export const isPlainName = (v: string, max = MAX_FILE_NAME_LENGTH): boolean => v.length <= max && FILE_NAME_RE.test(v);

/** The wording of the formats, for error messages that say how to fix a name. */
export const NAME_RULES = {
  label: 'a DNS-1123 label (lower-case letters, digits and "-", at most 63 characters)',
  subdomain: 'a DNS-1123 subdomain (lower-case letters, digits, "-" and ".", at most 253 characters)',
} as const;
