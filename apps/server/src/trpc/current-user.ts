import type { AppSession } from '../sessions/session-data.js';
import type { User } from '../users/repository.js';
import type { Context } from './context.js';
import { unauthorized } from './errors.js';
import { endPresentedSession } from './sign-in.js';

/** The signed-in user, or UNAUTHORIZED when the account is gone (its session then ends too). */
export async function currentUser(ctx: Context & { session: AppSession }): Promise<User> {
  const user = await ctx.deps.users.findById(ctx.session.userId);
  if (user) return user;
  await endPresentedSession(ctx);
  throw unauthorized('unknown', 'This account no longer exists');
}
