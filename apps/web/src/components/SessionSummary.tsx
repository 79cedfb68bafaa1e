import type { ReactNode } from 'react';
import { formatDateTime } from '../lib/time';
import { DeviceBoundBadge } from './DeviceBoundBadge';
import { DeviceIcon, deviceKind, deviceTitle } from './DeviceIcon';
import { RelativeTime } from './RelativeTime';

export interface SessionLike {
  id: string;
  browser: string | null;
  os: string | null;
  device: string | null;
  ip: string | null;
  createdAt: number;
  lastActivityAt: number;
  /** When the browser bound the session to a device key (ms); null or absent: a plain cookie session. */
  deviceBoundAt?: number | null;
}

/**
 * One session as a list item: device icon, browser and OS (with `badge` and "Device-bound" when it
 * is), IP, signed in at, last active.
 */
export function SessionSummary({
  session,
  now,
  badge,
  action,
}: {
  session: SessionLike;
  now: number;
  badge?: ReactNode;
  action?: ReactNode;
}) {
  const title = deviceTitle(session);
  return (
    <li className="session" aria-label={title}>
      <div className="session__icon">
        <DeviceIcon device={session.device} />
      </div>
      <div className="session__body">
        <p className="session__title">
          <span>{title}</span>
          {badge}
          {session.deviceBoundAt != null ? <DeviceBoundBadge since={session.deviceBoundAt} /> : null}
        </p>
        <dl className="session__facts">
          <div>
            <dt>Device</dt>
            <dd>{deviceKind(session.device)}</dd>
          </div>
          <div>
            <dt>IP address</dt>
            <dd className="tabular">{session.ip ?? 'Unknown'}</dd>
          </div>
          <div>
            <dt>Signed in</dt>
            <dd>
              <time dateTime={new Date(session.createdAt).toISOString()}>
                {formatDateTime(session.createdAt)}
              </time>
            </dd>
          </div>
          <div>
            <dt>Last active</dt>
            <dd>
              <RelativeTime at={session.lastActivityAt} now={now} />
            </dd>
          </div>
        </dl>
      </div>
      {action ? <div className="session__action">{action}</div> : null}
    </li>
  );
}
