// The page's shell: login, navigation by role (each role sees only its views; the server refuses the
// rest too), the language switch, live updates and the ticking ages.

import { ApiError, api, logIn, post, setCsrf } from './api.js';
import { esc, setTimezone, tickAges } from './format.js';
import { getLang, hasChosenLang, type Key, setLang, t } from './i18n.js';
import { connectLive } from './live.js';
import { type Me, ROLES, type Role } from './types.js';
import { renderAccount } from './view-account.js';
import { renderAudit } from './view-audit.js';
import { renderCameras } from './view-cameras.js';
import { renderDevices } from './view-devices.js';
import { renderEnroll } from './view-enroll.js';
import { renderIncidents } from './view-incidents.js';
import { renderLink } from './view-link.js';
import { renderMap } from './view-map.js';
import { renderSites } from './view-sites.js';
import { renderSummary } from './view-summary.js';
import { renderTerminals } from './view-terminals.js';
import { renderUsers } from './view-users.js';

interface View {
  id: string;
  title: Key;
  roles: Role[];
  /** Reached from another view (a link's card), not from the menu. */
  hidden?: boolean;
  /** Live changes redraw the view at most this often (the link card reads history: not every second). */
  refreshMs?: number;
  /** False: forms the user fills in; a live change must not redraw them under the typing. */
  live?: boolean;
  render(el: HTMLElement, arg: string): Promise<void>;
}

const REFRESH_MS = 2000;

const TECH: Role[] = ['admin', 'engineer'];
let me: Me | null = null;

const VIEWS: View[] = [
  { id: 'summary', title: 'nav_summary', roles: [...TECH, 'leadership'], render: (el) => renderSummary(el) },
  { id: 'map', title: 'nav_map', roles: TECH, render: (el) => renderMap(el) },
  {
    id: 'cameras',
    title: 'nav_cameras',
    roles: [...TECH, 'operator'],
    render: (el) => renderCameras(el, me!.role),
  },
  {
    id: 'incidents',
    title: 'nav_incidents',
    roles: [...TECH, 'operator'],
    render: (el) => renderIncidents(el, me!.role),
  },
  {
    id: 'sites',
    title: 'nav_sites',
    roles: [...TECH, 'installer'],
    render: (el) => renderSites(el, me!.role, me!.sites),
  },
  {
    id: 'devices',
    title: 'nav_devices',
    roles: [...TECH, 'installer'],
    render: (el, arg) => renderDevices(el, arg || null),
  },
  { id: 'terminals', title: 'nav_terminals', roles: [...TECH, 'hr'], render: (el) => renderTerminals(el) },
  // Reached from the site boxes view: the menu stays one line on a control-room screen.
  {
    id: 'enroll',
    title: 'nav_enroll',
    roles: [...TECH, 'installer'],
    hidden: true,
    render: (el) => renderEnroll(el),
  },
  {
    id: 'link',
    title: 'nav_link',
    roles: TECH,
    hidden: true,
    refreshMs: 15_000,
    render: (el, arg) => {
      el.dataset.link = arg;
      return renderLink(el, arg, me!.role, me!.timezone);
    },
  },
  {
    id: 'users',
    title: 'nav_users',
    roles: ['admin'],
    live: false,
    render: (el) => renderUsers(el, me!.username),
  },
  { id: 'audit', title: 'nav_audit', roles: TECH, live: false, render: (el) => renderAudit(el) },
  {
    id: 'account',
    title: 'nav_account',
    roles: [...ROLES],
    hidden: true,
    live: false,
    render: (el) => renderAccount(el, me!),
  },
];

const $ = <E extends HTMLElement>(sel: string) => document.querySelector(sel) as E;
const mine = () => VIEWS.filter((v) => me && v.roles.includes(me.role));

function route(): { view: View | null; arg: string; wanted: string } {
  const [id = '', ...rest] = location.hash.replace(/^#/, '').split('/');
  const views = mine();
  const view = views.find((v) => v.id === id) ?? (id ? null : (views.find((v) => !v.hidden) ?? null));
  return { view, arg: decodeURIComponent(rest.join('/')), wanted: id };
}

function renderChrome(): void {
  document.title = t('app_title');
  for (const el of document.querySelectorAll<HTMLElement>('[data-t]'))
    el.textContent = t(el.dataset.t as Key);
  $('#lang').textContent = t('switch_lang');
  $('#logout').textContent = t('logout');
  const current = route().view?.id;
  $('#nav').innerHTML = mine()
    .filter((v) => !v.hidden)
    .map(
      (v) =>
        `<a href="#${v.id}" data-view="${v.id}"${v.id === current || (current === 'link' && v.id === 'map') ? ' aria-current="page"' : ''}>${esc(t(v.title))}</a>`,
    )
    .join('');
  // On a phone the menu is one scrolling row: keep the open view's entry in sight.
  $('#nav [aria-current]')?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  $('#who').textContent = me ? `${me.username} · ${me.role}` : '';
  $('#logout').title = me ? `${me.username} · ${me.role}` : '';
}

let rendering: Promise<void> = Promise.resolve();
let lastShown = 0;
let liveTimer: number | undefined;

/** A live change: redraw the open view, but not more often than it asks for. */
function refreshSoon(): void {
  if (liveTimer !== undefined || route().view?.live === false) return;
  const wait = Math.max(0, lastShown + (route().view?.refreshMs ?? REFRESH_MS) - Date.now());
  liveTimer = window.setTimeout(() => {
    liveTimer = undefined;
    void show();
  }, wait);
}

/** Draws the current view; renders are queued so a live refresh never interleaves with a click. */
function show(): Promise<void> {
  rendering = rendering.then(async () => {
    lastShown = Date.now();
    renderChrome();
    const { view, arg, wanted } = route();
    for (const el of document.querySelectorAll<HTMLElement>('.view'))
      el.hidden = el.id !== `view-${view?.id}`;
    const denied = $('#denied');
    denied.hidden = view !== null;
    if (!view) {
      denied.textContent = wanted ? t('forbidden') : '';
      return;
    }
    const el = $(`#view-${view.id}`);
    $('#view-title').textContent = t(view.title);
    try {
      await view.render(el, arg);
      el.querySelector('.load-error')?.remove();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return location.reload();
      const msg =
        e instanceof ApiError && e.code === 'forbidden_site'
          ? t('forbidden_site', { site: String(e.body.site ?? '') })
          : e instanceof ApiError && e.status === 403
            ? t('forbidden')
            : e instanceof ApiError && e.status === 404 && /backbone/.test(e.message)
              ? t('no_backbone')
              : `${t('load_failed')}: ${(e as Error).message}`;
      el.innerHTML = `<p class="error load-error" role="alert">${esc(msg)}</p>`;
    }
  });
  return rendering;
}

async function start(): Promise<void> {
  setLang(getLang(), false);
  renderChrome();
  try {
    me = await api<Me>('/api/me');
  } catch {
    $('#login').hidden = false;
    $<HTMLInputElement>('input[name=username]').focus();
    return;
  }
  setCsrf(me.csrf);
  if (!hasChosenLang()) setLang(me.language, false);
  setTimezone(me.timezone);
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#logout').hidden = false;
  $('#account-link').hidden = false;
  document.body.dataset.role = me.role;
  await show();
  connectLive(
    () => refreshSoon(),
    (up) => {
      const c = $('#conn');
      c.textContent = t(up ? 'live' : 'live_lost');
      c.className = up ? 'live-up' : 'live-down';
    },
  );
}

window.addEventListener('hashchange', () => void show());

$('#lang').addEventListener('click', () => {
  setLang(getLang() === 'id' ? 'en' : 'id', true);
  const c = $('#conn');
  if (c.className) c.textContent = t(c.className === 'live-up' ? 'live' : 'live_lost');
  if (me) void show();
  else renderChrome();
});

$('#logout').addEventListener('click', async () => {
  await post('/api/logout', {}).catch(() => {});
  location.hash = '';
  location.reload();
});

$<HTMLFormElement>('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target as HTMLFormElement);
  try {
    await logIn(String(f.get('username')), String(f.get('password')));
  } catch (e) {
    $('#login-error').textContent =
      e instanceof ApiError && e.status === 401 ? t('wrong_login') : (e as Error).message;
    return;
  }
  await start();
});

window.setInterval(tickAges, 1000);
void start();
