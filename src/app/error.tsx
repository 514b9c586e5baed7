"use client";

/** Unexpected failures (the database or Redis unreachable while rendering): say so, offer to retry. */
export default function ErrorPage({ retry }: { error: unknown; retry: () => void }) {
  return (
    <main className="page">
      <section className="card">
        <h1>Something went wrong</h1>
        <p>The dashboard could not load this page. The server may not reach its database or Redis; details are in its log.</p>
        <button type="button" className="button" onClick={() => retry()}>
          Try again
        </button>
      </section>
    </main>
  );
}
