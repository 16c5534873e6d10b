export { type DashboardConfig, loadDashboardConfig } from './config.js';
export { type RunningDashboard, startDashboard } from './server.js';
export { addUser, loadUsers, ROLES } from './users.js';
