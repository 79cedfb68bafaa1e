import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { Field } from '../../components/Field';
import { useDebounced, useFocusOnMount } from '../../components/hooks';
import { genericMessage } from '../../lib/errors';
import { meQueryOptions } from '../../lib/me';
import { adminUserPath } from '../../lib/paths';
import { formatDateTime } from '../../lib/time';
import { useTRPC } from '../../lib/trpc';
import { useServices } from '../../services';

export const USERS_PAGE_SIZE = 25;
/** How long typing must pause before the list asks the server. */
export const SEARCH_DEBOUNCE_MS = 300;

/** The account's facts as badges; each says it in words (not by colour). */
export function UserBadges({ user }: { user: { role: string; mfaEnabled: boolean; disabled: boolean } }) {
  if (user.role !== 'admin' && !user.mfaEnabled && !user.disabled) return null;
  return (
    <span className="badges">
      {user.role === 'admin' ? <span className="badge badge--admin">Admin</span> : null}
      {user.mfaEnabled ? <span className="badge badge--on">2-step</span> : null}
      {user.disabled ? <span className="badge badge--danger">Disabled</span> : null}
    </span>
  );
}

export function UsersScreen() {
  const trpc = useTRPC();
  const services = useServices();
  const queryClient = useQueryClient();
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const [search, setSearch] = useSearchParams();
  const [text, setText] = useState(() => search.get('q') ?? '');
  const query = useDebounced(text.trim(), SEARCH_DEBOUNCE_MS);
  // The cursors of the pages before this one (the first page has none): Previous pops one.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const me = useQuery(meQueryOptions(services.clients.trpc, services.tracker));
  const users = useQuery(
    trpc.admin.listUsers.queryOptions(
      { ...(query ? { query } : {}), cursor, limit: USERS_PAGE_SIZE },
      { placeholderData: keepPreviousData },
    ),
  );

  // A new search starts at its first page, and is kept in the URL (Back from a user's page).
  useEffect(() => {
    setCursors([null]);
    setSearch(query ? { q: query } : {}, { replace: true });
  }, [query, setSearch]);

  const list = users.data?.users ?? [];
  const page = cursors.length;
  const first = (page - 1) * USERS_PAGE_SIZE + 1;
  const summary = users.isPending
    ? ''
    : list.length === 0
      ? query
        ? `No user’s email starts with “${query}”.`
        : 'No users.'
      : `Users ${first}–${first + list.length - 1}${query ? ` whose email starts with “${query}”` : ''}.`;

  return (
    <div className="screen">
      <div className="screen__header">
        <div>
          <h1 ref={heading} tabIndex={-1}>
            Users
          </h1>
          <p className="screen__lead">
            Find an account by the start of its email, then open it to see its sessions and activity, change
            its role, reset two-step verification or disable it.
          </p>
        </div>
        <button
          type="button"
          className="button button--ghost button--small"
          onClick={() => queryClient.invalidateQueries(trpc.admin.listUsers.pathFilter())}
          disabled={users.isFetching}
        >
          {users.isFetching ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>

      <search className="toolbar">
        <Field
          label="Search by email"
          hint="The start of the address, e.g. “ada” or “ada@example”. Not case-sensitive."
          type="search"
          name="q"
          autoComplete="off"
          spellCheck={false}
          inputMode="email"
          className="toolbar__search"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
      </search>

      <p className="list-status" role="status" aria-live="polite">
        {summary}
      </p>

      {users.isPending ? (
        <p className="card card--padded" aria-busy="true">
          Loading users…
        </p>
      ) : users.isError ? (
        <p className="card card--padded" role="alert">
          {genericMessage(users.error)}
        </p>
      ) : list.length === 0 ? null : (
        <div className="card">
          <table className="table" aria-busy={users.isFetching}>
            <caption className="visually-hidden">Users: email, role and status, created</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role and status</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.map((user) => (
                <tr key={user.id}>
                  <th scope="row" data-label="Email">
                    <Link to={adminUserPath(user.id)} className="table__link">
                      {user.email}
                    </Link>
                    {user.id === me.data?.user.id ? <span className="badge badge--current">You</span> : null}
                  </th>
                  <td data-label="Role and status">
                    <UserBadges user={user} />
                    {user.role === 'admin' || user.mfaEnabled || user.disabled ? null : (
                      <span className="muted">User</span>
                    )}
                  </td>
                  <td data-label="Created">
                    <time dateTime={new Date(user.createdAt).toISOString()}>
                      {formatDateTime(user.createdAt)}
                    </time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {page > 1 || users.data?.nextCursor ? (
        <nav className="pager" aria-label="Pages of users">
          <button
            type="button"
            className="button button--secondary"
            disabled={page === 1 || users.isFetching}
            onClick={() => setCursors((c) => c.slice(0, -1))}
          >
            Previous
          </button>
          <span className="pager__page">Page {page}</span>
          <button
            type="button"
            className="button button--secondary"
            disabled={!users.data?.nextCursor || users.isFetching}
            onClick={() => {
              const next = users.data?.nextCursor;
              if (next) setCursors((c) => [...c, next]);
            }}
          >
            Next
          </button>
        </nav>
      ) : null}
    </div>
  );
}

export default UsersScreen;
