// build_book: the web edition's one script. Every page works without it; it adds
// - the contents open beside the text on a wide screen (a closed "Contents" on a phone),
// - full-text search over the Pagefind index in pagefind/ (static files, no server),
// - Escape closes a footnote or citation pop-up and the search results.
(function () {
  "use strict";
  var wide = window.matchMedia("(min-width: 60rem)");
  var sidebar = document.querySelector("[data-sidebar]");
  function layout() { if (sidebar) sidebar.open = wide.matches; }
  layout();
  if (wide.addEventListener) wide.addEventListener("change", layout);

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll(".pop-anchor:hover, .pop-anchor:focus-within").forEach(function (a) {
      a.classList.add("pop-dismissed");
    });
    var results = document.getElementById("search-results");
    if (results && results.contains(document.activeElement) || document.activeElement === input) {
      results.textContent = "";
      if (input) input.focus();
    }
  });
  document.addEventListener("mouseout", undismiss);
  document.addEventListener("focusout", undismiss);
  function undismiss(event) {
    var anchor = event.target.closest && event.target.closest(".pop-anchor.pop-dismissed");
    if (anchor && !anchor.contains(event.relatedTarget)) anchor.classList.remove("pop-dismissed");
  }

  var box = document.querySelector("[data-search]");
  var input = document.getElementById("search-input");
  if (!box || !input || location.protocol === "file:") return;   // the index is fetched: it needs http(s)
  box.hidden = false;
  var results = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  var here = new URL(".", document.baseURI).pathname;   // the site's folder (404.html may be served anywhere)
  var engine = null, timer = null, asked = 0;
  // the messages, in the book's language (the template writes them on the search box)
  function words(name, fallback) { return box.getAttribute("data-" + name) || fallback; }

  function load() {
    if (!engine) {
      engine = import(here + "pagefind/pagefind.js").then(function (pagefind) {
        return pagefind.options({ baseUrl: here }).then(function () { return pagefind; });
      });
    }
    return engine;
  }
  function say(text) { status.textContent = text; }
  function show(query) {
    var mine = ++asked;
    if (!query.trim()) { results.textContent = ""; say(""); return; }
    load().then(function (pagefind) { return pagefind.search(query); }).then(function (found) {
      if (mine !== asked) return null;
      return Promise.all(found.results.slice(0, 12).map(function (r) { return r.data(); })).then(function (pages) {
        if (mine !== asked) return;
        results.textContent = "";
        if (!pages.length) {
          var none = document.createElement("p");
          none.className = "search-status";
          none.textContent = words("none", "Nothing found for “{query}”.").replace("{query}", function () { return query; });
          results.appendChild(none);
          say(words("no-results", "No results"));
          results.setAttribute("data-query", query);
          return;
        }
        var list = document.createElement("ol");
        list.setAttribute("aria-label", words("results", "Search results"));
        pages.forEach(function (page) {
          var item = document.createElement("li");
          var link = document.createElement("a");
          link.href = page.url;
          link.textContent = (page.meta && page.meta.title) || page.url;
          var excerpt = document.createElement("p");
          excerpt.innerHTML = fold(page.excerpt);   // the page's text with <mark> around the words found
          item.appendChild(link);
          item.appendChild(excerpt);
          list.appendChild(item);
        });
        results.appendChild(list);
        say(words(found.results.length === 1 ? "one" : "many", "{count} results").replace("{count}", function () { return String(found.results.length); }));
        results.setAttribute("data-query", query);   // what the results shown answer (tests wait for it)
      });
    }).catch(function () { say(words("unavailable", "Search is not available here.")); });
  }
  // The index holds each run of Japanese followed by its suffixes (see site.py): fold them back
  // into the run, marked if one of them matched. The last suffix is joined to what followed the run
  // ("条約, commonly", "戦後50年"): that goes back onto the run, without a space.
  // (the characters of transform.JAPANESE)
  var JAPANESE = /[\u2015\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]/, RUN_START = /^[\u2015\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+/, RUN_END = /[\u2015\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+$/;
  function fold(html) {
    var words = html.split(" "), out = [], last = null, marked = false;
    function bare(w) { return w.replace(/<\/?mark>/g, ""); }
    function tail(text) { var run = text.match(RUN_END); return run ? run[0] : null; }
    words.forEach(function (word) {
      var text = bare(word);
      var head = (text.match(RUN_START) || [""])[0];
      var suffix = last !== null && head.length > 0 && head.length < last.length && last.slice(-head.length) === head;
      if (suffix && word.indexOf("<mark>") >= 0 && !marked) {
        out[out.length - 1] = "<mark>" + bare(out[out.length - 1]) + "</mark>";
        marked = true;
      }
      if (suffix && head.length === text.length) {
        last = text;
        return;
      }
      if (suffix) {         // the last suffix, and what followed the run
        var rest = text.slice(head.length);
        out[out.length - 1] += rest;
        last = tail(rest);
        marked = false;
        return;
      }
      out.push(word);
      last = JAPANESE.test(text) ? tail(text) : null;
      marked = word.indexOf("<mark>") >= 0;
    });
    return out.join(" ");
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { show(input.value); }, 200);
  });
  input.addEventListener("focus", function () { load(); });
})();
