// The operator's views (`*:admin` keys): access keys, buckets with their
// settings and usage, recent audit entries. Everything goes through the
// admin API, with the session in place of a signature.

import { json } from './api.js';
import { t } from './i18n.js';
import { h, size, when, notice } from './ui.js';

const lines = (s) => s.split(/[\n,]+/).map((x) => x.trim()).filter(Boolean);

export class Operator {
  constructor(root) { this.root = root; }

  async show() {
    this.keysBody = h('tbody');
    this.secretBox = h('div', { class: 'secret', role: 'alert', hidden: true });
    this.bucketsBody = h('tbody');
    this.auditBody = h('tbody');
    this.auditNote = h('p', { class: 'muted', hidden: true }, t('auditOff'));
    const name = h('input', { id: 'key-name', required: true });
    const perms = h('textarea', { id: 'key-perms', rows: '2', spellcheck: 'false' });
    const ips = h('textarea', { id: 'key-ips', rows: '2', spellcheck: 'false' });
    const form = h('form', { class: 'create-key', onsubmit: async (e) => {
      e.preventDefault();
      try {
        const made = await json('POST', 'admin/v1/keys', { name: name.value, permissions: lines(perms.value), allow_ips: lines(ips.value) });
        this.showSecret(made);
        form.reset();
        await this.loadKeys();
      } catch (err) { notice(t('error', err.message), true); }
    } },
    h('h3', {}, t('createKey')),
    h('label', { for: 'key-name' }, t('keyName')), name,
    h('label', { for: 'key-perms' }, t('permissions')), perms,
    h('label', { for: 'key-ips' }, t('allowIps')), ips,
    h('button', { type: 'submit', class: 'primary' }, t('create')));
    const th = (...names) => h('thead', {}, h('tr', {}, names.map((n) => h('th', { scope: 'col' }, t(n)))));
    this.root.replaceChildren(
      h('section', { class: 'card', 'aria-labelledby': 'keys-title' },
        h('h2', { id: 'keys-title' }, t('keys')), this.secretBox,
        h('div', { class: 'scroll' }, h('table', { class: 'keys' }, th('accessKey', 'name', 'permissionsCol', 'status', 'lastUsed', 'actions'), this.keysBody)),
        form),
      h('section', { class: 'card', 'aria-labelledby': 'buckets-title' },
        h('h2', { id: 'buckets-title' }, t('bucketSettings')),
        h('div', { class: 'scroll' }, h('table', { class: 'bucket-settings' }, th('name', 'objects', 'bytes', 'trashBytes', 'retention', 'maxObjectSize', 'quotaBytes', 'maxObjects', 'actions'), this.bucketsBody))),
      h('section', { class: 'card', 'aria-labelledby': 'audit-title' },
        h('h2', { id: 'audit-title' }, t('audit')), this.auditNote,
        h('div', { class: 'scroll' }, h('table', { class: 'audit' }, th('time', 'who', 'operation', 'name', 'status'), this.auditBody))));
    await Promise.all([this.loadKeys(), this.loadBuckets(), this.loadAudit()]);
  }

  showSecret(s) {
    this.secretBox.replaceChildren(
      h('p', {}, t('secretOnce')),
      h('dl', {}, h('dt', {}, t('accessKey')), h('dd', {}, h('code', { id: 'new-key-id' }, s.access_key_id)),
        h('dt', {}, t('secretKey')), h('dd', {}, h('code', { id: 'new-key-secret' }, s.secret_access_key))),
      h('button', { type: 'button', onclick: () => { this.secretBox.hidden = true; this.secretBox.replaceChildren(); } }, t('close')));
    this.secretBox.hidden = false;
  }

  async act(fn) {
    try { await fn(); } catch (err) { notice(t('error', err.message), true); }
    await this.loadKeys();
  }

  async loadKeys() {
    const keys = await json('GET', 'admin/v1/keys');
    this.keysBody.replaceChildren(...keys.map((k) => {
      const id = k.access_key_id;
      const path = `admin/v1/keys/${encodeURIComponent(id)}`;
      return h('tr', { 'data-key-id': id },
        h('td', {}, h('code', {}, id)), h('td', {}, k.name),
        h('td', {}, k.permissions.join(', '), k.allow_ips.length ? h('div', { class: 'muted' }, k.allow_ips.join(', ')) : ''),
        h('td', {}, k.enabled ? t('enabled') : t('disabled')),
        h('td', {}, k.last_used ? when(k.last_used) : t('never')),
        h('td', {}, h('div', { class: 'actions' },
          h('button', { type: 'button', onclick: () => this.act(async () => this.showSecret(await json('POST', `${path}/rotate`))) }, t('rotate')),
          h('button', { type: 'button', onclick: () => this.act(() => json('PATCH', path, { enabled: !k.enabled })) }, k.enabled ? t('disable') : t('enable')),
          h('button', { type: 'button', class: 'danger', onclick: () => window.confirm(t('confirmDeleteKey', k.name)) && this.act(() => json('DELETE', path)) }, t('delete')))));
    }));
  }

  async loadBuckets() {
    const buckets = await json('GET', 'admin/v1/buckets');
    this.bucketsBody.replaceChildren(...buckets.map((b) => {
      const u = b.usage || {};
      const retention = h('input', { value: b.retention_seconds == null ? '' : `${b.retention_seconds}s`, placeholder: t('serverDefault'), 'aria-label': `${t('retention')}: ${b.name}`, size: '8' });
      const maxSize = h('input', { value: b.max_object_size ?? '', placeholder: t('serverDefault'), 'aria-label': `${t('maxObjectSize')}: ${b.name}`, inputmode: 'numeric', size: '10' });
      const quota = h('input', { value: b.quota_bytes ?? '', 'aria-label': `${t('quotaBytes')}: ${b.name}`, inputmode: 'numeric', size: '10' });
      const maxObjects = h('input', { value: b.max_objects ?? '', 'aria-label': `${t('maxObjects')}: ${b.name}`, inputmode: 'numeric', size: '8' });
      const num = (v) => (v.trim() === '' ? null : Number(v));
      const save = async () => {
        try {
          await json('PATCH', `admin/v1/buckets/${encodeURIComponent(b.name)}`, {
            retention: retention.value.trim() || null, max_object_size: num(maxSize.value), quota_bytes: num(quota.value), max_objects: num(maxObjects.value),
          });
          notice(t('saved'));
        } catch (err) { notice(t('error', err.message), true); }
        await this.loadBuckets();
      };
      return h('tr', {},
        h('td', {}, b.name), h('td', { class: 'num' }, u.objects ?? ''), h('td', { class: 'num' }, u.bytes == null ? '' : size(u.bytes)),
        h('td', { class: 'num' }, u.trash_bytes == null ? '' : size(u.trash_bytes)),
        h('td', {}, retention), h('td', {}, maxSize), h('td', {}, quota), h('td', {}, maxObjects),
        h('td', {}, h('button', { type: 'button', onclick: save }, t('save'))));
    }));
  }

  async loadAudit() {
    const a = await json('GET', 'api/audit?limit=50');
    this.auditNote.hidden = a.enabled;
    this.auditBody.replaceChildren(...a.entries.map((e) => h('tr', {},
      h('td', {}, when(e.time)), h('td', {}, e.key_name || e.access_key_id || e.public_link || ''),
      h('td', {}, e.operation, e.via ? h('span', { class: 'tag' }, e.via) : ''),
      h('td', {}, [e.bucket, e.key].filter(Boolean).join('/')),
      h('td', {}, String(e.status), e.error ? ` ${e.error}` : ''))));
  }
}
