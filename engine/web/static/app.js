/* yishi workbench: the only script. It checks the playground's YAML as you type
   (debounced, with the page's CSRF secret) and shows the located problems as text.
   Every page works without it; nothing here builds HTML from strings. */
"use strict";
(function () {
  var form = document.getElementById("playground");
  if (!form) { return; }
  var source = document.getElementById("source");
  var list = document.getElementById("problems");
  var status = document.getElementById("live-status");
  var url = form.getAttribute("data-check");
  var csrf = form.querySelector("input[name=csrf]").value;
  var timer = null;
  var sent = 0;

  function show(result, number) {
    if (number !== sent) { return; }  /* an older answer arriving late */
    while (list.firstChild) { list.removeChild(list.firstChild); }
    (result.problems || []).forEach(function (p) {
      var item = document.createElement("li");
      item.className = p.severity;
      item.textContent = p.text;
      list.appendChild(item);
    });
    status.textContent = result.ok ? "✓ " + (result.title || "") : "✗ " + (result.problems || []).length;
  }

  function check() {
    sent += 1;
    var number = sent;
    var body = new URLSearchParams();
    body.set("csrf", csrf);
    body.set("source", source.value);
    status.textContent = "…";
    fetch(url, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (result) { show(result, number); })
      .catch(function () { status.textContent = "?"; });
  }

  source.addEventListener("input", function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(check, 400);
  });
  if (source.value) { check(); }
})();
