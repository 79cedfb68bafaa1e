import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { Alert } from '../components/Alert';
import { useFocusOnMount } from '../components/hooks';
import { ReauthCancelled, useFresh } from '../components/Reauth';
import { errorCode, genericMessage } from '../lib/errors';
import { meQueryOptions } from '../lib/me';
import { paths } from '../lib/paths';
import { useTRPC } from '../lib/trpc';
import { useServices } from '../services';

/** The session count, when the server includes it (admin.listUsers may add `sessionCount`). */
function sessionCountOf(user: object): number | null {
  return 'sessionCount' in user && typeof user.sessionCount === 'number' ? user.sessionCount : null;
}

export function AdminScreen() {
  const trpc = useTRPC();
  const services = useServices();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const me = useQuery(meQueryOptions(services.clients.trpc, services.tracker));
  const users = useQuery(trpc.admin.listUsers.queryOptions());
  const setRole = useMutation(trpc.admin.setRole.mutationOptions());
  const fresh = useFresh();
  const [message, setMessage] = useState<{ tone: 'success' | 'error'; text: string } | null>(null);

  async function changeRole(user: { id: string; email: string }, role: 'admin' | 'user') {
    setMessage(null);
    try {
      // Admin changes need a password entry in the last few minutes (the server's fresh window).
      const result = await fresh(
        () => setRole.mutateAsync({ userId: user.id, role }),
        `change the role of ${user.email}`,
      );
      const n = result.sessionsUpdated;
      setMessage({
        tone: 'success',
        text: `${user.email} is now ${role === 'admin' ? 'an administrator' : 'a user'}. ${
          n === 0
            ? 'They have no active sessions.'
            : `Their ${n} active session${n === 1 ? '' : 's'} follow${n === 1 ? 's' : ''} on the next request.`
        }`,
      });
      await queryClient.invalidateQueries(trpc.admin.listUsers.pathFilter());
      if (user.id === me.data?.user.id && role !== 'admin') {
        services.session.setNotice('You are no longer an administrator.');
        await queryClient.invalidateQueries(trpc.auth.me.pathFilter());
        navigate(paths.sessions);
      }
    } catch (error) {
      if (error instanceof ReauthCancelled) return;
      setMessage({
        tone: 'error',
        text:
          errorCode(error) === 'CONFLICT' || errorCode(error) === 'NOT_FOUND'
            ? error instanceof Error
              ? error.message
              : genericMessage(error)
            : genericMessage(error),
      });
    }
  }

  const list = users.data?.users ?? [];
  return (
    <div className="screen">
      <div className="screen__header">
        <div>
          <h1 ref={heading} tabIndex={-1}>
            Users
          </h1>
          <p className="screen__lead">
            Everyone with an account, their role and how many sessions they have.
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
      <Alert tone={message?.tone ?? 'success'}>{message?.text}</Alert>
      {users.isPending ? (
        <p className="card card--padded" aria-busy="true">
          Loading users…
        </p>
      ) : users.isError ? (
        <p className="card card--padded" role="alert">
          {genericMessage(users.error)}
        </p>
      ) : (
        <div className="card">
          <table className="table">
            <caption className="visually-hidden">
              Users ({users.data.total}): email, role, two-step verification, active sessions
            </caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Two-step</th>
                <th scope="col">Sessions</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((user) => {
                const count = sessionCountOf(user);
                const self = user.id === me.data?.user.id;
                return (
                  <tr key={user.id}>
                    <th scope="row" data-label="Email">
                      {user.email}
                      {self ? <span className="badge badge--current">You</span> : null}
                    </th>
                    <td data-label="Role">
                      <span className={user.role === 'admin' ? 'badge badge--admin' : 'badge badge--off'}>
                        {user.role === 'admin' ? 'Admin' : 'User'}
                      </span>
                    </td>
                    <td data-label="Two-step">{user.mfaEnabled ? 'On' : 'Off'}</td>
                    <td data-label="Sessions" className="tabular">
                      {count ?? <span title="The server doesn't report session counts yet">—</span>}
                    </td>
                    <td className="table__action">
                      <button
                        type="button"
                        className="button button--secondary button--small"
                        disabled={setRole.isPending}
                        aria-label={
                          user.role === 'admin'
                            ? `Make ${user.email} a user`
                            : `Make ${user.email} an administrator`
                        }
                        onClick={() => changeRole(user, user.role === 'admin' ? 'user' : 'admin')}
                      >
                        {user.role === 'admin' ? 'Make user' : 'Make admin'}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
