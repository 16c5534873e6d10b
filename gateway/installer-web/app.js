// The installer page: PIN login, scan, test, add, apply, commission. Plain DOM, no framework and
// nothing fetched from the internet; every text in Bahasa Indonesia first, English on request.

const T = {
  id: {
    title: 'Pantau — Pemasangan gateway',
    logout: 'Keluar',
    other: 'English',
    login: 'Masuk',
    pin: 'PIN pemasang',
    pinHelp: 'PIN dibuat di gateway dengan: pantau-gateway installer-pin',
    scan: '1. Pindai jaringan',
    subnet: 'Subnet (mis. 10.1.2.0/24, paling besar /22)',
    addresses: 'Alamat tambahan (pisahkan dengan koma)',
    communities: 'Community SNMP (pisahkan dengan koma)',
    camUser: 'Nama pengguna kamera',
    camPass: 'Kata sandi kamera',
    commKey: 'Comm key terminal absensi (jika ada)',
    advanced: 'Lanjutan',
    snmpPort: 'Port SNMP',
    wsdPort: 'Port WS-Discovery',
    zkPort: 'Port terminal',
    modbusPort: 'Port Modbus',
    modbusUnits: 'Unit Modbus',
    timeout: 'Batas tunggu (ms)',
    multicast: 'Cari kamera juga lewat multicast (LAN yang sama)',
    startScan: 'Pindai',
    scanning: 'Memindai…',
    found: '2. Perangkat ditemukan',
    none: 'Belum ada hasil.',
    nothing: 'Tidak ada perangkat yang menjawab.',
    isNew: 'BARU',
    known: 'SUDAH TERDAFTAR',
    inDraft: 'AKAN DITAMBAHKAN',
    test: 'Uji',
    testing: 'Menguji…',
    add: 'Tambahkan',
    name: 'Nama tempat (mis. Pasar Sentral – Kamera 1)',
    location: 'Lokasi (mis. tiang depan pintu masuk)',
    priority: 'Prioritas',
    emergency: 'Darurat (RSUD, Damkar, PSC)',
    basic: 'Layanan dasar',
    normal: 'Biasa',
    id: 'ID perangkat (otomatis dari nama)',
    save: 'Simpan ke daftar',
    cancel: 'Batal',
    draft: '3. Perubahan & terapkan',
    pending: 'Akan ditambahkan',
    noPending: 'Belum ada perangkat baru.',
    valid: 'Konfigurasi valid',
    invalid: 'Konfigurasi belum valid',
    apply: 'Terapkan tanpa restart',
    applying: 'Menerapkan…',
    applied: 'Diterapkan. Perangkat baru mulai dipantau.',
    rolledBack: 'Dibatalkan: perangkat baru gagal dibaca, konfigurasi lama dipakai lagi.',
    restartNeeded: 'Perlu restart untuk bagian ini:',
    reset: 'Buang perubahan',
    remove: 'Hapus',
    showYaml: 'Lihat site.yaml',
    commission: '4. Komisioning',
    commissionHelp:
      'Mencatat nilai awal tiap link radio, gambar tiap titik pantau dan jam tiap terminal, lalu mengirim laporannya ke pusat.',
    note: 'Catatan (mis. nama pemasang)',
    farEnds: 'Ujung jauh link radio (opsional)',
    farEndsHelp:
      'Alamat radio di ujung lain link, bila bisa dijangkau SNMP dari gateway ini: nilai awal kedua ujung dicatat.',
    farAddress: 'alamat ujung jauh',
    farCommunity: 'Community SNMP',
    startCommission: 'Mulai komisioning',
    commissioning: 'Komisioning berjalan…',
    report: 'Buka laporan (bisa dicetak)',
    published: 'Laporan dikirim ke pusat.',
    notPublished: 'Laporan tersimpan di gateway; akan dikirim saat terhubung ke pusat.',
    kinds: {
      radio: 'Radio',
      camera: 'Kamera',
      terminal: 'Terminal absensi',
      power: 'Listrik/UPS',
      host: 'Perangkat SNMP',
    },
    errorPrefix: 'Gagal: ',
    enroll: '0. Daftarkan ke pusat',
    enrollHelp:
      'Masukkan token sekali pakai dari dasbor pusat (menu Gateway lokasi → Daftarkan kotak lokasi). Gateway menerima id lokasi dan akunnya dari pusat, lalu memulai ulang.',
    central: 'Alamat dasbor pusat (mis. pusat.pemda.lan:8443)',
    token: 'Token (mis. ABCD-EFGH-JKMN-PQRS)',
    startEnroll: 'Daftarkan',
    enrolling: 'Mendaftarkan…',
    enrolled: 'Terdaftar sebagai lokasi {site}. Gateway dimulai ulang; masuk lagi dalam beberapa detik.',
  },
  en: {
    title: 'Pantau — site box setup',
    logout: 'Log out',
    other: 'Bahasa Indonesia',
    login: 'Log in',
    pin: 'Installer PIN',
    pinHelp: 'The PIN is set on the site box with: pantau-gateway installer-pin',
    scan: '1. Scan the network',
    subnet: 'Subnet (e.g. 10.1.2.0/24, at most /22)',
    addresses: 'More addresses (comma separated)',
    communities: 'SNMP communities (comma separated)',
    camUser: 'Camera username',
    camPass: 'Camera password',
    commKey: "Attendance terminals' comm key (if any)",
    advanced: 'Advanced',
    snmpPort: 'SNMP port',
    wsdPort: 'WS-Discovery port',
    zkPort: 'Terminal port',
    modbusPort: 'Modbus port',
    modbusUnits: 'Modbus units',
    timeout: 'Timeout (ms)',
    multicast: 'Also look for cameras by multicast (same LAN)',
    startScan: 'Scan',
    scanning: 'Scanning…',
    found: '2. Devices found',
    none: 'No results yet.',
    nothing: 'No device answered.',
    isNew: 'NEW',
    known: 'CONFIGURED',
    inDraft: 'TO BE ADDED',
    test: 'Test',
    testing: 'Testing…',
    add: 'Add',
    name: 'Place name (e.g. Central Market – Camera 1)',
    location: 'Location (e.g. pole by the entrance)',
    priority: 'Priority',
    emergency: 'Emergency (hospital, fire, ambulance)',
    basic: 'Basic service',
    normal: 'Normal',
    id: 'Device id (from the name)',
    save: 'Add to the list',
    cancel: 'Cancel',
    draft: '3. Changes & apply',
    pending: 'To be added',
    noPending: 'No new devices yet.',
    valid: 'Configuration is valid',
    invalid: 'Configuration is not valid yet',
    apply: 'Apply without restart',
    applying: 'Applying…',
    applied: 'Applied. The new devices are being watched.',
    rolledBack: 'Rolled back: the new devices could not be read, the previous config runs again.',
    restartNeeded: 'A restart is needed for:',
    reset: 'Discard changes',
    remove: 'Remove',
    showYaml: 'Show site.yaml',
    commission: '4. Commissioning',
    commissionHelp:
      "Records each radio link's day-one values, a picture per monitoring point and each terminal's clock, and sends the report to the central.",
    note: 'Note (e.g. installer name)',
    farEnds: 'Far ends of radio links (optional)',
    farEndsHelp:
      "The radio at the link's other end, when this box can reach it by SNMP: both ends' day-one values are recorded.",
    farAddress: 'far-end address',
    farCommunity: 'SNMP community',
    startCommission: 'Start commissioning',
    commissioning: 'Commissioning…',
    report: 'Open the report (printable)',
    published: 'Report sent to the central.',
    notPublished: 'Report kept on the site box; it goes to the central once connected.',
    kinds: {
      radio: 'Radio',
      camera: 'Camera',
      terminal: 'Attendance terminal',
      power: 'Power/UPS',
      host: 'SNMP device',
    },
    errorPrefix: 'Failed: ',
    enroll: '0. Enroll with the central',
    enrollHelp:
      "Type the one-time token from the central's dashboard (Site boxes → Enroll a site box). The box receives its site id and account from the central, then restarts.",
    central: "The central dashboard's address (e.g. pusat.pemda.lan:8443)",
    token: 'Token (e.g. ABCD-EFGH-JKMN-PQRS)',
    startEnroll: 'Enroll',
    enrolling: 'Enrolling…',
    enrolled: 'Enrolled as site {site}. The box restarts; log in again in a few seconds.',
  },
};

let lang = localStorage.getItem('pantau-installer-lang') === 'en' ? 'en' : 'id';
const t = (k) => T[lang][k] ?? k;
const pick = (both) => (both ? both[lang] : '');

const state = {
  csrf: null,
  site: null,
  scan: null,
  draft: null,
  adding: null,
  tests: {},
  message: null,
  report: null,
};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function call(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method === 'POST' && state.csrf) headers['x-csrf-token'] = state.csrf;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401 && path !== '/api/login') {
    state.csrf = null;
    render();
  }
  if (!res.ok && !(path === '/api/apply' && data && data.ok === false)) {
    throw new Error(data.error ?? `HTTP ${res.status}`);
  }
  return data;
}

function field(label, input) {
  return el('div', {}, el('label', { for: input.id }, label), input);
}

function input(id, attrs) {
  return el('input', { id, name: id, ...attrs });
}

function message() {
  if (!state.message) return null;
  return el('div', { class: `msg ${state.message.kind}`, role: 'status', id: 'message' }, state.message.text);
}

function fail(e) {
  state.message = { kind: 'error', text: t('errorPrefix') + e.message };
  render();
}

function loginView() {
  const pin = input('pin', {
    type: 'password',
    inputmode: 'numeric',
    autocomplete: 'current-password',
    required: true,
  });
  const form = el(
    'form',
    {
      id: 'login',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const r = await call('POST', '/api/login', { pin: pin.value });
          state.csrf = r.csrf;
          state.message = null;
          await loadAll();
        } catch (e) {
          fail(e);
        }
      },
    },
    field(t('pin'), pin),
    el('button', { type: 'submit', id: 'login-button' }, t('login')),
    el('p', { class: 'meta' }, t('pinHelp')),
  );
  return el('section', {}, el('h2', {}, t('login')), form, message());
}

function scanView() {
  const v = (id) => document.getElementById(id)?.value ?? '';
  const keep = state.form ?? {};
  const mk = (id, attrs = {}) => input(id, { ...attrs, value: keep[id] ?? attrs.value ?? '' });
  const ids = [
    'subnet',
    'addresses',
    'communities',
    'camera_user',
    'camera_password',
    'comm_key',
    'snmp_port',
    'wsd_port',
    'zk_port',
    'modbus_port',
    'modbus_units',
    'timeout_ms',
  ];
  const running = state.scan?.running;
  const progress = state.scan?.progress ?? {};
  const done = Object.values(progress).reduce((a, p) => a + p.done, 0);
  const total = Object.values(progress).reduce((a, p) => a + p.total, 0);
  return el(
    'section',
    { id: 'scan-section' },
    el('h2', {}, t('scan')),
    el(
      'form',
      {
        id: 'scan-form',
        onsubmit: async (ev) => {
          ev.preventDefault();
          state.form = Object.fromEntries(ids.map((id) => [id, v(id)]));
          const body = {};
          for (const [k, val] of Object.entries(state.form)) if (val !== '') body[k] = val;
          state.multicast = document.getElementById('multicast')?.checked === true;
          if (state.multicast) body.multicast = true;
          try {
            state.message = null;
            state.tests = {};
            state.scan = await call('POST', '/api/scan', body);
            render();
            pollScan();
          } catch (e) {
            fail(e);
          }
        },
      },
      field(t('subnet'), mk('subnet', { placeholder: '10.1.2.0/24', inputmode: 'decimal' })),
      field(t('addresses'), mk('addresses', { placeholder: '10.1.2.20, 10.1.2.21' })),
      field(t('communities'), mk('communities', { value: 'public' })),
      el(
        'div',
        { class: 'grid2' },
        field(t('camUser'), mk('camera_user', { autocomplete: 'off' })),
        field(t('camPass'), mk('camera_password', { type: 'password', autocomplete: 'off' })),
      ),
      field(t('commKey'), mk('comm_key', { inputmode: 'numeric' })),
      el(
        'details',
        {},
        el('summary', {}, t('advanced')),
        el(
          'div',
          { class: 'grid2' },
          field(t('snmpPort'), mk('snmp_port', { inputmode: 'numeric', placeholder: '161' })),
          field(t('wsdPort'), mk('wsd_port', { inputmode: 'numeric', placeholder: '3702' })),
          field(t('zkPort'), mk('zk_port', { inputmode: 'numeric', placeholder: '4370' })),
          field(t('modbusPort'), mk('modbus_port', { inputmode: 'numeric', placeholder: '502' })),
          field(t('modbusUnits'), mk('modbus_units', { placeholder: '1' })),
          field(t('timeout'), mk('timeout_ms', { inputmode: 'numeric', placeholder: '1000' })),
        ),
        el(
          'label',
          { class: 'check' },
          el('input', { type: 'checkbox', id: 'multicast', checked: state.multicast === true }),
          ` ${t('multicast')}`,
        ),
      ),
      el(
        'button',
        { type: 'submit', id: 'scan-button', disabled: running },
        running ? t('scanning') : t('startScan'),
      ),
      running ? el('progress', { max: total || 1, value: done }) : null,
    ),
    message(),
  );
}

function deviceCard(f, i) {
  const who = [f.vendor, f.model, f.firmware].filter(Boolean).join(' · ') || '?';
  const test = state.tests[i];
  const adding = state.adding === i;
  return el(
    'div',
    { class: 'card', 'data-address': f.address, 'data-via': f.via },
    el(
      'div',
      { class: 'what' },
      `${T[lang].kinds[f.kind] ?? f.kind} — ${f.address}`,
      el(
        'span',
        { class: `badge ${f.already_configured || f.in_draft ? 'known' : 'new'}` },
        f.already_configured ? t('known') : f.in_draft ? t('inDraft') : t('isNew'),
      ),
    ),
    el('div', { class: 'meta' }, who),
    el(
      'div',
      { class: 'meta' },
      [
        f.name ? `"${f.name}"` : null,
        f.profile ? `profile ${f.profile}` : null,
        `via ${f.via}`,
        `port ${f.port}`,
      ]
        .filter(Boolean)
        .join(' · '),
    ),
    f.note ? el('div', { class: 'meta fail' }, pick(f.note)) : null,
    el(
      'div',
      {},
      el(
        'button',
        {
          type: 'button',
          class: 'secondary test-button',
          disabled: test === 'running',
          onclick: async () => {
            state.tests[i] = 'running';
            render();
            try {
              state.tests[i] = await call('POST', '/api/test', { index: i });
            } catch (e) {
              state.tests[i] = { ok: false, lines: [{ ok: false, id: e.message, en: e.message }] };
            }
            render();
          },
        },
        test === 'running' ? t('testing') : t('test'),
      ),
      f.already_configured || f.in_draft
        ? null
        : el(
            'button',
            {
              type: 'button',
              class: 'add-button',
              onclick: () => {
                state.adding = adding ? null : i;
                render();
              },
            },
            t('add'),
          ),
    ),
    test && test !== 'running'
      ? el(
          'ul',
          { class: 'lines test-result' },
          test.lines.map((l) => el('li', { class: l.ok ? 'ok' : 'fail' }, pick(l))),
        )
      : null,
    adding ? addForm(f, i) : null,
  );
}

function addForm(f, i) {
  const name = input('add-name', { required: true, maxlength: 120, value: f.name ?? '' });
  const id = input('add-id', { maxlength: 64, pattern: '[a-z0-9-]+' });
  const location = input('add-location', { maxlength: 200 });
  const priority = el(
    'select',
    { id: 'add-priority' },
    ['emergency', 'basic', 'normal'].map((p) => el('option', { value: p, selected: p === 'normal' }, t(p))),
  );
  const slug = (s) =>
    s
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 64);
  id.value = slug(name.value);
  name.addEventListener('input', () => {
    id.value = slug(name.value);
  });
  return el(
    'form',
    {
      class: 'add-form',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          state.draft = await call('POST', '/api/draft/add', {
            index: i,
            name: name.value,
            id: id.value,
            location: location.value,
            priority: priority.value,
          });
          state.adding = null;
          state.message = null;
          state.scan = await call('GET', '/api/scan');
          render();
        } catch (e) {
          fail(e);
        }
      },
    },
    field(t('name'), name),
    field(t('location'), location),
    field(t('priority'), priority),
    field(t('id'), id),
    el('button', { type: 'submit', class: 'save-button' }, t('save')),
    el(
      'button',
      {
        type: 'button',
        class: 'secondary',
        onclick: () => {
          state.adding = null;
          render();
        },
      },
      t('cancel'),
    ),
  );
}

function foundView() {
  const s = state.scan;
  let body;
  if (!s || (s.running && s.found.length === 0)) body = el('p', {}, s?.running ? t('scanning') : t('none'));
  else if (s.error) body = el('div', { class: 'msg error' }, t('errorPrefix') + s.error);
  else if (s.found.length === 0) body = el('p', {}, t('nothing'));
  else body = s.found.map((f, i) => deviceCard(f, i));
  return el('section', { id: 'found' }, el('h2', {}, t('found')), body);
}

function draftView() {
  const d = state.draft;
  if (!d) return el('section', { id: 'draft' }, el('h2', {}, t('draft')));
  const check = d.check;
  return el(
    'section',
    { id: 'draft' },
    el('h2', {}, t('draft')),
    el('h3', {}, t('pending')),
    d.pending.length === 0
      ? el('p', {}, t('noPending'))
      : el(
          'ul',
          { id: 'pending' },
          d.pending.map((id) =>
            el(
              'li',
              {},
              `${id} `,
              el(
                'button',
                {
                  type: 'button',
                  class: 'link',
                  onclick: async () => {
                    try {
                      state.draft = await call('POST', '/api/draft/remove', { id });
                      state.scan = await call('GET', '/api/scan');
                      render();
                    } catch (e) {
                      fail(e);
                    }
                  },
                },
                t('remove'),
              ),
            ),
          ),
        ),
    el(
      'div',
      { class: `msg ${check.ok ? 'info' : 'error'}`, id: 'validity' },
      check.ok ? `${t('valid')} (${check.devices})` : t('invalid'),
      check.ok ? null : el('pre', {}, check.errors.join('\n')),
    ),
    el(
      'button',
      {
        type: 'button',
        id: 'apply-button',
        disabled: !check.ok || !d.changed || state.applying,
        onclick: async () => {
          state.applying = true;
          state.applyResult = null;
          render();
          try {
            state.applyResult = await call('POST', '/api/apply', {});
            await loadAll();
          } catch (e) {
            state.applyResult = { ok: false, error: e.message };
          }
          state.applying = false;
          render();
        },
      },
      state.applying ? t('applying') : t('apply'),
    ),
    el(
      'button',
      {
        type: 'button',
        class: 'secondary',
        disabled: !d.changed,
        onclick: async () => {
          state.draft = await call('POST', '/api/draft/reset', {});
          render();
        },
      },
      t('reset'),
    ),
    state.applyResult ? applyMessage(state.applyResult) : null,
    el('details', {}, el('summary', {}, t('showYaml')), el('pre', { id: 'yaml' }, d.text)),
  );
}

function applyMessage(r) {
  if (r.ok)
    return el(
      'div',
      { class: 'msg info', id: 'apply-result' },
      t('applied'),
      r.changes?.added?.length ? ` (+ ${r.changes.added.join(', ')})` : '',
      r.restartNeeded?.length ? el('div', {}, `${t('restartNeeded')} ${r.restartNeeded.join(', ')}`) : null,
    );
  return el(
    'div',
    { class: 'msg error', id: 'apply-result' },
    r.rolledBack ? t('rolledBack') : t('errorPrefix'),
    ' ',
    r.error ?? '',
    r.errors ? el('pre', {}, r.errors.join('\n')) : null,
  );
}

function enrollView() {
  const central = input('enroll-central', { placeholder: 'pusat.pemda.lan:8443', autocapitalize: 'none' });
  const token = input('enroll-token', {
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
  });
  const r = state.enrolled;
  // Folded once the box is enrolled (its usual state); open until then, or with an answer to show.
  const open = r || state.site?.site.id === 'placeholder' ? true : undefined;
  return el(
    'section',
    { id: 'enroll-section' },
    el(
      'details',
      { id: 'enroll', open },
      el('summary', {}, t('enroll')),
      el('p', { class: 'meta' }, t('enrollHelp')),
      field(t('central'), central),
      field(t('token'), token),
      el(
        'button',
        {
          type: 'button',
          id: 'enroll-button',
          disabled: state.enrolling,
          onclick: async () => {
            state.enrolling = true;
            render();
            try {
              state.enrolled = await call('POST', '/api/enroll', {
                central: central.value,
                token: token.value,
              });
            } catch (e) {
              state.enrolled = { error: e.message };
            }
            state.enrolling = false;
            render();
          },
        },
        state.enrolling ? t('enrolling') : t('startEnroll'),
      ),
      r?.error ? el('div', { class: 'msg error', id: 'enroll-result' }, t('errorPrefix') + r.error) : null,
      r?.ok
        ? el('div', { class: 'msg info', id: 'enroll-result' }, t('enrolled').replace('{site}', r.site))
        : null,
    ),
  );
}

function commissionView() {
  if (!state.site?.commissioning) return null;
  const note = input('commission-note', { maxlength: 500 });
  const r = state.report;
  // A radio's far end, at another site, read through the link when the installer gives its address.
  const radios = state.site.devices.filter((d) => d.kind === 'radio');
  const far = radios.map((d) => ({
    of: d.id,
    address: input(`far-${d.id}`, { placeholder: '10.9.9.2', inputmode: 'decimal' }),
    community: input(`far-community-${d.id}`, { placeholder: 'public' }),
  }));
  return el(
    'section',
    { id: 'commission' },
    el('h2', {}, t('commission')),
    el('p', {}, t('commissionHelp')),
    field(t('note'), note),
    radios.length
      ? el(
          'details',
          {},
          el('summary', {}, t('farEnds')),
          el('p', { class: 'meta' }, t('farEndsHelp')),
          far.map((f) =>
            el(
              'div',
              { class: 'grid2' },
              field(`${f.of}: ${t('farAddress')}`, f.address),
              field(t('farCommunity'), f.community),
            ),
          ),
        )
      : null,
    el(
      'button',
      {
        type: 'button',
        id: 'commission-button',
        disabled: state.commissioning,
        onclick: async () => {
          state.commissioning = true;
          render();
          try {
            const farEnds = far
              .filter((f) => f.address.value.trim())
              .map((f) => ({
                of: f.of,
                address: f.address.value.trim(),
                community: f.community.value.trim(),
              }));
            state.report = await call('POST', '/api/commission', { note: note.value, far_ends: farEnds });
          } catch (e) {
            state.report = { error: e.message };
          }
          state.commissioning = false;
          render();
        },
      },
      state.commissioning ? t('commissioning') : t('startCommission'),
    ),
    r?.error ? el('div', { class: 'msg error' }, t('errorPrefix') + r.error) : null,
    r && !r.error
      ? el(
          'div',
          { class: 'msg info', id: 'commission-result' },
          r.published ? t('published') : t('notPublished'),
          ' ',
          el('a', { href: '/api/commission/report.html', target: '_blank', id: 'report-link' }, t('report')),
        )
      : null,
  );
}

function render() {
  document.documentElement.lang = lang;
  document.title = t('title');
  document.querySelector('header h1').textContent = t('title');
  document.getElementById('lang').textContent = t('other');
  const logout = document.getElementById('logout');
  logout.textContent = t('logout');
  logout.hidden = !state.csrf;
  document.getElementById('site').textContent = state.site
    ? `${state.site.site.name ?? state.site.site.id} (${state.site.site.id})`
    : '';
  // Keep what was typed in the scan form across re-renders.
  const form = document.getElementById('scan-form');
  if (form) {
    state.form = Object.fromEntries(
      [...form.querySelectorAll('input:not([type=checkbox])')].map((i) => [i.id, i.value]),
    );
    state.multicast = document.getElementById('multicast')?.checked === true;
  }
  const app = document.getElementById('app');
  app.replaceChildren(
    ...(state.csrf
      ? [enrollView(), scanView(), foundView(), draftView(), commissionView()]
      : [loginView()]
    ).filter(Boolean),
  );
}

let polling = false;
async function pollScan() {
  if (polling) return;
  polling = true;
  try {
    while (state.scan?.running) {
      await new Promise((r) => setTimeout(r, 700));
      state.scan = await call('GET', '/api/scan');
      render();
    }
  } catch (e) {
    fail(e);
  } finally {
    polling = false;
  }
}

async function loadAll() {
  state.site = await call('GET', '/api/site');
  state.scan = await call('GET', '/api/scan');
  state.draft = await call('GET', '/api/draft');
  render();
  if (state.scan.running) pollScan();
}

document.getElementById('lang').addEventListener('click', () => {
  lang = lang === 'id' ? 'en' : 'id';
  localStorage.setItem('pantau-installer-lang', lang);
  render();
});
document.getElementById('logout').addEventListener('click', async () => {
  await call('POST', '/api/logout', {}).catch(() => undefined);
  state.csrf = null;
  render();
});

(async () => {
  try {
    const s = await call('GET', '/api/session');
    if (s.logged_in) {
      state.csrf = s.csrf;
      await loadAll();
      return;
    }
  } catch {
    // shown as the login form
  }
  render();
})();
