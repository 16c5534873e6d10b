// Users, for admins: add one with a role and an initial password, change a role, give an installer
// their sites, reset a password, disable, enable or remove. The server checks every rule (password
// policy, the last admin, oneself); the page shows its reason when it refuses.

import { api, send } from './api.js';
import { esc } from './format.js';
import { type Key, t } from './i18n.js';
import { ROLES, type Role, type UserRow } from './types.js';

const roleName = (r: Role) => t(`role_${r}` as Key);
const sitesOf = (s: string) =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

function roleSelect(name: string, current: Role, cls = ''): string {
  return `<select name="${name}" class="fld${cls ? ` ${cls}` : ''}" aria-label="${t('col_role')}">${ROLES.map((r) => `<option value="${r}"${r === current ? ' selected' : ''}>${esc(roleName(r))}</option>`).join('')}</select>`;
}

function row(u: UserRow, me: string): string {
  const self = u.username === me;
  return `<tr class="row-${u.disabled ? 'unknown' : 'ok'}" data-user="${esc(u.username)}">
    <td data-label="${t('username')}"><div><strong>${esc(u.username)}</strong>${self ? ` <span class="muted">${t('user_you')}</span>` : ''}</div></td>
    <td data-label="${t('col_role')}">${roleSelect('role', u.role, 'role')}</td>
    <td data-label="${t('col_sites')}">${
      u.role === 'installer'
        ? `<form class="sites-form inline"><input class="fld" name="sites" value="${esc(u.sites.join(', '))}" placeholder="${t('sites_ph')}" aria-label="${t('col_sites')}"><button type="submit">${t('user_save')}</button></form>`
        : '<span class="muted">—</span>'
    }</td>
    <td data-label="${t('col_status')}"><span class="badge ${u.disabled ? 'unknown' : 'ok'}">${t(u.disabled ? 'user_disabled' : 'user_active')}</span></td>
    <td data-label="${t('col_actions')}"><div class="actions">
      <button type="button" class="toggle ghost-dark" data-disable="${!u.disabled}"${self ? ' disabled' : ''}>${t(u.disabled ? 'user_enable' : 'user_disable')}</button>
      <form class="reset-form inline"><input class="fld" type="password" name="password" autocomplete="new-password" placeholder="${t('user_new_pw')}" aria-label="${t('user_new_pw')}" minlength="10" required><button type="submit">${t('user_reset')}</button></form>
      <button type="button" class="remove danger"${self ? ' disabled' : ''}>${t('user_remove')}</button>
    </div></td>
  </tr>`;
}

export async function renderUsers(el: HTMLElement, me: string): Promise<void> {
  const users = (await api<UserRow[]>('/api/users')).sort((a, b) => a.username.localeCompare(b.username));
  const msg = el.querySelector('#users-msg')?.outerHTML ?? '<p id="users-msg" role="status"></p>';
  el.innerHTML = `
    <form id="user-add" class="card add-user">
      <h2>${t('user_add_title')}</h2>
      <div class="toolbar">
        <label>${t('username')} <input class="fld" name="username" autocomplete="off" required pattern="[A-Za-z0-9._\\-]{1,64}"></label>
        <label>${t('col_role')} ${roleSelect('role', 'operator')}</label>
        <label>${t('initial_password')} <input class="fld" name="password" type="password" autocomplete="new-password" minlength="10" required></label>
        <label>${t('col_sites')} <input class="fld" name="sites" placeholder="${t('sites_ph')}"></label>
        <button type="submit">${t('user_add')}</button>
      </div>
      <p class="hint muted">${t('password_rule')}</p>
    </form>
    ${msg}
    <div class="table-wrap"><table class="grid" id="users-table">
      <thead><tr><th>${t('username')}</th><th>${t('col_role')}</th><th>${t('col_sites')}</th><th>${t('col_status')}</th><th>${t('col_actions')}</th></tr></thead>
      <tbody>${users.map((u) => row(u, me)).join('')}</tbody>
    </table></div>`;
  if (el.dataset.bound) return;
  el.dataset.bound = '1';

  const say = (text: string, error = false) => {
    const p = el.querySelector<HTMLElement>('#users-msg')!;
    p.textContent = text;
    p.className = error ? 'error' : 'ok-msg';
    p.setAttribute('role', error ? 'alert' : 'status');
  };
  /** Runs a change, then redraws; a refusal is shown with the server's reason. */
  const act = async (what: string, f: () => Promise<unknown>) => {
    try {
      await f();
      await renderUsers(el, me);
      say(t('user_done', { what }));
    } catch (e) {
      await renderUsers(el, me).catch(() => {});
      say((e as Error).message, true);
    }
  };
  const userOf = (n: Element) => n.closest<HTMLElement>('tr[data-user]')?.dataset.user;
  const path = (u: string) => `/api/users/${encodeURIComponent(u)}`;

  el.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    const f = new FormData(form);
    if (form.id === 'user-add') {
      const username = String(f.get('username'));
      const sites = sitesOf(String(f.get('sites') ?? ''));
      void act(`${t('user_add_title')} ${username}`, () =>
        send('POST', '/api/users', {
          username,
          role: f.get('role'),
          password: f.get('password'),
          ...(sites.length ? { sites } : {}),
        }),
      );
      return;
    }
    const user = userOf(form);
    if (!user) return;
    if (form.classList.contains('sites-form'))
      void act(`${t('col_sites')} ${user}`, () =>
        send('PATCH', path(user), { sites: sitesOf(String(f.get('sites'))) }),
      );
    else if (form.classList.contains('reset-form'))
      void act(`${t('user_reset')} ${user}`, () =>
        send('POST', `${path(user)}/password`, { password: f.get('password') }),
      );
  });
  el.addEventListener('change', (ev) => {
    const sel = ev.target as HTMLSelectElement;
    const user = sel.classList.contains('role') ? userOf(sel) : undefined;
    if (user) void act(`${t('col_role')} ${user}`, () => send('PATCH', path(user), { role: sel.value }));
  });
  el.addEventListener('click', (ev) => {
    const btn = (ev.target as HTMLElement).closest<HTMLButtonElement>('button.toggle, button.remove');
    const user = btn && userOf(btn);
    if (!btn || !user) return;
    if (btn.classList.contains('remove')) {
      if (!window.confirm(t('user_remove_q', { u: user }))) return;
      void act(`${t('user_remove')} ${user}`, () => send('DELETE', path(user)));
      return;
    }
    const disable = btn.dataset.disable === 'true';
    void act(`${btn.textContent} ${user}`, () => send('PATCH', path(user), { disabled: disable }));
  });
}
