/* The hosted payment page: asset choice, copy buttons, countdown, live status (server-sent events with a
 * polling fallback), the return to the store, and the sandbox's simulate control. Plain JavaScript. */
(function () {
  "use strict";

  Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var root = document.getElementById("checkout");
  var dataNode = document.getElementById("checkout-data");
  if (!root || !dataNode) { return; }
  var data = JSON.parse(dataNode.textContent);
  var strings = data.strings;
  var urls = data.urls;
  var status = data.status;
  var choosing = root.getAttribute("data-panel") === "choose" && status.phase !== "choose";
  var clockOffset = Date.parse(status.server_time) - Date.now();  // the server's clock decides expiry
  var source = null;
  var pollTimer = null;
  var redirectTimer = null;
  var PAYABLE = ["choose", "awaiting", "partial"];
  var CLOSED = ["expired", "underpaid", "cancelled"];

  function t(key, values) {
    var text = strings[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    return text;
  }

  // A plain decimal string ("-1234.5") as the page's language writes it, every digit kept: the same separators
  // Babel used on the server (data.numbers), so an amount that arrives later looks like the ones served.
  var numbers = data.numbers || {decimal: ".", group: ",", minus: "-", percent: "{n}%"};
  function num(value) {
    var text = String(value), sign = "";
    if (text.charAt(0) === "-") { sign = numbers.minus; text = text.slice(1); }
    var parts = text.split("."), whole = parts[0], grouped = "";
    while (whole.length > 3) {
      grouped = numbers.group + whole.slice(-3) + grouped;
      whole = whole.slice(0, -3);
    }
    return sign + whole + grouped + (parts.length > 1 ? numbers.decimal + parts[1] : "");
  }

  function percent(value) { return numbers.percent.split("{n}").join(num(value)); }

  function bound(name, scope) { return (scope || root).querySelector('[data-bind="' + name + '"]'); }

  function setText(node, text) { if (node && node.textContent !== text) { node.textContent = text; } }

  function option(asset) {
    for (var i = 0; i < status.options.length; i++) {
      if (status.options[i].asset === asset) { return status.options[i]; }
    }
    return null;
  }

  function panelFor(doc) {
    if (PAYABLE.indexOf(doc.phase) >= 0) {
      return doc.phase === "choose" || choosing ? "choose" : "pay-" + doc.asset;
    }
    return doc.phase;
  }

  function showPanel(id) {
    root.setAttribute("data-panel", id);
    Array.prototype.forEach.call(root.querySelectorAll("[data-panel-id]"), function (panel) {
      panel.hidden = panel.getAttribute("data-panel-id") !== id;
    });
  }

  // -- status ------------------------------------------------------------------------------------------

  function detail(doc) {
    return t("phase_" + doc.phase + "_detail", {
      paid: num(doc.amount_paid), due: num(doc.amount_due), remaining: num(doc.amount_remaining), asset: doc.asset,
      confirmations: num(doc.confirmations), target: num(doc.confirmations_required)
    });
  }

  function render(doc) {
    var previous = status;
    status = doc;
    // Each status says the server's time as of a moment that reached us late; the least late is the best guess,
    // so the offset only moves forward (a countdown never ticks back up; a server clock that jumps is followed).
    if (doc.server_time) { clockOffset = Math.max(clockOffset, Date.parse(doc.server_time) - Date.now()); }
    root.setAttribute("data-phase", doc.phase);
    if (PAYABLE.indexOf(doc.phase) < 0) { choosing = false; }
    setText(bound("title"), t("phase_" + doc.phase));
    setText(bound("detail"), detail(doc));
    var progress = bound("progress");
    progress.value = Math.min(100, parseFloat(doc.progress_percent));
    setText(progress, percent(doc.progress_percent));
    Array.prototype.forEach.call(root.querySelectorAll('[data-choose-form] button'), function (button) {
      button.classList.toggle("is-chosen", button.value === doc.chosen_asset);
    });
    doc.options.forEach(function (opt) {
      var panel = root.querySelector('[data-panel-id="pay-' + opt.asset + '"]');
      if (!panel) { return; }
      if (opt.rate_currency) {
        setText(bound("rate", panel), t("rate_line", {asset: opt.asset, rate: num(opt.rate), currency: opt.rate_currency}));
      }
      var sources = bound("rate-sources", panel);
      if (sources && opt.rate_sources.length) { setText(sources, t("rate_sources", {sources: opt.rate_sources.join(", ")})); }
      var lock = bound("quote-countdown", panel);
      if (lock) { lock.setAttribute("datetime", opt.quote_expires_at || ""); toggle(bound("quote-lock", panel), !!opt.quote_expires_at); }
      var before = previous && findIn(previous.options, opt.asset);
      var requoted = before && before.quote_expires_at !== opt.quote_expires_at;  // a new quote: new reference
      if (before && (requoted || before.amount_remaining !== opt.amount_remaining) && opt.amount_remaining !== "0") {
        refreshRequest(opt.asset, panel);
      }
    });
    toggle(bound("overpaid"), doc.overpaid);
    toggle(bound("paid-late"), doc.paid_late);
    showPanel(panelFor(doc));
    tick();
    if (doc.phase === "paid") { showReceipt(); finish(); }
    if (CLOSED.indexOf(doc.phase) >= 0) { slowDown(); }
  }

  // Paid while the page was open: the receipt (transaction, time) comes from the printable receipt page.
  function showReceipt() {
    var slot = bound("receipt");
    if (!slot || slot.querySelector("[data-receipt]")) { return; }
    fetch(urls.receipt, {headers: {"Accept": "text/html"}, cache: "no-store"}).then(function (response) {
      return response.ok ? response.text() : "";
    }).then(function (html) {
      var found = html && new DOMParser().parseFromString(html, "text/html").querySelector("[data-receipt]");
      if (!found || slot.querySelector("[data-receipt]")) { return; }
      var receipt = document.importNode(found, true);
      var links = receipt.querySelector(".receipt-links");
      if (links && !links.querySelector("[data-testid=receipt-link]")) {  // the printable page has no link to itself
        var link = document.createElement("a");
        link.className = "link-button";
        link.href = urls.receipt;
        link.setAttribute("data-testid", "receipt-link");
        link.textContent = t("printable_receipt");
        links.appendChild(link);
      }
      slot.appendChild(receipt);
    }).catch(function () { /* the page still says paid; a reload shows the receipt */ });
  }

  function findIn(list, asset) {
    for (var i = 0; i < list.length; i++) { if (list[i].asset === asset) { return list[i]; } }
    return null;
  }

  function toggle(node, on) { if (node) { node.hidden = !on; } }

  // A partial payment changes what is left to send: fetch the new request and QR code for the remainder.
  function refreshRequest(asset, panel) {
    fetchJSON(urls.request + encodeURIComponent(asset)).then(function (body) {
      bound("qr", panel).innerHTML = body.qr_svg;
      var amount = bound("amount", panel);
      amount.setAttribute("data-value", body.amount);  // what the copy button copies: the plain amount
      setText(amount, num(body.amount));
      var link = bound("wallet-link", panel);
      if (link) { link.setAttribute("href", body.payment_url); }
    }).catch(function () { /* the next status update tries again */ });
  }

  function fetchJSON(url, options) {
    return fetch(url, options || {headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) {
            var error = new Error((body.error && body.error.message) || response.statusText);
            error.body = body;
            throw error;
          }
          return body;
        });
      });
  }

  // -- countdown ---------------------------------------------------------------------------------------

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick() {
    var node = bound("countdown");
    var left = Math.max(0, Math.floor((Date.parse(status.expires_at) - (Date.now() + clockOffset)) / 1000));
    var text;
    if (left <= 0 || CLOSED.indexOf(status.phase) >= 0) {
      text = t("expired_short");
    } else {
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      text = (h ? h + ":" + pad(m) : pad(m)) + ":" + pad(s);
    }
    setText(node, text);
    announce(left);
    root.classList.toggle("is-urgent", left > 0 && left < 300);
    tickQuotes();
    if (left <= 0 && PAYABLE.indexOf(status.phase) >= 0 && !tick.asked) {
      tick.asked = true;  // the window just closed: ask the server once rather than wait for the stream
      poll();
    }
  }

  // A volatile asset's amount holds for a while; when it lapses the server quotes afresh on the next read.
  function tickQuotes() {
    Array.prototype.forEach.call(root.querySelectorAll('[data-bind="quote-countdown"]'), function (node) {
      var until = node.getAttribute("datetime");
      if (!until) { return; }
      var left = Math.max(0, Math.floor((Date.parse(until) - (Date.now() + clockOffset)) / 1000));
      setText(node, left > 0 ? pad(Math.floor(left / 60)) + ":" + pad(left % 60) : t("quote_refreshing"));
      if (left <= 0 && PAYABLE.indexOf(status.phase) >= 0 && tickQuotes.asked !== until) {
        tickQuotes.asked = until;  // ask once per lapse; the answer carries the new quote and its new lock
        poll();
      }
    });
  }

  // Screen readers hear the time left at a few moments (not every second): 10, 5 and 1 minutes before expiry.
  var ANNOUNCE_AT = [600, 300, 60];
  var announced = {};
  function announce(left) {
    if (PAYABLE.indexOf(status.phase) < 0) { return; }
    ANNOUNCE_AT.forEach(function (mark) {
      if (left <= mark && left > mark - 60 && !announced[mark]) {
        announced[mark] = true;
        setText(bound("countdown-announce"), t("countdown_announce", {minutes: Math.ceil(left / 60)}));
      }
    });
  }

  // -- live updates: server-sent events, polling when they are unavailable ---------------------------------

  function listen() {
    if (!window.EventSource) { startPolling(4000); return; }
    source = new EventSource(urls.events);
    source.addEventListener("status", function (event) {
      stopPolling();
      setText(bound("live-note"), "");
      render(JSON.parse(event.data));
    });
    source.onerror = function () {
      // CONNECTING: the stream ended on schedule and the browser reconnects by itself. CLOSED: the server
      // refused (busy, or gone): poll, and try the stream again later.
      if (source && source.readyState === EventSource.CLOSED) {
        source = null;
        setText(bound("live-note"), t("live_paused"));
        startPolling(4000);
        setTimeout(function () { if (!source && !done()) { listen(); } }, 30000);
      }
    };
  }

  function done() { return status.phase === "paid" || status.phase === "cancelled"; }

  function poll() {
    return fetchJSON(urls.status).then(render).catch(function () { /* keep the last known state */ });
  }

  function startPolling(every) {
    stopPolling();
    pollTimer = setInterval(poll, every);
  }

  function stopPolling() { if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } }

  function closeStream() { if (source) { source.close(); source = null; } }

  // Expired, underpaid or cancelled: only a late payment can still change the page, so check rarely.
  function slowDown() {
    closeStream();
    if (status.phase === "cancelled") { stopPolling(); return; }
    if (!pollTimer) { startPolling(15000); }
  }

  function finish() {
    closeStream();
    stopPolling();
    if (!data.has_return || redirectTimer) { return; }
    var left = data.redirect_seconds;
    var note = bound("redirect");
    setText(note, t("redirecting", {seconds: left}));
    redirectTimer = setInterval(function () {
      left -= 1;
      if (left <= 0) {
        clearInterval(redirectTimer);
        window.location.assign(urls["return"]);
      } else {
        setText(note, t("redirecting", {seconds: left}));
      }
    }, 1000);
  }

  // -- asset choice --------------------------------------------------------------------------------------

  var chooseForm = root.querySelector("[data-choose-form]");
  if (chooseForm) {
    chooseForm.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || !button.value) { return; }  // old browsers: the form posts and the page reloads
      event.preventDefault();
      setText(bound("choose-error"), "");
      fetchJSON(urls.choose, {
        method: "POST",
        headers: {"Content-Type": "application/json", "Accept": "application/json"},
        body: JSON.stringify({asset: button.value})
      }).then(function (doc) {
        choosing = false;
        render(doc);
        var heading = root.querySelector('[data-panel-id="pay-' + doc.asset + '"] h3');
        if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
      }).catch(function (error) {
        setText(bound("choose-error"), t("choose_failed", {message: error.message}));
      });
    });
  }

  Array.prototype.forEach.call(root.querySelectorAll("[data-change-asset]"), function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      choosing = true;
      showPanel("choose");
      var first = root.querySelector("[data-choose-form] button");
      if (first) { first.focus(); }
    });
  });

  // -- copy buttons ------------------------------------------------------------------------------------

  function copied(button, ok) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = ok ? "\u2713" : "!";
    setText(bound("live-note"), ok ? t("copied") : t("copy_failed"));
    setTimeout(function () { button.textContent = label; }, 1500);
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  Array.prototype.forEach.call(root.querySelectorAll("[data-copy]"), function (button) {
    button.addEventListener("click", function () {
      var node = document.getElementById(button.getAttribute("data-copy"));
      var text = (node.getAttribute("data-value") || node.textContent).trim();  // amounts copy plain, for wallets
      var fallback = function () {
        selectText(node);
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        copied(button, ok);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { copied(button, true); }, fallback);
      } else {
        fallback();
      }
    });
  });

  // -- sandbox -------------------------------------------------------------------------------------------

  Array.prototype.forEach.call(root.querySelectorAll("[data-simulate]"), function (button) {
    button.addEventListener("click", function () {
      var result = bound("simulate-result");
      var body = {mode: button.getAttribute("data-simulate")};
      if (status.chosen_asset) { body.asset = status.chosen_asset; }
      fetchJSON(urls.simulate, {
        method: "POST",
        headers: {"Content-Type": "application/json", "Accept": "application/json"},
        body: JSON.stringify(body)
      }).then(function (sent) {
        setText(result, t("simulate_sent", {amount: num(sent.amount), asset: sent.asset}));
      }).catch(function (error) {
        setText(result, t("simulate_failed", {message: error.message}));
      });
    });
  });

  // -- start ---------------------------------------------------------------------------------------------

  render(status);
  setInterval(tick, 1000);
  if (!done() && CLOSED.indexOf(status.phase) < 0) { listen(); }
})();
