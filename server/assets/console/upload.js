// Uploads dropped or chosen files into the folder on view: one PUT for
// small files, a multipart upload (8 MiB parts) for large ones, with a
// progress bar per file.

import { putWithProgress, request, s3Path, query, xml, field } from './api.js';
import { t } from './i18n.js';
import { h, size } from './ui.js';

const PART_SIZE = 8 * 1024 * 1024;
const SINGLE_PUT_MAX = 16 * 1024 * 1024;
const PARALLEL_FILES = 2;

/** Uploads `files` to `bucket` under `prefix`; `done()` after each file. */
export async function uploadFiles(files, bucket, prefix, list, done) {
  const queue = [...files].map((file) => ({ file, row: row(file, list) }));
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      try {
        await uploadOne(job.file, bucket, prefix + job.file.name, job.row);
        job.row.finish(t('uploadDone'), false);
      } catch (e) {
        job.row.finish(t('uploadFailed', e.message), true);
      }
      done();
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_FILES }, worker));
}

function row(file, list) {
  const bar = h('progress', { max: String(file.size || 1), value: '0', 'aria-label': file.name });
  const pct = h('span', { class: 'pct' }, '0%');
  const li = h('li', { class: 'upload' }, h('span', { class: 'name' }, file.name), h('span', { class: 'size' }, size(file.size)), bar, pct);
  list.prepend(li);
  return {
    progress(sent) {
      bar.value = sent;
      pct.textContent = `${Math.floor((100 * sent) / (file.size || 1))}%`;
    },
    finish(text, failed) {
      if (!failed) this.progress(file.size || 1);
      pct.textContent = text;
      li.classList.add(failed ? 'failed' : 'done');
    },
  };
}

async function uploadOne(file, bucket, key, r) {
  const headers = file.type ? { 'content-type': file.type } : {};
  const url = s3Path(bucket, key);
  if (file.size <= SINGLE_PUT_MAX) {
    await putWithProgress(url, file, (n) => r.progress(n), headers);
    return;
  }
  const created = await xml('POST', url + query({ uploads: null }), { headers });
  const uploadId = created.querySelector('UploadId').textContent;
  const etags = [];
  try {
    for (let n = 1, start = 0; start < file.size; n++, start += PART_SIZE) {
      const part = file.slice(start, Math.min(start + PART_SIZE, file.size));
      const x = await putWithProgress(
        url + query({ partNumber: String(n), uploadId }),
        part,
        (sent) => r.progress(start + sent),
      );
      etags.push(x.getResponseHeader('ETag'));
    }
    const body = '<CompleteMultipartUpload>' + etags.map((e, i) =>
      `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('') + '</CompleteMultipartUpload>';
    const doc = await xml('POST', url + query({ uploadId }), { headers: { 'content-type': 'application/xml' }, body });
    // CompleteMultipartUpload may answer 200 with an error document.
    const err = doc.documentElement.localName === 'Error';
    if (err) throw new Error(field(doc.documentElement, 'Message') || field(doc.documentElement, 'Code'));
  } catch (e) {
    await request('DELETE', url + query({ uploadId })).catch(() => {});
    throw e;
  }
}
