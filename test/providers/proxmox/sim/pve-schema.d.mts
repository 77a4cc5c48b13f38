// Types of pve-schema.mjs (the generator of apidata-subset.json).
export declare const SUBSET_PATH: string;
export declare const ENDPOINTS: string[];
export declare const SOURCE: Record<string, string>;
/** The subset of a full apidata tree; throws when a listed endpoint is missing. */
export declare function extract(
  tree: unknown[],
  endpoints?: string[],
): { source: Record<string, string>; endpoints: Record<string, Record<string, unknown>> };
/** JSON with sorted keys below the top level, two-space indent, arrays of plain values on one line, final newline. */
export declare function stableJson(value: unknown): string;
/** The subset file's text from the full schema file. */
export declare function generate(fullPath: string): string;
