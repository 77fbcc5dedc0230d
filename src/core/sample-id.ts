// The id of one sampled response of a record with several (log-reader.ts makes
// them): RECORD#i, 0-based. Every reader that tells samples apart (the store's
// coverage, the report's rows, the editor's index) reads ids back here.

const SAMPLE_ID = /#(\d+)$/;

export function sampleId(record: string, index: number): string {
  return `${record}#${index}`;
}

/** Of a sampled response's id: its record's id and its index; undefined for any other id. */
export function parseSampleId(id: string): { group: string; index: number } | undefined {
  const m = SAMPLE_ID.exec(id);
  return m ? { group: id.slice(0, m.index), index: Number(m[1]) } : undefined;
}
