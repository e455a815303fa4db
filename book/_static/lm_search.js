/* Offline search snippets for the Learning Mechanics book.
 *
 * Sphinx's search page fetches every result page to show a snippet under its
 * link; opened from files (file://) the browser refuses those fetches, so the
 * results came without snippets and the console filled with errors. The book sets
 * html_show_search_summary to False (no fetches) and writes every page's text into
 * _static/lm_search_text.js at build time (book/_ext/lm_book.py); on the search
 * page this script loads it and gives each result its snippet, served or offline.
 */
(function () {
  "use strict";
  function start() {
    var results = document.getElementById("search-results");
    if (!results) { return; }
    var root = document.documentElement.dataset.content_root || "";
    var data = document.createElement("script");
    data.src = root + "_static/lm_search_text.js";
    data.onload = function () { watch(results); };
    document.head.appendChild(data);
  }
  function terms() {
    var q = new URLSearchParams(window.location.search).get("q") || "";
    return new Set(q.toLowerCase().split(/\s+/).filter(function (t) {
      return t.length > 0;
    }));
  }
  function snippet(li, words) {
    var link = li.querySelector("a");
    if (!link || li.dataset.lmSnippet) { return; }
    li.dataset.lmSnippet = "1";
    var doc = (link.getAttribute("href") || "").split("#")[0].replace(/\.html$/, "");
    var text = (window.LM_SEARCH_TEXT || {})[doc];
    if (!text || !window.Search) { return; }
    var box = document.createElement("div");
    box.setAttribute("role", "main");
    box.textContent = text;
    var p = Search.makeSearchSummary(box.outerHTML, words, "");
    if (p) { li.appendChild(p); }
  }
  function watch(results) {
    var words = terms();
    function fill() {
      results.querySelectorAll("ul.search > li").forEach(function (li) {
        snippet(li, words);
      });
    }
    fill();
    new MutationObserver(fill).observe(results, {childList: true, subtree: true});
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
