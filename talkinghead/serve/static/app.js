// talkinghead's page: talks to the HTTP API of the same server (no other site, no library).
"use strict";

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("talkinghead-token") || "";
let selectedFace = null;   // id of a kept face, or null when a file is chosen
let currentJob = null;
let pollTimer = null;

function headers() {
  return token ? { Authorization: "Bearer " + token } : {};
}

async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  if (res.status === 401) {
    $("token-box").hidden = false;
    throw new Error("this server needs its token");
  }
  if (!res.ok) {
    let msg = res.status + " " + res.statusText;
    try { msg = (await res.json()).detail || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return res.status === 204 ? null : res.json();
}

// Files behind the token cannot be fetched by <video src>/<img src>: fetch them as blobs then.
async function fileURL(path) {
  if (!token) return path;
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) throw new Error("cannot fetch " + path + ": " + res.status);
  return URL.createObjectURL(await res.blob());
}

async function loadVoices() {
  const { voices } = await api("/api/voices");
  const sel = $("voice");
  sel.replaceChildren(...voices.map((v) => new Option(v, v)));
}

async function loadFaces() {
  const { faces } = await api("/api/faces");
  const box = $("faces");
  box.replaceChildren();
  if (!faces.length) {
    const p = document.createElement("p");
    p.textContent = "No face kept yet: upload one below.";
    box.append(p);
  }
  for (const f of faces) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "face" + (f.id === selectedFace ? " selected" : "");
    b.dataset.faceId = f.id;
    b.title = `${f.label}: ${f.kind}, ${f.width}x${f.height}` + (f.prepared ? ", prepared" : "");
    const img = document.createElement("img");
    img.alt = f.label;
    fileURL(f.thumbnail).then((u) => { img.src = u; }).catch(() => {});
    const cap = document.createElement("span");
    cap.textContent = f.label + (f.prepared ? " ✓" : "");
    b.append(img, cap);
    b.addEventListener("click", () => {
      selectedFace = selectedFace === f.id ? null : f.id;
      $("face-file").value = "";
      loadFaces();
    });
    box.append(b);
  }
}

function source() {
  return document.querySelector('input[name="source"]:checked').value;
}

function showSource() {
  for (const div of document.querySelectorAll("[data-source]")) div.hidden = div.dataset.source !== source();
}

function formData() {
  const fd = new FormData();
  const faceFile = $("face-file").files[0];
  if (faceFile) fd.append("face", faceFile);
  else if (selectedFace) fd.append("face_id", selectedFace);
  else throw new Error("choose a face: one of the kept faces, or upload a photo or a video");
  const src = source();
  if (src === "text") {
    const text = $("text").value;
    if (!text.trim()) throw new Error("type what the face should say");
    fd.append("text", text);
  } else if (src === "script") {
    const f = $("script-file").files[0];
    if (!f) throw new Error("choose a script file");
    fd.append("script", f);
  } else {
    const f = $("recording-file").files[0];
    if (!f) throw new Error("choose a recording");
    if (!$("transcript").value.trim()) throw new Error("type what the recording says");
    fd.append("recording", f);
    fd.append("transcript", $("transcript").value);
  }
  fd.append("voice", $("voice").value);
  fd.append("rate", $("rate").value || "1");
  if ($("seed").value !== "") fd.append("seed", $("seed").value);
  fd.append("fast", $("fast").checked);
  fd.append("own_mouth", $("own-mouth").checked);
  fd.append("skin_detail", $("skin-detail").checked);
  return fd;
}

async function submit(ev) {
  ev.preventDefault();
  $("form-error").textContent = "";
  let fd;
  try { fd = formData(); } catch (e) { $("form-error").textContent = e.message; return; }
  $("submit").disabled = true;
  try {
    const job = await api("/api/jobs", { method: "POST", body: fd });
    $("face-file").value = "";
    selectedFace = job.face_id;
    track(job);
    loadFaces();
  } catch (e) {
    $("form-error").textContent = e.message;
  } finally {
    $("submit").disabled = false;
  }
}

function track(job) {
  currentJob = job.id;
  $("current").hidden = false;
  $("result").hidden = true;
  $("job-error").textContent = "";
  $("video").removeAttribute("src");
  show(job);
  clearInterval(pollTimer);
  pollTimer = setInterval(poll, 1000);
}

async function poll() {
  if (!currentJob) return;
  try {
    show(await api("/api/jobs/" + currentJob));
  } catch (e) {
    $("job-error").textContent = e.message;
  }
}

async function show(job) {
  $("status").textContent = job.status;
  $("status").dataset.status = job.status;
  $("stage").textContent = job.status === "running" ? "(" + job.stage + ")" : "";
  $("progress").value = job.progress;
  $("cancel").hidden = !["queued", "running"].includes(job.status);
  $("job-error").textContent = ["queued", "running"].includes(job.status) && job.note ? job.note : "";
  if (["done", "failed", "cancelled"].includes(job.status)) {
    clearInterval(pollTimer);
    pollTimer = null;
    loadJobs();
    loadFaces();
  }
  if (job.status === "failed") $("job-error").textContent = job.error;
  if (job.status === "done" && $("result").hidden) {
    $("result").hidden = false;
    const video = $("video");
    video.muted = true;   // lets it start on its own; unmute with the controls
    video.src = await fileURL(job.links.video);
    $("download-video").href = await fileURL(job.links.video + "?download=1");
    $("download-video").download = "talkinghead-" + job.id.slice(0, 8) + ".mp4";
    $("download-srt").href = await fileURL(job.links.subtitles + "?download=1");
    $("download-srt").download = "talkinghead-" + job.id.slice(0, 8) + ".srt";
    video.play().catch(() => {});
  }
}

async function loadJobs() {
  const { jobs } = await api("/api/jobs?limit=20");
  const ul = $("jobs");
  ul.replaceChildren();
  for (const j of jobs) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "#";
    const what = j.options.text || j.options.transcript || "";
    a.textContent = `${new Date(j.created * 1000).toLocaleString()}: ${j.status}: ${what.slice(0, 60)}`;
    a.addEventListener("click", (e) => { e.preventDefault(); track(j); });
    li.append(a);
    ul.append(li);
  }
}

async function cancel() {
  if (!currentJob) return;
  try { show(await api(`/api/jobs/${currentJob}/cancel`, { method: "POST" })); }
  catch (e) { $("job-error").textContent = e.message; }
}

async function start() {
  try {
    const health = await (await fetch("/api/health")).json();
    if (health.token_required && !token) { $("token-box").hidden = false; return; }
    await Promise.all([loadVoices(), loadFaces(), loadJobs()]);
    $("token-box").hidden = true;
  } catch (e) {
    $("form-error").textContent = e.message;
  }
}

$("token-save").addEventListener("click", () => {
  token = $("token").value.trim();
  sessionStorage.setItem("talkinghead-token", token);
  start();
});
$("face-file").addEventListener("change", () => { selectedFace = null; loadFaces(); });
for (const r of document.querySelectorAll('input[name="source"]')) r.addEventListener("change", showSource);
$("job-form").addEventListener("submit", submit);
$("cancel").addEventListener("click", cancel);
start();
