// One's own account: who and what role, the assigned sites (installers), and a password change that
// needs the current password.

import { post } from './api.js';
import { esc } from './format.js';
import { type Key, t } from './i18n.js';
import type { Me } from './types.js';

export async function renderAccount(el: HTMLElement, me: Me): Promise<void> {
  el.innerHTML = `
    <p><strong>${esc(me.username)}</strong> · ${esc(t(`role_${me.role}` as Key))}</p>
    ${me.sites ? `<p>${me.sites.length ? esc(t('installer_sites', { sites: me.sites.join(', ') })) : t('installer_no_sites')}</p>` : ''}
    <form id="password-form" class="card login">
      <h2>${t('pw_change_title')}</h2>
      <label><span>${t('pw_old')}</span><input name="old_password" type="password" autocomplete="current-password" required></label>
      <label><span>${t('pw_new')}</span><input name="new_password" type="password" autocomplete="new-password" minlength="10" required></label>
      <p class="hint muted">${t('password_rule')}</p>
      <button type="submit">${t('user_save')}</button>
      <p id="password-msg" role="status"></p>
    </form>`;
  el.querySelector('#password-form')!.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    const f = new FormData(form);
    const msg = el.querySelector<HTMLElement>('#password-msg')!;
    try {
      await post('/api/me/password', {
        old_password: f.get('old_password'),
        new_password: f.get('new_password'),
      });
      form.reset();
      msg.className = 'ok-msg';
      msg.textContent = t('pw_changed');
    } catch (e) {
      msg.className = 'error';
      msg.textContent = (e as Error).message;
    }
  });
}
