// Atalaya inbox: keyboard shortcuts and small conveniences. The pages work
// without this file; it only adds speed.
(function () {
  'use strict';
  function rows() { return Array.prototype.slice.call(document.querySelectorAll('.list .conv-row')); }
  function current() {
    var r = rows();
    var i = r.indexOf(document.activeElement);
    if (i < 0) { i = r.findIndex(function (x) { return x.classList.contains('active'); }); }
    return { rows: r, index: i };
  }
  function move(step) {
    var c = current();
    if (!c.rows.length) { return; }
    var next = c.index < 0 ? 0 : Math.min(c.rows.length - 1, Math.max(0, c.index + step));
    c.rows[next].focus();
  }
  function mode(value) {
    var box = document.querySelector('#reply');
    if (!box) { return; }
    var radio = box.querySelector('input[name=mode][value=' + value + ']');
    if (radio) { radio.checked = true; }
    box.classList.toggle('note', value === 'note');
    var area = box.querySelector('textarea');
    if (area) { area.focus(); }
  }
  function sheet(open) {
    var s = document.querySelector('#shortcuts');
    if (s) { s.classList.toggle('open', open); }
  }
  document.addEventListener('change', function (e) {
    var t = e.target;
    if (t && t.name === 'mode' && t.form && t.form.id === 'reply') {
      t.form.classList.toggle('note', t.value === 'note');
    }
  });
  document.addEventListener('click', function (e) {
    if (e.target && e.target.hasAttribute && e.target.hasAttribute('data-close-sheet')) { sheet(false); }
  });
  document.addEventListener('keydown', function (e) {
    var t = e.target;
    var typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
    if (e.key === 'Escape') { sheet(false); if (typing) { t.blur(); } return; }
    if (typing) {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && t.form) { e.preventDefault(); t.form.requestSubmit(); }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    switch (e.key) {
      case 'j': move(1); break;
      case 'k': move(-1); break;
      case 'Enter': {
        var c = current();
        if (c.index >= 0 && document.activeElement === c.rows[c.index]) { return; }
        if (c.index >= 0) { c.rows[c.index].click(); }
        break;
      }
      case 'r': mode('reply'); break;
      case 'n': mode('note'); break;
      case 'e': {
        var b = document.querySelector('[data-action=resolved]');
        if (b) { b.click(); }
        break;
      }
      case 'a': {
        var take = document.querySelector('[data-action=claim]');
        var pick = document.querySelector('#actions select[name=assignee]');
        if (pick) { pick.focus(); } else if (take) { take.click(); }
        break;
      }
      case '/': {
        var q = document.querySelector('input[type=search][name=q]');
        if (!q) { return; }
        q.focus(); q.select();
        break;
      }
      case '?': sheet(!document.querySelector('#shortcuts.open')); break;
      default: return;
    }
    e.preventDefault();
  });

  // Canned responses: "/" + shortcut in the reply box opens a picker.
  var picker = null;
  function closePicker() { if (picker) { picker.el.remove(); picker = null; } }
  function slashWord(area) {
    var before = area.value.slice(0, area.selectionStart);
    var m = /(^|\s)\/([\w-]*)$/.exec(before);
    return m ? { query: m[2], start: before.length - m[2].length - 1 } : null;
  }
  function insertAt(area, start, end, text) {
    area.value = area.value.slice(0, start) + text + area.value.slice(end);
    area.selectionStart = area.selectionEnd = start + text.length;
    area.focus();
  }
  function choose(i) {
    if (!picker || !picker.items[i]) { return; }
    var item = picker.items[i];
    if (item.error) { return; }
    insertAt(picker.area, picker.start, picker.area.selectionStart, item.text);
    closePicker();
  }
  function renderPicker(area, word, items) {
    closePicker();
    if (!items.length) { return; }
    var ul = document.createElement('ul');
    ul.className = 'picker';
    ul.setAttribute('role', 'listbox');
    items.forEach(function (it, i) {
      var li = document.createElement('li');
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', i === 0 ? 'true' : 'false');
      var b = document.createElement('b'); b.textContent = '/' + it.shortcut;
      var sp = document.createElement('span'); sp.textContent = ' ' + (it.error ? it.error : it.title);
      li.appendChild(b); li.appendChild(sp);
      if (it.error) { li.className = 'flash error'; }
      li.addEventListener('mousedown', function (e) { e.preventDefault(); choose(i); });
      ul.appendChild(li);
    });
    area.parentNode.insertBefore(ul, area.nextSibling);
    picker = { el: ul, items: items, index: 0, area: area, start: word.start };
  }
  function highlight(step) {
    if (!picker) { return; }
    var lis = picker.el.querySelectorAll('li');
    picker.index = (picker.index + step + lis.length) % lis.length;
    lis.forEach(function (li, i) { li.setAttribute('aria-selected', i === picker.index ? 'true' : 'false'); });
  }
  var pending = 0;
  document.addEventListener('input', function (e) {
    var area = e.target;
    var form = area && area.form;
    if (!form || form.id !== 'reply' || area.tagName !== 'TEXTAREA' || !form.dataset.canned) { return; }
    var word = slashWord(area);
    if (!word) { closePicker(); return; }
    var ticket = ++pending;
    fetch(form.dataset.canned + '?q=' + encodeURIComponent(word.query), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) { if (ticket === pending) { renderPicker(area, word, items); } })
      .catch(function () { closePicker(); });
  });
  document.addEventListener('keydown', function (e) {
    if (!picker || e.target !== picker.area) { return; }
    if (e.key === 'ArrowDown') { highlight(1); e.preventDefault(); e.stopImmediatePropagation(); }
    else if (e.key === 'ArrowUp') { highlight(-1); e.preventDefault(); e.stopImmediatePropagation(); }
    else if (e.key === 'Enter' || e.key === 'Tab') { choose(picker.index); e.preventDefault(); e.stopImmediatePropagation(); }
    else if (e.key === 'Escape') { closePicker(); e.stopImmediatePropagation(); }
  }, true);
  document.addEventListener('click', function (e) {
    var a = e.target && e.target.closest && e.target.closest('[data-insert]');
    var area = document.querySelector('#reply textarea');
    if (!a || !area) { return; }
    e.preventDefault();
    insertAt(area, area.selectionStart, area.selectionEnd, a.getAttribute('data-insert'));
  });

  // Presence: tell colleagues we are viewing or replying (every 10 s, and
  // when typing starts); "left" when the page goes away.
  var presenceEl = document.querySelector('[data-presence]');
  if (presenceEl) {
    var url = presenceEl.getAttribute('data-presence');
    var csrf = '';
    try { csrf = JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRF-Token'] || ''; } catch (err) { csrf = ''; }
    var lastTyped = 0;
    var lastSent = '';
    var beat = function (activity, keepalive) {
      lastSent = activity;
      return fetch(url, {
        method: 'POST', credentials: 'same-origin', keepalive: !!keepalive,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': csrf },
        body: 'activity=' + activity
      }).catch(function () { return null; });
    };
    var current = function () { return Date.now() - lastTyped < 15000 ? 'replying' : 'viewing'; };
    beat('viewing');
    setInterval(function () { beat(current()); }, 10000);
    document.addEventListener('input', function (e) {
      if (e.target && e.target.form && e.target.form.id === 'reply') {
        lastTyped = Date.now();
        if (lastSent !== 'replying') { beat('replying'); }
      }
    });
    window.addEventListener('pagehide', function () { beat('left', true); });
  }
})();
