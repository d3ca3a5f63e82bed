/**
 * The rows of an `UPDATE`/`DELETE ... RETURNING` run through TypeORM's `query()`: the postgres
 * driver answers those with `[rows, rowCount]`, not with the rows (an INSERT or SELECT gives the
 * rows). Counting the outer array would always see two.
 */
export function returnedRows(result: unknown): unknown[] {
  const list = result as unknown[];
  return Array.isArray(list[0]) ? (list[0] as unknown[]) : list;
}
