import type { Metadata } from "next";
import type { ReactNode } from "react";
import { Providers } from "~/lib/trpc";
import "./globals.css";

export const metadata: Metadata = { title: "Tidemark", description: "Continuous, verified backup for MSPs" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers>{children}</Providers>
      </body>
    </html>
  );
}
