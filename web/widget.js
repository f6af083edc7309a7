/* Atalaya chat widget: vanilla ES2017, no dependencies, CSP-friendly (no eval,
 * no inline handlers, styles only through the CSSOM). Embed with
 * <script src="https://HOST/widget.js" data-channel="webchat" data-title="Chat with us" data-lang="es" async></script>
 * Test hooks: [data-atalaya=launcher|panel|name|email|start|input|send|messages|message|text]. */
(function () {
  'use strict';
  var S = document.currentScript || document.querySelector('script[src*="widget.js"][data-channel]');
  if (!S || !window.fetch) return;
  var base = S.src.replace(/[?#].*$/, '').replace(/\/[^/]*$/, '');
  var channel = S.getAttribute('data-channel') || 'webchat';
  var key = 'atalaya-widget:' + base + ':' + channel;
  var reg = (window.__atalayaWidgets = window.__atalayaWidgets || {});
  if (reg[key]) return;
  reg[key] = 1;
  var lang = (S.getAttribute('data-lang') || navigator.language || 'en').slice(0, 2).toLowerCase() === 'es' ? 'es' : 'en';
  var T = lang === 'es' ? {
    title: 'Chatea con nosotros', open: 'Abrir chat', close: 'Cerrar chat',
    intro: 'Déjanos tu nombre para empezar.', name: 'Nombre', email: 'Correo electrónico (opcional)',
    start: 'Empezar', input: 'Escribe tu mensaje…', send: 'Enviar', sending: 'Enviando…',
    sendFailed: 'No se pudo enviar el mensaje. Inténtalo de nuevo.',
    startFailed: 'No se pudo iniciar el chat. Inténtalo de nuevo.',
    nameRequired: 'Escribe tu nombre.', badEmail: 'Revisa el correo electrónico.',
    tooMany: 'Demasiados mensajes; espera un momento.', agent: 'Agente', messages: 'Mensajes', unread: 'nuevos'
  } : {
    title: 'Chat with us', open: 'Open chat', close: 'Close chat',
    intro: 'Tell us your name to start.', name: 'Name', email: 'Email (optional)',
    start: 'Start chat', input: 'Type your message…', send: 'Send', sending: 'Sending…',
    sendFailed: 'Your message could not be sent. Please try again.',
    startFailed: 'The chat could not be started. Please try again.',
    nameRequired: 'Please enter your name.', badEmail: 'Please check the email address.',
    tooMany: 'Too many messages; please wait a moment.', agent: 'Agent', messages: 'Messages', unread: 'new'
  };
  var title = S.getAttribute('data-title') || T.title;

  // Storage may throw (privacy modes, blocked third-party storage): degrade to memory.
  function load() { try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; } }
  function save(v) {
    try { if (v) localStorage.setItem(key, JSON.stringify(v)); else localStorage.removeItem(key); } catch (e) { /* memory only */ }
  }
  function openFlag(v) {
    try {
      if (v === undefined) return sessionStorage.getItem(key + ':open') === '1';
      sessionStorage.setItem(key + ':open', v ? '1' : '0');
    } catch (e) { return false; }
  }

  function el(tag, hook, css, attrs, parent) {
    var e = document.createElement(tag);
    if (hook) e.setAttribute('data-atalaya', hook);
    if (css) e.style.cssText = css;
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function show(e, on) {
    if (e.__d === undefined) e.__d = e.style.display === 'none' ? '' : e.style.display;
    e.style.display = on ? e.__d : 'none';
    e.hidden = !on;
  }
  var C = '#1f5f8b', ERR = 'color:#b00020;font-size:13px;';
  var FONT = 'font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;';
  var FIELD = FONT + 'box-sizing:border-box;width:100%;padding:8px 10px;border:1px solid #b8c2cc;border-radius:6px;margin:4px 0 10px;color:#222;background:#fff;';
  var BTN = FONT + 'cursor:pointer;border:0;border-radius:6px;padding:8px 14px;background:' + C + ';color:#fff;font-weight:600;';
  var id = 'atalaya-' + Math.random().toString(36).slice(2);

  var root = el('div', 'root', 'position:fixed;right:20px;bottom:20px;z-index:2147483000;color:#222;' + FONT);
  var panel = el('div', 'panel', 'position:absolute;right:0;bottom:68px;width:min(360px,calc(100vw - 40px));height:min(520px,calc(100vh - 110px));background:#fff;border-radius:10px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;',
    { id: id, role: 'dialog', 'aria-label': title }, root);
  var launcher = el('button', 'launcher', BTN + 'width:56px;height:56px;border-radius:50%;padding:0;box-shadow:0 4px 14px rgba(0,0,0,.25);font-size:26px;position:relative;',
    { type: 'button', 'aria-controls': id, 'aria-expanded': 'false' }, root);
  launcher.textContent = '\uD83D\uDCAC';
  var badge = el('span', 'badge', 'position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;background:#c0392b;color:#fff;font-size:12px;line-height:20px;display:none;', {}, launcher);

  var head = el('div', null, 'display:flex;align-items:center;justify-content:space-between;padding:12px 14px;background:' + C + ';color:#fff;font-weight:600;', {}, panel);
  el('span', null, '', {}, head).textContent = title;
  var closeBtn = el('button', 'close', BTN + 'padding:2px 8px;font-size:20px;line-height:1;', { type: 'button', 'aria-label': T.close }, head);
  closeBtn.textContent = '\u00D7';

  var form = el('form', 'start-form', 'padding:16px;overflow:auto;', { novalidate: '' }, panel);
  el('p', null, 'margin:0 0 12px;', {}, form).textContent = T.intro;
  function field(hook, label, type) {
    el('label', null, 'display:block;font-size:13px;color:#444;', { for: id + hook }, form).textContent = label;
    return el('input', hook, FIELD, { id: id + hook, type: type, autocomplete: type === 'email' ? 'email' : 'name', maxlength: '120' }, form);
  }
  var nameIn = field('name', T.name, 'text');
  nameIn.required = true;
  var emailIn = field('email', T.email, 'email');
  var formErr = el('div', 'form-error', ERR + 'margin:0 0 10px;', { role: 'alert' }, form);
  var startBtn = el('button', 'start', BTN + 'width:100%;', { type: 'submit', 'aria-label': T.start }, form);
  startBtn.textContent = T.start;

  var chat = el('div', 'chat', 'display:flex;flex-direction:column;flex:1;min-height:0;', {}, panel);
  var list = el('div', 'messages', 'flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px;background:#f5f7f9;',
    { role: 'log', 'aria-live': 'polite', 'aria-label': T.messages }, chat);
  var status = el('div', 'status', 'font-size:12px;color:#555;padding:0 12px;', { role: 'status' }, chat);
  var error = el('div', 'error', ERR + 'padding:0 12px;', { role: 'alert' }, chat);
  var composer = el('form', 'composer', 'display:flex;gap:8px;padding:10px;border-top:1px solid #e1e5ea;align-items:flex-end;', {}, chat);
  var input = el('textarea', 'input', FIELD + 'margin:0;resize:none;flex:1;',
    { rows: '2', placeholder: T.input, 'aria-label': T.input, maxlength: '4000' }, composer);
  var sendBtn = el('button', 'send', BTN, { type: 'submit', 'aria-label': T.send }, composer);
  sendBtn.textContent = T.send;

  var session = load(); // {token, name, read: highest message id seen with the panel open}
  if (!session || typeof session.token !== 'string') session = null;
  var seen = {}, lastId = 0, unread = 0, gen = 0, source = null, pollTimer = null, isOpen = false;

  function label() {
    launcher.setAttribute('aria-label', isOpen ? T.close : unread ? T.open + ' (' + unread + ' ' + T.unread + ')' : T.open);
  }
  function setOpen(on, quiet) {
    isOpen = on;
    show(panel, on);
    launcher.setAttribute('aria-expanded', String(on));
    openFlag(on);
    if (on) {
      markRead();
      list.scrollTop = list.scrollHeight;
      if (!quiet) (session ? input : nameIn).focus();
    }
    label();
  }
  function markRead() {
    unread = 0;
    show(badge, false);
    if (session && (session.read || 0) < lastId) { session.read = lastId; save(session); }
  }
  function view() { show(form, !session); show(chat, !!session); }

  function ApiError(status, msg) { this.status = status; this.message = msg; }
  async function api(method, path, body) {
    var token = session && session.token, headers = {}, res, data = null;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = 'Bearer ' + token;
    var ctl = window.AbortController ? new AbortController() : null;
    var timer = ctl && setTimeout(function () { ctl.abort(); }, 20000);
    try {
      res = await fetch(base + path, {
        method: method, headers: headers, mode: 'cors', credentials: 'omit', cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body), signal: ctl ? ctl.signal : undefined
      });
      data = await res.json().catch(function () { return null; });
    } catch (e) {
      throw new ApiError(0, 'network');
    } finally {
      clearTimeout(timer);
    }
    // 401: the session is gone (expired, revoked, data reset); start over.
    if (res.status === 401 && token && session && session.token === token) reset();
    if (!res.ok) throw new ApiError(res.status, (data && data.error) || res.statusText);
    return data;
  }

  function addMessage(m) {
    if (!m || typeof m.id !== 'number' || (m.direction !== 'in' && m.direction !== 'out')) return;
    if (m.id > lastId) lastId = m.id;
    if (seen[m.id]) return;
    var mine = m.direction === 'in'; // "in" = written by the visitor
    var item = el('div', 'message', 'max-width:80%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere;' +
      (mine ? 'align-self:flex-end;background:' + C + ';color:#fff;' : 'align-self:flex-start;background:#fff;border:1px solid #e1e5ea;'),
      { 'data-direction': m.direction, 'data-id': String(m.id) });
    if (!mine) el('div', 'author', 'font-size:12px;font-weight:600;color:#555;', {}, item).textContent = m.author || T.agent;
    el('div', 'text', '', {}, item).textContent = m.text || '';
    var d = new Date(m.sent_at);
    if (m.sent_at && !isNaN(d)) item.title = d.toLocaleString(lang);
    seen[m.id] = item;
    // Keep id order even when the stream and a poll race each other.
    var before = null;
    for (var i = list.children.length - 1; i >= 0 && Number(list.children[i].getAttribute('data-id')) > m.id; i--) before = list.children[i];
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 60;
    list.insertBefore(item, before);
    if (atBottom || mine) list.scrollTop = list.scrollHeight;
    if (isOpen) markRead();
    else if (!mine && m.id > ((session && session.read) || 0)) {
      badge.textContent = String(++unread);
      show(badge, true);
      label();
    }
  }

  async function fetchNew(g) {
    var data = await api('GET', '/widget/v1/messages?after=' + lastId);
    if (g === gen) ((data && data.messages) || []).forEach(addMessage);
  }
  function stopLive() {
    if (source) source.close();
    clearTimeout(pollTimer);
    source = pollTimer = null;
  }
  function poll(g) {
    pollTimer = setTimeout(function () {
      if (g !== gen) return;
      fetchNew(g).catch(function () { /* next round */ }).then(function () { if (g === gen) poll(g); });
    }, 3000);
  }
  function connect() {
    stopLive();
    var g = ++gen;
    fetchNew(g).catch(function () { /* the stream or the poll catches up */ });
    if (!window.EventSource) return poll(g);
    var es = (source = new EventSource(base + '/widget/v1/stream?token=' + encodeURIComponent(session.token)));
    es.addEventListener('open', function () {
      // Catch up on anything written between the history load and the subscription.
      if (g === gen) fetchNew(g).catch(function () {});
    });
    es.addEventListener('message', function (ev) {
      if (g !== gen) return;
      try { addMessage(JSON.parse(ev.data)); } catch (e) { /* ignore malformed */ }
    });
    es.addEventListener('error', function () {
      if (g !== gen || source !== es) return;
      es.close();
      source = null;
      poll(g);
    });
  }
  function reset() {
    gen++;
    stopLive();
    session = null;
    save(null);
    seen = {};
    lastId = unread = 0;
    list.textContent = error.textContent = status.textContent = '';
    show(badge, false);
    view();
    label();
    if (isOpen) nameIn.focus();
  }

  form.addEventListener('submit', async function (ev) {
    ev.preventDefault();
    if (startBtn.disabled) return;
    var name = nameIn.value.trim(), email = emailIn.value.trim();
    formErr.textContent = '';
    if (!name) { formErr.textContent = T.nameRequired; return nameIn.focus(); }
    if (email && !emailIn.checkValidity()) { formErr.textContent = T.badEmail; return emailIn.focus(); }
    startBtn.disabled = true;
    try {
      var r = await api('POST', '/widget/v1/sessions', { channel: channel, name: name, email: email || null });
      if (!r || typeof r.token !== 'string') throw new ApiError(0, '');
      session = { token: r.token, name: name, read: 0 };
      save(session);
      view();
      connect();
      input.focus();
    } catch (e) {
      formErr.textContent = e.status === 429 ? T.tooMany : e.status === 400 && e.message ? T.startFailed + ' (' + e.message + ')' : T.startFailed;
    } finally {
      startBtn.disabled = false;
    }
  });

  // A retry of the same text reuses its client_id, so the server stores it once.
  var sending = false, pending = null;
  composer.addEventListener('submit', async function (ev) {
    ev.preventDefault();
    var text = input.value.trim(), g = gen;
    if (sending || !text || !session) return;
    sending = input.readOnly = sendBtn.disabled = true;
    sendBtn.setAttribute('aria-busy', 'true');
    error.textContent = '';
    status.textContent = T.sending;
    try {
      if (!pending || pending.text !== text) pending = { text: text, id: Date.now().toString(36) + Math.random().toString(36).slice(2) };
      var r = await api('POST', '/widget/v1/messages', { text: text, client_id: pending.id });
      if (g === gen) {
        input.value = '';
        pending = null;
        if (r && typeof r.message_id === 'number') {
          addMessage({ id: r.message_id, direction: 'in', text: text, author: session.name, sent_at: new Date().toISOString() });
        }
      }
    } catch (e) {
      // Keep the typed text so the visitor can retry.
      if (e.status !== 401) error.textContent = e.status === 429 ? T.tooMany : T.sendFailed;
    } finally {
      sending = input.readOnly = sendBtn.disabled = false;
      sendBtn.removeAttribute('aria-busy');
      status.textContent = '';
      if (isOpen && session) input.focus();
    }
  });

  input.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      if (composer.requestSubmit) composer.requestSubmit();
      else composer.dispatchEvent(new Event('submit', { cancelable: true }));
    }
  });
  launcher.addEventListener('click', function () { setOpen(!isOpen); });
  closeBtn.addEventListener('click', function () { setOpen(false); launcher.focus(); });
  root.addEventListener('keydown', function (ev) {
    if (ev.key === 'Escape' && isOpen) { ev.preventDefault(); setOpen(false); launcher.focus(); }
  });

  function mount() {
    document.body.appendChild(root);
    view();
    setOpen(openFlag() === true, true);
    if (session) connect();
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
