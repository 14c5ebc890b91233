// The partner's views: buckets, folders with breadcrumbs and paging,
// uploads, downloads, the trash, details (metadata, tags, public link),
// search and the changes since the last visit.

import { request, s3Path, query, xml, field, json } from './api.js';
import { t } from './i18n.js';
import { h, size, when, notice } from './ui.js';
import { uploadFiles } from './upload.js';

const PAGE = 100;

/** The grants of the session as {bucket, prefix}. */
function grants(session) {
  return session.permissions.map((p) => {
    const target = p.slice(0, p.lastIndexOf(':'));
    const slash = target.indexOf('/');
    return slash < 0 ? { bucket: target, prefix: '' } : { bucket: target.slice(0, slash), prefix: target.slice(slash + 1) };
  });
}

export class Browser {
  constructor(root, session) {
    this.root = root;
    this.session = session;
    this.grants = grants(session);
    this.bucket = null;
    this.prefix = '';
    this.token = null;
  }

  /** Folders of `bucket` the key is limited to (null: the whole bucket). */
  folders(bucket) {
    const mine = this.grants.filter((g) => g.bucket === '*' || g.bucket === bucket);
    if (mine.some((g) => g.prefix === '')) return null;
    return mine.map((g) => g.prefix);
  }

  async show() {
    this.root.replaceChildren(this.layout());
    await this.loadBuckets();
  }

  layout() {
    this.bucketList = h('ul', { class: 'bucket-list' });
    this.crumbs = h('ol', { class: 'crumbs' });
    this.changes = h('div', { class: 'changes' });
    this.rows = h('tbody');
    this.more = h('button', { type: 'button', class: 'more', hidden: true, onclick: () => this.loadPage() }, t('loadMore'));
    this.emptyNote = h('p', { class: 'muted', hidden: true }, t('empty'));
    this.uploads = h('ul', { class: 'uploads', 'aria-label': t('uploads') });
    const input = h('input', { type: 'file', id: 'file-input', multiple: true, class: 'visually-hidden' });
    input.addEventListener('change', () => { this.upload(input.files); input.value = ''; });
    this.drop = h('div', { class: 'drop', id: 'drop' },
      h('span', {}, t('dropHere'), ' '),
      h('label', { for: 'file-input', class: 'button', tabindex: '0', role: 'button', onkeydown: (e) => {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); }
      } }, t('chooseFiles')),
      input);
    for (const ev of ['dragenter', 'dragover']) this.drop.addEventListener(ev, (e) => { e.preventDefault(); this.drop.classList.add('over'); });
    this.drop.addEventListener('dragleave', () => this.drop.classList.remove('over'));
    this.drop.addEventListener('drop', (e) => { e.preventDefault(); this.drop.classList.remove('over'); this.upload(e.dataTransfer.files); });
    this.searchInput = h('input', { id: 'search', type: 'search', spellcheck: 'false' });
    const search = h('form', { class: 'search', role: 'search', onsubmit: (e) => { e.preventDefault(); this.search(); } },
      h('label', { for: 'search' }, t('searchLabel')),
      h('div', { class: 'row' }, this.searchInput, h('button', { type: 'submit' }, t('search'))));
    this.trashRows = h('tbody');
    this.trash = h('details', { class: 'trash', ontoggle: () => this.trash.open && this.loadTrash() },
      h('summary', {}, t('showTrash')),
      h('table', {}, h('caption', { class: 'visually-hidden' }, t('trash')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('name')), h('th', { scope: 'col' }, t('size')), h('th', { scope: 'col' }, t('modified')), h('th', { scope: 'col' }, t('actions')))),
        this.trashRows));
    this.linkRows = h('tbody');
    this.links = h('details', { class: 'trash', id: 'links', ontoggle: () => this.links.open && this.loadLinks() },
      h('summary', {}, t('links')),
      h('table', {}, h('caption', { class: 'visually-hidden' }, t('links')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('linkKind')), h('th', { scope: 'col' }, t('linkTarget')),
          h('th', { scope: 'col' }, t('linkExpires')), h('th', { scope: 'col' }, t('linkState')), h('th', { scope: 'col' }, t('actions')))),
        this.linkRows));
    const shareUpload = h('button', { type: 'button', id: 'upload-link', onclick: () => this.uploadLinkForm() }, t('uploadLink'));
    this.pane = h('div', { class: 'pane', hidden: true },
      h('nav', { 'aria-label': 'Breadcrumb' }, this.crumbs),
      this.changes, search, this.drop, h('div', { class: 'row share' }, shareUpload), this.uploads,
      h('table', { class: 'listing' },
        h('caption', { class: 'visually-hidden' }, t('files')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('name')), h('th', { scope: 'col', class: 'num' }, t('size')), h('th', { scope: 'col' }, t('modified')), h('th', { scope: 'col' }, t('actions')))),
        this.rows),
      this.emptyNote, this.more, this.trash, this.links);
    this.dialog = h('dialog', { class: 'details', 'aria-labelledby': 'details-title' });
    return h('div', { class: 'files' },
      h('aside', { class: 'buckets' }, h('h2', {}, t('buckets')), this.bucketList),
      this.pane, this.dialog);
  }

  async loadBuckets() {
    const doc = await xml('GET', s3Path());
    const names = [...doc.getElementsByTagName('Bucket')].map((b) => field(b, 'Name'));
    this.bucketList.replaceChildren(...names.map((n) => h('li', {},
      h('button', { type: 'button', class: 'bucket', 'data-bucket': n, onclick: () => this.open(n, '') }, n))));
    if (!names.length) this.bucketList.append(h('li', { class: 'muted' }, t('noBuckets')));
    if (names.length === 1) await this.open(names[0], '');
  }

  async open(bucket, prefix) {
    const changed = bucket !== this.bucket;
    this.bucket = bucket;
    this.prefix = prefix;
    this.searching = null;
    this.pane.hidden = false;
    for (const b of this.bucketList.querySelectorAll('button')) {
      b.setAttribute('aria-current', b.dataset.bucket === bucket ? 'true' : 'false');
    }
    this.renderCrumbs();
    this.trash.open = false;
    this.rows.replaceChildren();
    this.token = null;
    if (changed) this.loadChanges();
    await this.loadPage();
  }

  renderCrumbs() {
    const items = [{ label: this.bucket, prefix: '' }];
    let acc = '';
    for (const seg of this.prefix.split('/').filter(Boolean)) {
      acc += `${seg}/`;
      items.push({ label: seg, prefix: acc });
    }
    this.crumbs.replaceChildren(...items.map((it, i) => h('li', {},
      i === items.length - 1
        ? h('span', { 'aria-current': 'page' }, it.label)
        : h('button', { type: 'button', class: 'link', onclick: () => this.open(this.bucket, it.prefix) }, it.label))));
  }

  /** Whether the key may list the folder on view (else it sees its granted folders). */
  mayList(prefix) {
    const f = this.folders(this.bucket);
    return f === null || f.some((p) => prefix.startsWith(p));
  }

  async loadPage() {
    this.more.hidden = true;
    if (!this.mayList(this.prefix)) {
      const below = new Set();
      for (const p of this.folders(this.bucket)) {
        if (p.startsWith(this.prefix)) below.add(this.prefix + p.slice(this.prefix.length).split('/')[0] + '/');
      }
      this.rows.replaceChildren(...[...below].sort().map((p) => this.folderRow(p)));
      this.emptyNote.hidden = below.size > 0;
      return;
    }
    const params = { 'list-type': '2', delimiter: '/', prefix: this.prefix, 'max-keys': String(PAGE) };
    if (this.token) params['continuation-token'] = this.token;
    const doc = await xml('GET', s3Path(this.bucket) + query(params));
    const top = doc.documentElement;
    for (const cp of top.getElementsByTagName('CommonPrefixes')) this.rows.append(this.folderRow(field(cp, 'Prefix')));
    for (const c of top.getElementsByTagName('Contents')) {
      const key = field(c, 'Key');
      if (key === this.prefix) continue;
      this.rows.append(this.fileRow(key, Number(field(c, 'Size')), field(c, 'LastModified')));
    }
    this.token = field(top, 'IsTruncated') === 'true' ? field(top, 'NextContinuationToken') : null;
    this.more.hidden = !this.token;
    this.emptyNote.hidden = this.rows.children.length > 0;
  }

  folderRow(prefix) {
    const name = prefix.slice(this.prefix.length);
    return h('tr', { class: 'folder' },
      h('td', {}, h('button', { type: 'button', class: 'link', 'data-prefix': prefix, onclick: () => this.open(this.bucket, prefix) },
        h('span', { class: 'icon folder', 'aria-hidden': 'true' }), name)),
      h('td', { class: 'num' }, ''), h('td', {}, t('folder')), h('td', {}, ''));
  }

  fileRow(key, bytes, modified) {
    const name = this.searching ? key : key.slice(this.prefix.length);
    const download = s3Path(this.bucket, key) + query({
      'response-content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(key.split('/').pop())}`,
    });
    return h('tr', { class: 'file', 'data-key': key },
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => this.details(key) },
        h('span', { class: 'icon file', 'aria-hidden': 'true' }), name)),
      h('td', { class: 'num' }, size(bytes)),
      h('td', {}, when(modified)),
      h('td', {}, h('div', { class: 'actions' },
        h('a', { href: download, class: 'button', download: key.split('/').pop(), 'aria-label': `${t('download')}: ${name}` }, t('download')),
        h('button', { type: 'button', class: 'danger', 'aria-label': `${t('delete')}: ${name}`, onclick: () => this.remove(key) }, t('delete')))));
  }

  async upload(files) {
    if (!files || !files.length) return;
    await uploadFiles(files, this.bucket, this.prefix, this.uploads, () => {});
    await this.open(this.bucket, this.prefix);
  }

  async remove(key) {
    if (!window.confirm(t('confirmDelete', key))) return;
    try {
      await request('DELETE', s3Path(this.bucket, key));
      notice(t('movedToTrash', key));
    } catch (e) {
      notice(t('error', e.message), true);
    }
    await this.open(this.bucket, this.prefix);
  }

  async loadTrash() {
    const doc = await xml('GET', s3Path(this.bucket) + query({ versions: null, prefix: this.prefix, delimiter: '/' }));
    const latest = new Set();
    const newest = new Map();
    for (const el of doc.documentElement.children) {
      const key = field(el, 'Key');
      if (el.localName === 'Version' && field(el, 'IsLatest') === 'true') latest.add(key);
      if (el.localName === 'Version' && field(el, 'IsLatest') !== 'true' && !newest.has(key)) newest.set(key, el);
    }
    const rows = [];
    for (const [key, el] of newest) {
      if (latest.has(key)) continue;
      const id = field(el, 'VersionId');
      rows.push(h('tr', { 'data-key': key },
        h('td', {}, key.slice(this.prefix.length)),
        h('td', { class: 'num' }, size(field(el, 'Size'))),
        h('td', {}, when(field(el, 'LastModified'))),
        h('td', {}, h('button', { type: 'button', 'aria-label': `${t('restore')}: ${key}`, onclick: () => this.restore(key, id) }, t('restore')))));
    }
    this.trashRows.replaceChildren(...rows);
    if (!rows.length) this.trashRows.append(h('tr', {}, h('td', { colspan: '4', class: 'muted' }, t('trashEmpty'))));
  }

  /** Restores a deleted file: its newest trash version copied back as current. */
  async restore(key, versionId) {
    const source = `${encodeURIComponent(this.bucket)}/${key.split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(versionId)}`;
    try {
      await request('PUT', s3Path(this.bucket, key), { headers: { 'x-amz-copy-source': source } });
      notice(t('restored', key));
    } catch (e) {
      notice(t('error', e.message), true);
    }
    await this.open(this.bucket, this.prefix);
  }

  async details(key) {
    const url = s3Path(this.bucket, key);
    const head = await request('HEAD', url);
    const meta = [['Content-Type', head.headers.get('content-type')], [t('size'), size(head.headers.get('content-length'))],
      ['ETag', head.headers.get('etag')], [t('modified'), when(head.headers.get('last-modified'))]];
    for (const [k, v] of head.headers) if (k.startsWith('x-amz-meta-')) meta.push([k.slice(11), v]);
    let tags = [];
    try {
      const doc = await xml('GET', url + query({ tagging: null }));
      tags = [...doc.getElementsByTagName('Tag')].map((tg) => [field(tg, 'Key'), field(tg, 'Value')]);
    } catch { /* no read of tags: shown as none */ }
    const link = head.headers.get('x-kura-public-url');
    const dl = (pairs) => h('dl', {}, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '')]));
    const linkBox = link
      ? h('div', { class: 'row' }, h('input', { readonly: true, value: link, id: 'public-link', 'aria-label': t('publicLink') }),
        h('button', { type: 'button', onclick: () => navigator.clipboard.writeText(link).then(() => notice(t('copied'))) }, t('copyLink')))
      : h('p', { class: 'muted' }, t('notPublished'));
    const toggle = h('button', { type: 'button', id: 'publish-toggle', onclick: () => this.publish(key, !link) }, link ? t('unpublish') : t('publish'));
    this.linkOut = h('div', { class: 'link-out' });
    const share = h('button', { type: 'button', id: 'download-link', onclick: () => this.makeLink({ key, expires_seconds: 7 * 86400 }) }, t('downloadLink'));
    this.dialog.replaceChildren(
      h('h2', { id: 'details-title' }, key.split('/').pop()),
      h('h3', {}, t('metadata')), dl(meta),
      h('h3', {}, t('tags')), tags.length ? dl(tags) : h('p', { class: 'muted' }, t('noTags')),
      this.tagEditor(key, tags),
      h('h3', {}, t('publicLink')), linkBox, toggle, share, this.linkOut,
      h('form', { method: 'dialog' }, h('button', { class: 'primary', id: 'details-close' }, t('close'))));
    if (!this.dialog.open) this.dialog.showModal();
  }

  /** A form replacing the file's tags (`key=value`, one a line). */
  tagEditor(key, tags) {
    const area = h('textarea', { id: 'tag-edit', rows: '3', spellcheck: 'false' });
    area.value = tags.map(([k, v]) => `${k}=${v}`).join('\n');
    const esc = (x) => x.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    return h('form', { class: 'tag-edit', onsubmit: async (e) => {
      e.preventDefault();
      const pairs = area.value.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
        const eq = l.indexOf('=');
        return eq < 0 ? [l, ''] : [l.slice(0, eq).trim(), l.slice(eq + 1).trim()];
      });
      const body = `<Tagging><TagSet>${pairs.map(([k, v]) => `<Tag><Key>${esc(k)}</Key><Value>${esc(v)}</Value></Tag>`).join('')}</TagSet></Tagging>`;
      try {
        await request('PUT', s3Path(this.bucket, key) + query({ tagging: null }), { headers: { 'content-type': 'application/xml' }, body });
        notice(t('saved'));
      } catch (err) { notice(t('error', err.message), true); }
      await this.details(key);
    } },
    h('label', { for: 'tag-edit' }, t('editTags')), area,
    h('button', { type: 'submit' }, t('saveTags')));
  }

  /** The dialog that makes an upload link for the folder on view. */
  uploadLinkForm() {
    const labelled = (id, label, attrs) => [h('label', { for: id }, label), h('input', { id, ...attrs })];
    this.linkOut = h('div', { class: 'link-out' });
    const form = h('form', { class: 'link-form', onsubmit: (e) => {
      e.preventDefault();
      const v = (id) => form.querySelector(`#${id}`).value.trim();
      const mib = Number(v('link-max-size'));
      const files = Number(v('link-max-files'));
      this.makeLink({
        prefix: this.prefix,
        expires_seconds: Math.round(Number(v('link-days')) * 86400),
        max_file_size: mib > 0 ? Math.round(mib * 1048576) : undefined,
        max_files: files > 0 ? files : undefined,
        label: v('link-label'),
      });
    } },
    ...labelled('link-days', t('linkDays'), { type: 'number', min: '1', max: '365', step: 'any', value: '7', required: true }),
    ...labelled('link-max-size', t('linkMaxSize'), { type: 'number', min: '1', step: 'any' }),
    ...labelled('link-max-files', t('linkMaxFiles'), { type: 'number', min: '1', step: '1' }),
    ...labelled('link-label', t('linkLabel'), { type: 'text', maxlength: '500' }),
    h('button', { type: 'submit', id: 'link-create', class: 'primary' }, t('createLink')));
    this.dialog.replaceChildren(
      h('h2', { id: 'details-title' }, t('uploadLinkTitle', `${this.bucket}/${this.prefix}`)),
      h('p', {}, t('uploadLinkIntro')), form, this.linkOut,
      h('form', { method: 'dialog' }, h('button', { id: 'details-close' }, t('close'))));
    if (!this.dialog.open) this.dialog.showModal();
  }

  /** Makes a share link in this bucket and shows its URL (given only now). */
  async makeLink(spec) {
    try {
      const info = await json('POST', 'api/links', { bucket: this.bucket, ...spec });
      const out = h('input', { readonly: true, value: info.url, id: 'link-url', 'aria-label': t('linkCreated') });
      this.linkOut.replaceChildren(h('p', {}, t('linkCreated')), h('div', { class: 'row' }, out,
        h('button', { type: 'button', onclick: () => navigator.clipboard.writeText(info.url).then(() => notice(t('copied'))) }, t('copyLink'))));
      if (this.links.open) await this.loadLinks();
    } catch (e) {
      notice(t('error', e.message), true);
    }
  }

  /** The bucket's share links this key may manage, with a revoke button. */
  async loadLinks() {
    let all = [];
    try { all = await json('GET', 'api/links'); } catch (e) { notice(t('error', e.message), true); }
    const rows = all.filter((l) => l.bucket === this.bucket).reverse().map((l) => h('tr', { 'data-link-id': l.id },
      h('td', {}, l.kind),
      h('td', {}, l.kind === 'upload' ? `${l.prefix}` : l.key),
      h('td', {}, when(l.expires)),
      h('td', { class: 'link-state' }, l.state),
      h('td', {}, l.state === 'active'
        ? h('button', { type: 'button', class: 'danger', 'aria-label': `${t('revoke')}: ${l.id}`, onclick: () => this.revokeLink(l.id) }, t('revoke'))
        : '')));
    this.linkRows.replaceChildren(...rows);
    if (!rows.length) this.linkRows.append(h('tr', {}, h('td', { colspan: '5', class: 'muted' }, t('noLinks'))));
  }

  async revokeLink(id) {
    try {
      await json('DELETE', `api/links/${encodeURIComponent(id)}`);
      notice(t('revoked'));
    } catch (e) {
      notice(t('error', e.message), true);
    }
    await this.loadLinks();
  }

  async publish(key, on) {
    try {
      await request('PUT', s3Path(this.bucket, key) + query({ acl: null }), { headers: { 'x-amz-acl': on ? 'public-read' : 'private' } });
    } catch (e) {
      notice(t('error', e.message), true);
    }
    await this.details(key);
  }

  async search() {
    const text = this.searchInput.value.trim();
    if (!text) return this.open(this.bucket, this.prefix);
    const params = { search: null, 'max-keys': String(PAGE) };
    for (const term of text.split(/\s+/)) {
      const eq = term.indexOf('=');
      if (eq > 0) params[term.slice(0, eq)] = term.slice(eq + 1);
      else params.prefix = this.prefix + term;
    }
    try {
      const resp = await request('GET', s3Path(this.bucket) + query(params), { headers: { accept: 'application/json' } });
      const found = await resp.json();
      this.searching = text;
      this.more.hidden = true;
      this.rows.replaceChildren(...found.objects.map((o) => this.fileRow(o.key, o.size, o.lastModified)));
      this.emptyNote.hidden = found.objects.length > 0;
    } catch (e) {
      notice(t('error', e.message), true);
    }
  }

  /** The changes since this browser last opened the bucket (the ?changes feed). */
  async loadChanges() {
    this.changes.replaceChildren();
    const mark = `kura-seen:${this.session.accessKeyId}:${this.bucket}`;
    const seen = localStorage.getItem(mark);
    const now = new Date().toISOString();
    if (!seen) { localStorage.setItem(mark, `since:${now}`); return; }
    const folders = this.folders(this.bucket);
    const params = { changes: null, 'max-items': '50' };
    if (seen.startsWith('after:')) params.after = seen.slice(6); else params.since = seen.slice(6);
    if (folders && folders.length === 1) params.prefix = folders[0];
    try {
      const resp = await request('GET', s3Path(this.bucket) + query(params));
      const feed = await resp.json();
      localStorage.setItem(mark, feed.next ? `after:${feed.next}` : seen);
      const list = feed.changes.map((c) => h('li', {}, h('span', { class: `event ${c.event}` }, c.event), ' ', c.key, ' ', h('span', { class: 'muted' }, when(c.lastModified))));
      this.changes.append(h('details', { open: list.length > 0 },
        h('summary', {}, `${t('changes')} (${list.length}${feed.more ? '+' : ''})`),
        list.length ? h('ul', {}, list) : h('p', { class: 'muted' }, t('noChanges'))));
    } catch { /* the feed needs read on the bucket: nothing to show then */ }
  }
}
