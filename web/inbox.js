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
      case '?': sheet(!document.querySelector('#shortcuts.open')); break;
      default: return;
    }
    e.preventDefault();
  });
})();
