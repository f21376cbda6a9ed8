/** Value formats shared by the trigger schema and the PacketCapture schema (no imports: no cycles). */
export const SECONDS_STRING = '^([0-9]{1,6}|([0-9]{1,5}h)?([0-9]{1,5}m)?([0-9]{1,6}s)?)$';
/** A quantity with a unit (k, M, G, Ki, Mi, Gi): the window bound in memory. */
export const SIZE_STRING_TRIGGER = '^[0-9]{1,7}(k|M|G|Ki|Mi|Gi)$';
