"use client";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorBanner, formValues, SelectField, SubmitButton } from "~/components/form";
import { errorMessage, fieldErrors } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";

type Filters = { customerId?: string; action?: string; actorEmail?: string; from?: Date; to?: Date };

function parseFilters(v: Record<string, string>): Filters {
  const f: Filters = {};
  if (v.customerId) f.customerId = v.customerId;
  if (v.action?.trim()) f.action = v.action.trim();
  if (v.actorEmail?.trim()) f.actorEmail = v.actorEmail.trim();
  if (v.from) f.from = new Date(`${v.from}T00:00:00`);
  // "to" is a whole day, inclusive.
  if (v.to) f.to = new Date(`${v.to}T23:59:59.999`);
  return f;
}

/** Why a sign-in failed, or how it succeeded: the short words of an event's metadata worth a column. */
function details(metadata: Record<string, unknown> | null | undefined): string {
  return [metadata?.reason, metadata?.method]
    .filter((v): v is string => typeof v === "string")
    .map((v) => v.replaceAll("_", " "))
    .join(" · ");
}

export function AuditPanel({ mspId }: { mspId: string }) {
  const trpc = useTRPC();
  const customers = useQuery(trpc.customers.list.queryOptions({ mspId }));
  const [filters, setFilters] = useState<Filters>({});
  const events = useInfiniteQuery(
    trpc.audit.list.infiniteQueryOptions({ mspId, ...filters }, { getNextPageParam: (last) => last.nextCursor ?? undefined }),
  );
  const fields = fieldErrors(events.error);
  const customerName = new Map(customers.data?.map((c) => [c.id, c.name]));

  return (
    <>
      <form
        className="card row"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(parseFilters(formValues(e.currentTarget)));
        }}
      >
        <SelectField
          label="Customer"
          name="customerId"
          options={[{ value: "", label: "All" }, ...(customers.data ?? []).map((c) => ({ value: c.id, label: c.name }))]}
          defaultValue=""
        />
        <div className="field">
          <label htmlFor="action">Action</label>
          <input id="action" name="action" placeholder="e.g. customer.create" />
          {fields.action ? <small className="field-error">{fields.action}</small> : null}
        </div>
        <div className="field">
          <label htmlFor="actorEmail">Actor email</label>
          <input id="actorEmail" name="actorEmail" />
          {fields.actorEmail ? <small className="field-error">{fields.actorEmail}</small> : null}
        </div>
        <div className="field">
          <label htmlFor="from">From</label>
          <input id="from" name="from" type="date" />
          {fields.from ? <small className="field-error">{fields.from}</small> : null}
        </div>
        <div className="field">
          <label htmlFor="to">To</label>
          <input id="to" name="to" type="date" />
          {fields.to ? <small className="field-error">{fields.to}</small> : null}
        </div>
        <SubmitButton>Filter</SubmitButton>
      </form>
      <ErrorBanner message={errorMessage(events.error)} />
      <table data-testid="audit-events">
        <thead>
          <tr>
            <th>When</th>
            <th>Who</th>
            <th>Action</th>
            <th>Target</th>
            <th>Customer</th>
            <th>From (IP)</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {events.data?.pages.flatMap((page) =>
            page.events.map((ev) => (
              <tr key={ev.id}>
                <td>{new Date(ev.createdAt).toLocaleString()}</td>
                <td>{ev.actorEmail ?? "system"}</td>
                <td>
                  <code>{ev.action}</code>
                </td>
                <td>{ev.targetType ? `${ev.targetType} ${ev.targetId ?? ""}` : "—"}</td>
                <td>{ev.customerId ? (customerName.get(ev.customerId) ?? ev.customerId) : "—"}</td>
                <td>{ev.ip ?? "—"}</td>
                <td>{details(ev.metadata)}</td>
              </tr>
            )),
          )}
        </tbody>
      </table>
      {events.data && events.data.pages.every((p) => p.events.length === 0) ? <p className="muted">No events match.</p> : null}
      {events.hasNextPage ? (
        <button type="button" className="secondary" onClick={() => events.fetchNextPage()} disabled={events.isFetchingNextPage}>
          Load more
        </button>
      ) : null}
    </>
  );
}
