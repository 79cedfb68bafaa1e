import { keepPreviousData, useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { EventRow } from '../../components/EventList';
import { Field } from '../../components/Field';
import { useFocusOnMount, useNow } from '../../components/hooks';
import { LoadMoreFooter } from '../../components/LoadMoreFooter';
import {
  actorForAdmin,
  EVENT_TYPE_LABELS,
  EVENT_TYPES,
  type EventType,
  endOfDay,
  shownSummary,
  startOfDay,
} from '../../lib/activity';
import { genericMessage } from '../../lib/errors';
import { meQueryOptions } from '../../lib/me';
import { type AuditFilters, adminUserPath, auditLogSearch } from '../../lib/paths';
import { useTRPC } from '../../lib/trpc';
import { useServices } from '../../services';

export const AUDIT_PAGE_SIZE = 25;

const isEventType = (value: string): value is EventType => (EVENT_TYPES as readonly string[]).includes(value);

/** The filters the URL holds (`types`, `email`, `from`, `to`): unknown types are dropped. */
interface Filters extends Required<AuditFilters> {
  types: EventType[];
}

function filtersOf(search: URLSearchParams): Filters {
  return {
    types: (search.get('types') ?? '').split(',').filter(isEventType),
    email: search.get('email') ?? '',
    from: search.get('from') ?? '',
    to: search.get('to') ?? '',
  };
}

export function AuditLogScreen() {
  const trpc = useTRPC();
  const services = useServices();
  const queryClient = useQueryClient();
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const now = useNow(30_000);
  const typesLegend = useId();
  const [search, setSearch] = useSearchParams();
  const applied = filtersOf(search);
  const [form, setForm] = useState<Filters>(applied);
  const [rangeError, setRangeError] = useState<string | null>(null);
  const me = useQuery(meQueryOptions(services.clients.trpc, services.tracker));
  // Back and Forward (and links from a user's page) change the URL: the form follows.
  const searchKey = search.toString();
  useEffect(() => {
    setForm(filtersOf(new URLSearchParams(searchKey)));
  }, [searchKey]);

  const from = applied.from ? startOfDay(applied.from) : null;
  const to = applied.to ? endOfDay(applied.to) : null;
  const log = useInfiniteQuery(
    trpc.admin.auditEvents.infiniteQueryOptions(
      {
        ...(applied.types.length ? { types: applied.types } : {}),
        ...(applied.email ? { email: applied.email } : {}),
        ...(from !== null ? { from } : {}),
        ...(to !== null ? { to } : {}),
        limit: AUDIT_PAGE_SIZE,
      },
      { getNextPageParam: (page) => page.nextCursor, placeholderData: keepPreviousData },
    ),
  );
  const firstNew = useRef<HTMLLIElement | null>(null);
  const [focusIndex, setFocusIndex] = useState<number | null>(null);

  const events = log.data?.pages.flatMap((page) => page.events) ?? [];
  const filtered = applied.types.length > 0 || applied.email || applied.from || applied.to;

  function apply(event: FormEvent) {
    event.preventDefault();
    const start = form.from ? startOfDay(form.from) : null;
    const end = form.to ? endOfDay(form.to) : null;
    if (start !== null && end !== null && end <= start) {
      setRangeError('The end date is before the start date.');
      return;
    }
    setRangeError(null);
    setFocusIndex(null);
    const next = { ...form, email: form.email.trim() };
    setSearch(auditLogSearch(next));
  }

  function clear() {
    const empty: Filters = { types: [], email: '', from: '', to: '' };
    setForm(empty);
    setRangeError(null);
    setFocusIndex(null);
    setSearch({});
  }

  async function loadMore() {
    const before = events.length;
    const result = await log.fetchNextPage();
    if (!result.isError) {
      setFocusIndex(before);
      requestAnimationFrame(() => firstNew.current?.focus());
    }
  }

  const toggle = (type: EventType) =>
    setForm(
      (f): Filters => ({
        ...f,
        types: f.types.includes(type) ? f.types.filter((t) => t !== type) : [...f.types, type],
      }),
    );

  const summary = log.isPending
    ? ''
    : events.length === 0
      ? filtered
        ? 'No events match these filters.'
        : 'No events recorded yet.'
      : shownSummary(
          events.length,
          log.hasNextPage,
          `${filtered ? ' matching the filters' : ''}, newest first`,
        );

  return (
    <div className="screen">
      <div className="screen__header">
        <div>
          <h1 ref={heading} tabIndex={-1}>
            Audit log
          </h1>
          <p className="screen__lead">
            Every security event on every account: sign-ins, failed attempts, sessions ended, password and
            two-step changes, role and status changes.
          </p>
        </div>
        <button
          type="button"
          className="button button--ghost button--small"
          onClick={() => queryClient.invalidateQueries(trpc.admin.auditEvents.pathFilter())}
          disabled={log.isFetching}
        >
          {log.isFetching && !log.isFetchingNextPage ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>

      <section className="card card--padded" aria-labelledby="audit-filters">
        <h2 id="audit-filters" className="card__title card__title--flush">
          Filters
        </h2>
        <form className="filters" onSubmit={apply} noValidate>
          <fieldset className="checks" aria-describedby={`${typesLegend}-hint`}>
            <legend className="field__label">Event types</legend>
            <p className="field__hint" id={`${typesLegend}-hint`}>
              None checked: every type.
            </p>
            <div className="checks__grid">
              {EVENT_TYPES.map((type) => (
                <label key={type} className="check">
                  <input
                    type="checkbox"
                    name="types"
                    value={type}
                    checked={form.types.includes(type)}
                    onChange={() => toggle(type)}
                  />
                  <span>{EVENT_TYPE_LABELS[type]}</span>
                </label>
              ))}
            </div>
          </fieldset>
          <div className="filters__row">
            <Field
              label="User email"
              hint="The whole address."
              type="email"
              name="email"
              autoComplete="off"
              spellCheck={false}
              value={form.email}
              onChange={(e) => setForm((f) => ({ ...f, email: e.target.value }))}
            />
            <Field
              label="From"
              hint="On or after this day."
              type="date"
              name="from"
              value={form.from}
              onChange={(e) => setForm((f) => ({ ...f, from: e.target.value }))}
            />
            <Field
              label="To"
              hint="Up to the end of this day."
              type="date"
              name="to"
              value={form.to}
              error={rangeError}
              onChange={(e) => setForm((f) => ({ ...f, to: e.target.value }))}
            />
          </div>
          <div className="form__actions">
            <button type="submit" className="button button--primary">
              Apply filters
            </button>
            <button type="button" className="button button--ghost" onClick={clear}>
              Clear filters
            </button>
          </div>
        </form>
      </section>

      <section className="card" aria-labelledby="audit-events" aria-busy={log.isFetching}>
        <h2 id="audit-events" className="card__title">
          Events
        </h2>
        {log.isPending ? (
          <p className="card__empty">Loading events…</p>
        ) : log.isError && events.length === 0 ? (
          <p className="card__empty" role="alert">
            {genericMessage(log.error)}
          </p>
        ) : events.length === 0 ? null : (
          <ol className="event-list">
            {events.map((event, index) => (
              <EventRow
                key={event.id}
                ref={index === focusIndex ? firstNew : undefined}
                event={event}
                time="exact"
                now={now}
                who={actorForAdmin(event, {
                  userEmail: event.userEmail,
                  actorEmail: event.actorEmail,
                  actorIsMe: event.actor.userId !== null && event.actor.userId === me.data?.user.id,
                })}
                account={
                  event.userId && event.userEmail ? (
                    <Link to={adminUserPath(event.userId)}>{event.userEmail}</Link>
                  ) : event.userId ? (
                    'a deleted account'
                  ) : (
                    'no account (unknown email)'
                  )
                }
              />
            ))}
          </ol>
        )}
        <LoadMoreFooter status={summary} pages={log} onLoadMore={loadMore} />
      </section>
    </div>
  );
}

export default AuditLogScreen;
