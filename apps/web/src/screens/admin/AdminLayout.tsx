import { Link, NavLink, Outlet, useLocation } from 'react-router';
import { paths } from '../../lib/paths';

/** The admin console's own navigation (Users, Audit log) above its screens. */
export function AdminLayout() {
  const { pathname } = useLocation();
  // A user's page belongs to Users; the audit log is a sibling, not a child, of /admin.
  const onUsers = pathname === paths.admin || pathname.startsWith(`${paths.admin}/users/`);
  return (
    <div className="admin">
      <nav className="subnav" aria-label="Administration">
        <Link
          to={paths.admin}
          className={onUsers ? 'subnav__link subnav__link--active' : 'subnav__link'}
          aria-current={onUsers ? 'page' : undefined}
        >
          Users
        </Link>
        <NavLink
          to={paths.auditLog}
          className={({ isActive }) => (isActive ? 'subnav__link subnav__link--active' : 'subnav__link')}
        >
          Audit log
        </NavLink>
      </nav>
      <Outlet />
    </div>
  );
}

export default AdminLayout;
