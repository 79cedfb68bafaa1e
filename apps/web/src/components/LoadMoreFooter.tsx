import { genericMessage } from '../lib/errors';

/**
 * The footer of a list read page by page (TanStack Query's infinite queries): what is shown so far, a
 * failed next page, and the button for the next one.
 */
export function LoadMoreFooter({
  status,
  pages,
  onLoadMore,
}: {
  /** "Showing the latest 20 events." and the like (a live region: read out as pages arrive). */
  status: string;
  pages: {
    hasNextPage: boolean;
    isFetchingNextPage: boolean;
    isFetchNextPageError: boolean;
    error: unknown;
  };
  onLoadMore: () => void;
}) {
  return (
    <div className="card__footer">
      <p className="card__footer-status" role="status">
        {status}
      </p>
      {pages.isFetchNextPageError ? (
        <p className="field__error" role="alert">
          {genericMessage(pages.error)}
        </p>
      ) : null}
      {pages.hasNextPage ? (
        <button
          type="button"
          className="button button--secondary"
          onClick={onLoadMore}
          disabled={pages.isFetchingNextPage}
        >
          {pages.isFetchingNextPage ? 'Loading…' : 'Load more'}
        </button>
      ) : null}
    </div>
  );
}
