"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import { DeliveriesTable } from "~/components/deliveries-table";
import { ErrorBanner } from "~/components/form";
import { errorMessage } from "~/lib/errors";
import { useTRPC } from "~/lib/trpc";

/** The MSP's delivery log, newest first; refreshes quickly while anything is still pending. */
export function DeliveriesPanel({ mspId }: { mspId: string }) {
  const trpc = useTRPC();
  const log = useInfiniteQuery({
    ...trpc.alerts.deliveries.infiniteQueryOptions({ mspId, limit: 50 }, { getNextPageParam: (last) => last.nextCursor ?? undefined }),
    refetchInterval: (q) => (q.state.data?.pages.some((p) => p.deliveries.some((d) => d.state === "pending")) ? 3000 : 15_000),
  });
  return (
    <>
      <h2>Delivery log</h2>
      <ErrorBanner message={errorMessage(log.error)} />
      <DeliveriesTable rows={log.data?.pages.flatMap((p) => p.deliveries)} />
      {log.hasNextPage ? (
        <button type="button" className="secondary" onClick={() => log.fetchNextPage()} disabled={log.isFetchingNextPage}>
          Load more
        </button>
      ) : null}
    </>
  );
}
