/** The product's mark and name, in the top bar and (larger) on the sign-in card. */
export function Brand({ big = false }: { big?: boolean }) {
  return (
    <div className={big ? "brand big" : "brand"}>
      <span className="logo" aria-hidden>
        ↻
      </span>{" "}
      Refresca
    </div>
  );
}
