// The console's entry point: sign-in, the session, and switching views.

import { json, setCsrf } from './api.js';
import { t, translate } from './i18n.js';
import { clearNotice, notice } from './ui.js';
import { Browser } from './browse.js';
import { Operator } from './operator.js';

const $ = (id) => document.getElementById(id);
let session = null;

function showView(name) {
  for (const v of ['signin', 'files', 'operator']) $(`${v}-view`).hidden = v !== name;
  $('nav').hidden = name === 'signin';
  for (const b of ['files', 'operator']) $(`nav-${b}`).setAttribute('aria-pressed', String(b === name));
}

async function start(s) {
  clearNotice();
  session = s;
  setCsrf(s.csrf);
  $('who').textContent = s.name;
  $('nav-operator').hidden = !s.admin;
  showView('files');
  await new Browser($('files-view'), s).show();
}

function signedOut(message) {
  clearNotice();
  session = null;
  setCsrf('');
  showView('signin');
  if (message) notice(message, true);
  $('access-key').focus();
}

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('signin-error').textContent = '';
  try {
    const s = await json('POST', 'api/session', {
      accessKeyId: $('access-key').value.trim(),
      secretAccessKey: $('secret-key').value,
    });
    $('secret-key').value = '';
    await start(s);
  } catch (err) {
    $('signin-error').textContent = t('signinFailed', err.message);
  }
});

$('signout').addEventListener('click', async () => {
  await json('DELETE', 'api/session').catch(() => {});
  signedOut();
});

$('nav-files').addEventListener('click', () => { showView('files'); });
$('nav-operator').addEventListener('click', async () => {
  showView('operator');
  await new Operator($('operator-view')).show();
});

window.addEventListener('kura-signed-out', () => { if (session) signedOut(t('sessionEnded')); });

translate();
json('GET', 'api/session').then(start, () => signedOut());
