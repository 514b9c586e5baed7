import type { Metadata } from "next/types";
import type { ReactNode } from "react";
import "./globals.css";

export const metadata: Metadata = {
  title: "Refresca",
  description: "Keeps the OAuth tokens of social channels alive.",
  robots: { index: false, follow: false },
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
