import { useSyncExternalStore } from "react";

const subscribe = () => () => {};

/**
 * false in the server render and until React has hydrated this page, then true. Submit buttons
 * stay disabled until then: a click before hydration makes the browser submit the form natively
 * (a GET with the fields in the URL) and the input is lost.
 */
export function useHydrated(): boolean {
  return useSyncExternalStore(
    subscribe,
    () => true,
    () => false,
  );
}
