import { type NextRequest, NextResponse } from "next/server";

/** Header carrying the requested path to server layouts, so sign-in can return the user there. */
export const PATH_HEADER = "x-tidemark-path";

export function proxy(req: NextRequest) {
  const headers = new Headers(req.headers);
  headers.set(PATH_HEADER, req.nextUrl.pathname + req.nextUrl.search);
  return NextResponse.next({ request: { headers } });
}

// Pages only: API routes and assets never need it.
export const config = { matcher: ["/((?!api/|_next/|favicon.ico).*)"] };
