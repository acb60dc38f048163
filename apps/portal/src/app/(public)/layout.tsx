import type { ReactNode } from "react";

export default function PublicLayout({ children }: { children: ReactNode }) {
  return (
    <>
      <header className="topbar">
        <a className="brand" href="/">
          Tidemark
        </a>
      </header>
      <main className="narrow">{children}</main>
    </>
  );
}
