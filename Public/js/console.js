// Progressive help only: every form works without it.
(function () {
  "use strict";
  // The SHA-256 of the chosen document, shown and filled in before submitting.
  var file = document.getElementById("document-file");
  if (file && window.crypto && crypto.subtle) {
    file.addEventListener("change", function () {
      var f = file.files && file.files[0];
      if (!f) return;
      f.arrayBuffer().then(function (buf) { return crypto.subtle.digest("SHA-256", buf); }).then(function (digest) {
        var hex = Array.prototype.map.call(new Uint8Array(digest), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
        document.getElementById("documentSha256").value = hex;
        document.getElementById("document-hash-shown").textContent = hex;
        var name = document.getElementById("fileName");
        if (name) name.value = f.name;
      });
    });
  }
  // What stays with the holder after a transfer.
  var amount = document.getElementById("transfer-amount");
  var remaining = document.getElementById("remaining");
  if (amount && remaining) {
    var update = function () {
      var max = parseInt(amount.getAttribute("data-max-fen"), 10);
      var m = /^\s*([0-9,]+)(?:\.([0-9]{1,2}))?\s*$/.exec(amount.value);
      if (!m) { remaining.textContent = ""; return; }
      var fen = parseInt(m[1].replace(/,/g, ""), 10) * 100 + (m[2] ? parseInt((m[2] + "0").slice(0, 2), 10) : 0);
      var left = max - fen;
      remaining.textContent = left >= 0 ? "¥" + (left / 100).toLocaleString("en-US", { minimumFractionDigits: 2 }) : "";
    };
    amount.addEventListener("input", update);
  }
  // Tables sort by a click on their heading.
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead ? table.tHead.rows[0].cells : [], function (th, index) {
      th.setAttribute("aria-sort", "none");
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var asc = th.getAttribute("aria-sort") !== "ascending";
        var key = function (row) {
          var text = (row.cells[index] && row.cells[index].textContent || "").trim();
          var n = text.replace(/[¥,%]/g, "");
          return /^-?[0-9.]+$/.test(n) ? parseFloat(n) : text;
        };
        var rows = Array.prototype.slice.call(body.rows).sort(function (a, b) {
          var x = key(a), y = key(b);
          return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      });
    });
  });
})();
