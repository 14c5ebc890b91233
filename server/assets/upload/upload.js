// The upload page of an upload link (kura). No build step, no libraries:
// the token is the last segment of the page's address; `info` says what the
// link accepts; each file is posted as a multipart form with
// XMLHttpRequest, whose upload events drive a progress bar per file.

const TEXT = {
  en: {
    title: "Send files",
    loading: "Checking the link…",
    ready: "Drop files below or choose them. They go to the recipient only; you cannot see other files.",
    expires: "Open until",
    maxFile: "Largest file",
    filesLeft: "Files left",
    bytesLeft: "Space left",
    unlimited: "no limit",
    drop: "Drop files here, or",
    choose: "Choose files",
    sent: "Files",
    waiting: "Waiting…",
    uploading: "Uploading…",
    done: "Sent",
    failed: "Not sent",
    tooLarge: "This file is larger than the link accepts.",
    network: "The connection failed. Try again.",
    NoSuchLink: "This link does not exist. Check the address.",
    LinkExpired: "This link has expired. Ask the sender for a new one.",
    LinkRevoked: "This link was withdrawn by its owner.",
    LinkUsedUp: "This link accepts no more files.",
    PreconditionFailed: "A file with this name is already there. Rename yours and send it again.",
    AccessDenied: "This link no longer works. Ask the sender for a new one.",
    finished: "All files were sent.",
  },
  ja: {
    title: "ファイルを送る",
    loading: "リンクを確認しています…",
    ready: "ファイルをドロップするか選択してください。受取人だけに届きます。他のファイルは見えません。",
    expires: "有効期限",
    maxFile: "1ファイルの上限",
    filesLeft: "残りファイル数",
    bytesLeft: "残り容量",
    unlimited: "制限なし",
    drop: "ここにファイルをドロップ、または",
    choose: "ファイルを選択",
    sent: "ファイル",
    waiting: "待機中…",
    uploading: "送信中…",
    done: "送信済み",
    failed: "送信できませんでした",
    tooLarge: "このファイルはリンクの上限を超えています。",
    network: "接続に失敗しました。もう一度お試しください。",
    NoSuchLink: "このリンクは存在しません。アドレスを確認してください。",
    LinkExpired: "このリンクは期限切れです。送り主に新しいリンクを依頼してください。",
    LinkRevoked: "このリンクは所有者により取り消されました。",
    LinkUsedUp: "このリンクはこれ以上ファイルを受け付けません。",
    PreconditionFailed: "同じ名前のファイルがすでにあります。名前を変えてもう一度送ってください。",
    AccessDenied: "このリンクは使えなくなりました。送り主に新しいリンクを依頼してください。",
    finished: "すべてのファイルを送信しました。",
  },
};

const lang = (navigator.languages || [navigator.language || "en"])
  .map((l) => String(l).toLowerCase().split("-")[0])
  .find((l) => l in TEXT) || "en";
const t = (k) => TEXT[lang][k] ?? TEXT.en[k] ?? k;

const token = location.pathname.split("/").filter(Boolean).pop() || "";
const base = `/_kura/upload/${encodeURIComponent(token)}`;
const $ = (id) => document.getElementById(id);

function size(n) {
  if (n == null) return t("unlimited");
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

function errorText(code, message) {
  return TEXT[lang][code] || TEXT.en[code] || message || code;
}

function say(text, isError = false) {
  const s = $("state");
  s.textContent = text;
  s.classList.toggle("error", isError);
}

let link = null;

function show(status) {
  link = status;
  if (status.label) { $("label").textContent = status.label; $("label").hidden = false; }
  $("expires").textContent = new Date(status.expires).toLocaleString(lang);
  $("max-file").textContent = size(status.max_file_size);
  $("files-left").textContent = status.files_left ?? t("unlimited");
  $("bytes-left").textContent = size(status.bytes_left);
  $("budget").hidden = false;
  const open = status.files_left !== 0 && status.bytes_left !== 0;
  $("form").hidden = !open;
  if (!open) say(t("LinkUsedUp"), true);
}

async function load() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  try {
    const r = await fetch(`${base}/info`, { cache: "no-store", credentials: "omit" });
    const body = await r.json();
    if (!r.ok) { say(errorText(body.code, body.message), true); return; }
    say(t("ready"));
    show(body);
  } catch {
    say(t("network"), true);
  }
}

function row(file) {
  const li = document.createElement("li");
  const name = document.createElement("div");
  name.className = "name";
  name.textContent = `${file.name} (${size(file.size)})`;
  const bar = document.createElement("progress");
  bar.max = file.size || 1;
  bar.value = 0;
  bar.setAttribute("aria-label", file.name);
  const note = document.createElement("div");
  note.textContent = t("waiting");
  li.append(name, bar, note);
  $("list").append(li);
  $("list-title").hidden = false;
  return { bar, note };
}

function send(file, ui) {
  return new Promise((resolve) => {
    const form = new FormData();
    form.append("key", "${filename}");
    if (file.type) form.append("Content-Type", file.type);
    form.append("file", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", base);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) { ui.bar.max = e.total; ui.bar.value = e.loaded; } };
    xhr.onload = () => {
      const body = xhr.response || {};
      if (xhr.status === 201) {
        ui.bar.value = ui.bar.max;
        ui.note.textContent = t("done");
        ui.note.className = "done";
        show(body.link);
        resolve(true);
      } else {
        ui.note.textContent = `${t("failed")}: ${errorText(body.code, body.message)}`;
        ui.note.className = "failed";
        if (["LinkExpired", "LinkRevoked", "LinkUsedUp", "NoSuchLink"].includes(body.code)) {
          say(errorText(body.code, body.message), true);
          $("form").hidden = true;
        }
        resolve(false);
      }
    };
    xhr.onerror = () => { ui.note.textContent = `${t("failed")}: ${t("network")}`; ui.note.className = "failed"; resolve(false); };
    ui.note.textContent = t("uploading");
    xhr.send(form);
  });
}

let queue = Promise.resolve();

function add(files) {
  for (const file of files) {
    const ui = row(file);
    // One at a time: each answer updates what the link still accepts.
    queue = queue.then(async () => {
      if (link && file.size > link.max_file_size) {
        ui.note.textContent = `${t("failed")}: ${t("tooLarge")}`;
        ui.note.className = "failed";
        return;
      }
      await send(file, ui);
    });
  }
  queue = queue.then(() => { if (!$("state").classList.contains("error")) say(t("finished")); });
}

$("file").addEventListener("change", (e) => { add([...e.target.files]); e.target.value = ""; });
const drop = $("drop");
for (const ev of ["dragenter", "dragover"]) {
  drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
}
for (const ev of ["dragleave", "drop"]) {
  drop.addEventListener(ev, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (e) => { e.preventDefault(); add([...e.dataTransfer.files]); });
$("form").addEventListener("submit", (e) => e.preventDefault());

load();
