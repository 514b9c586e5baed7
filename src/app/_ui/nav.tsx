"use client";
import Link from "next/link";
import { usePathname, useSearchParams } from "next/navigation";

/** The dashboard's sections; an admin's choice of tenant (?tenant=) travels with every link. */
export function Nav() {
  const pathname = usePathname();
  const tenant = useSearchParams().get("tenant");
  const query = tenant ? `?tenant=${encodeURIComponent(tenant)}` : "";
  const links: Array<[string, string]> = [
    ["/", "Overview"],
    ["/channels", "Channels"],
    ["/keys", "API keys"],
    ["/webhooks", "Webhooks"],
    ["/audit", "Token reads"],
  ];
  return (
    <nav className="nav">
      {links.map(([href, label]) => (
        <Link key={href} href={`${href}${query}`} className={pathname === href ? "active" : undefined}>
          {label}
        </Link>
      ))}
    </nav>
  );
}
