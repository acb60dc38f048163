import { Fragment, type ReactNode } from "react";

export type Column<T> = { key: string; header: ReactNode; cell: (row: T) => ReactNode };

/**
 * The one list table the alert pages share (alerts, channels, deliveries):
 * columns as render functions, an empty message instead of a bare header, and
 * an optional full-width row under a row for its details.
 */
export function DataTable<T>({
  rows,
  columns,
  rowKey,
  testId,
  rowTestId,
  empty,
  expanded,
}: {
  rows: readonly T[] | undefined;
  columns: Column<T>[];
  rowKey: (row: T) => string;
  testId?: string;
  rowTestId?: string;
  empty?: ReactNode;
  /** Rendered in a row spanning the table under `row` when it returns something. */
  expanded?: (row: T) => ReactNode;
}) {
  if (!rows) return null;
  if (rows.length === 0) return <p className="muted" data-testid={testId ? `${testId}-empty` : undefined}>{empty ?? "Nothing here yet."}</p>;
  return (
    <table data-testid={testId}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.key}>{c.header}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => {
          const key = rowKey(row);
          const extra = expanded?.(row);
          return (
            <Fragment key={key}>
              <tr data-testid={rowTestId} data-key={key}>
                {columns.map((c) => (
                  <td key={c.key}>{c.cell(row)}</td>
                ))}
              </tr>
              {extra ? (
                <tr className="expanded">
                  <td colSpan={columns.length}>{extra}</td>
                </tr>
              ) : null}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}
