/*! salesmarketing tracking snippet.
 *
 * Put on every page of your site:
 *   <script async src="https://crm.example.jp/static/leads/t.js"></script>
 * (add data-endpoint="https://crm.example.jp" when the script is served from somewhere else).
 *
 * It keeps a first-party visitor id in the cookie `sm_vid` (on your domain, 2 years), sends one page view
 * per page load to <endpoint>/t/collect with the URL, its UTM parameters, the referrer and the title, and
 * adds the visitor id and a submission id to forms that post to <endpoint>/f/… so the lead who fills in a
 * form is linked to the pages they read before. No other data is collected. Set window.smTrackDisabled = true
 * before the script runs (e.g. without consent) to turn it off.
 */
(function () {
  "use strict";
  if (window.smTrackDisabled || window.__smTrackLoaded) return;
  window.__smTrackLoaded = true;

  var script = document.currentScript;
  var endpoint = (script && script.getAttribute("data-endpoint")) || (script ? new URL(script.src).origin : "");
  endpoint = endpoint.replace(/\/+$/, "");
  var COOKIE = "sm_vid";
  var UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"];

  function randomId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function readCookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([A-Za-z0-9._:-]{1,64})(?:;|$)"));
    return match ? match[1] : "";
  }

  function visitorId() {
    var id = readCookie(COOKIE);
    if (!id) id = "v1." + randomId().slice(0, 24);
    // Refresh the expiry on every visit; Secure when the page is https.
    document.cookie = COOKIE + "=" + id + "; Max-Age=" + 60 * 60 * 24 * 730 + "; Path=/; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
    return id;
  }

  var vid = visitorId();
  var params = new URLSearchParams(location.search);

  function send(data) {
    var url = endpoint + "/t/collect";
    var body = JSON.stringify(data);
    // text/plain keeps it a "simple" request: no CORS preflight, and sendBeacon survives page unloads.
    if (navigator.sendBeacon && navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }))) return;
    if (window.fetch) {
      fetch(url, { method: "POST", body: body, mode: "no-cors", keepalive: true, credentials: "omit",
        headers: { "Content-Type": "text/plain" } }).catch(function () {});
      return;
    }
    new Image().src = url + "?" + new URLSearchParams(data).toString();
  }

  var view = { type: "page_view", vid: vid, eid: randomId().slice(0, 32), url: location.href,
    ref: document.referrer || "", title: (document.title || "").slice(0, 300) };
  UTM.forEach(function (name) { if (params.get(name)) view[name] = params.get(name).slice(0, 100); });
  send(view);

  // Forms posting to our form endpoint get the visitor id, a submission id (a double click is one submission),
  // the page URL and this page's UTM parameters as hidden fields.
  function hidden(form, name, value) {
    if (!value || form.querySelector('input[name="' + name + '"]')) return;
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }

  function decorate(form) {
    var action = form.getAttribute("action") || "";
    if (action.indexOf(endpoint + "/f/") !== 0 && action.indexOf("/f/") !== 0) return;
    hidden(form, "sm_vid", vid);
    hidden(form, "sm_sid", randomId());
    hidden(form, "sm_page", location.href.slice(0, 2048));
    UTM.forEach(function (name) { hidden(form, name, (params.get(name) || "").slice(0, 100)); });
  }

  function decorateAll() { Array.prototype.forEach.call(document.forms, decorate); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", decorateAll);
  else decorateAll();
  document.addEventListener("submit", function (event) { if (event.target && event.target.tagName === "FORM") decorate(event.target); }, true);

  window.smTrack = { visitorId: vid };
})();
