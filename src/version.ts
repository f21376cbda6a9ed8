/** pcapper's own version, reported by every component and in pcapng section headers. */
export const PCAPPER_VERSION = '0.1.0';
