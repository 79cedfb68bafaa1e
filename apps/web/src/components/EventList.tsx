import type { ReactNode, Ref } from 'react';
import { describeEvent, type EventLike, eventFlag } from '../lib/activity';
import { formatDateTime } from '../lib/time';
import { ChipGlyph } from './DeviceBoundBadge';
import { deviceTitle } from './DeviceIcon';
import { RelativeTime } from './RelativeTime';

/** What kind of thing happened, as a line icon (decorative: the title says it); flagged ones warn. */
function EventIcon({ type }: { type: string }) {
  const stroke = { fill: 'none', stroke: 'currentColor', strokeWidth: 1.6, strokeLinecap: 'round' } as const;
  return (
    <svg className="event__svg" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      {eventFlag(type) ? (
        <>
          <path d="M12 3.5 21 19.5H3z" {...stroke} strokeLinejoin="round" />
          <path d="M12 10v4.5M12 17v.2" {...stroke} />
        </>
      ) : type === 'sign_in' ? (
        <path d="M10 8l4 4-4 4M14 12H3.5M13 4h5.5a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2H13" {...stroke} />
      ) : type === 'session_ended' ? (
        <path d="M15 8l4 4-4 4M19 12H8.5M11 4H5.5a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2H11" {...stroke} />
      ) : type === 'password_changed' ? (
        <>
          <circle cx="8" cy="12" r="4" {...stroke} />
          <path d="M12 12h8.5M17.5 12v3M20.5 12v2.5" {...stroke} />
        </>
      ) : type === 'device_bound' ? (
        <ChipGlyph strokeWidth={stroke.strokeWidth} />
      ) : type === 'mfa_enabled' || type === 'mfa_disabled' ? (
        <path d="M12 3l7.5 3v5.5c0 4.5-3.2 8-7.5 9.5-4.3-1.5-7.5-5-7.5-9.5V6z" {...stroke} />
      ) : (
        <>
          <circle cx="12" cy="8" r="3.5" {...stroke} />
          <path d="M5 20c.8-3.7 3.6-5.5 7-5.5s6.2 1.8 7 5.5" {...stroke} />
        </>
      )}
    </svg>
  );
}

export interface EventRowProps {
  event: EventLike;
  /** Who did it, in words ("you, on this device", "an administrator"). */
  who: string;
  now: number;
  /** `relative` ("3 minutes ago", exact on hover) for a person's own list; `exact` for the audit log. */
  time?: 'relative' | 'exact';
  /** Extra facts shown first (the audit log: whose account). */
  account?: ReactNode;
  action?: ReactNode;
  ref?: Ref<HTMLLIElement>;
}

/** One security event: what happened, who, on which device, from which IP, when. */
export function EventRow({ event, who, now, time = 'relative', account, action, ref }: EventRowProps) {
  const title = describeEvent(event);
  const flag = eventFlag(event.type);
  const device = event.browser || event.os ? deviceTitle(event) : 'Unknown';
  return (
    <li
      ref={ref}
      tabIndex={-1}
      className={flag ? 'event event--alert' : 'event'}
      aria-label={flag ? `${flag}: ${title}` : title}
    >
      <div className="event__icon">
        <EventIcon type={event.type} />
      </div>
      <div className="event__body">
        <p className="event__title">
          {flag ? <span className="badge badge--alert">{flag}</span> : null}
          <span>{title}</span>
        </p>
        <dl className="event__facts">
          {account ? (
            <div>
              <dt>Account</dt>
              <dd>{account}</dd>
            </div>
          ) : null}
          <div>
            <dt>By</dt>
            <dd>{who}</dd>
          </div>
          <div>
            <dt>Device</dt>
            <dd>{device}</dd>
          </div>
          <div>
            <dt>IP address</dt>
            <dd className="tabular">{event.ip ?? 'Unknown'}</dd>
          </div>
          <div>
            <dt>When</dt>
            <dd>
              {time === 'exact' ? (
                <time dateTime={new Date(event.at).toISOString()}>{formatDateTime(event.at)}</time>
              ) : (
                <RelativeTime at={event.at} now={now} />
              )}
            </dd>
          </div>
        </dl>
      </div>
      {action ? <div className="event__action">{action}</div> : null}
    </li>
  );
}
