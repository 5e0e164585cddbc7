"""The page's styles (one font stack for every part, CJK included) and its small script."""

import json

from ..text import MAX_UPLOAD_BYTES
from .webpage import PAGE

CSS = """
#chat { min-height: 420px; }
.kb-reply { line-height: 1.6; }
.kb-reply p { margin: 0.25em 0 !important; }
.kb-lead { font-size: 1.05em; }
.kb-label { font-weight: 700; margin-right: 0.4em; }
.kb-label::after { content: ":"; }
a.kb-cite { font-size: 0.78em; vertical-align: super; text-decoration: none; padding: 0 0.1em;
  color: var(--color-accent) !important; font-weight: 600; }
.kb-more, .kb-hint { color: var(--body-text-color-subdued); font-size: 0.9em; }
.kb-cards { margin-top: 0.5em; }
.kb-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.45em 0.75em;
  margin: 0.5em 0; background: var(--background-fill-primary); }
.kb-card.kb-flash { animation: kb-flash 1.2s ease-out; }
@keyframes kb-flash { from { box-shadow: 0 0 0 3px var(--color-accent); } to { box-shadow: 0 0 0 0 transparent; } }
.kb-head { font-size: 0.85em; color: var(--body-text-color-subdued); overflow-wrap: anywhere; }
.kb-n { font-weight: 700; color: var(--color-accent); }
.kb-title { font-weight: 600; color: var(--body-text-color); }
.kb-kb { font-weight: 600; color: var(--color-accent); }
.kb-base h4 { margin: 0.6em 0 0.2em; }
.kb-head code { font-size: 0.95em; white-space: normal; overflow-wrap: anywhere; }
.kb-text { margin: 0.3em 0; overflow-wrap: anywhere; }
mark.kb-term { background: #fef08a; color: #1f2937; padding: 0 0.1em; border-radius: 2px; }
strong.kb-best { font-weight: 700; }
details.kb-context > summary { cursor: pointer; color: var(--color-accent); font-size: 0.85em; margin-top: 0.2em; }
.kb-para { padding-left: 0.6em; border-left: 3px solid transparent; opacity: 0.7; overflow-wrap: anywhere; }
.kb-para.kb-cited { border-left-color: var(--color-accent); opacity: 1; }
a.kb-page { font-size: 0.85em; color: var(--color-accent) !important; text-decoration: none; }
#page-info { font-size: 0.85em; overflow-wrap: anywhere; }
#page-info p { margin: 0.2em 0; }
#page-image img { object-fit: contain; }
#page-nav { gap: 6px; }
.kb-pn { font-size: 0.8em; color: var(--body-text-color-subdued); margin-right: 0.5em; }
.kb-docs { width: 100%; font-size: 0.85em; border-collapse: collapse; border: none !important; margin: 0 !important; }
.kb-docs th, .kb-docs td { text-align: left; padding: 0.25em 0.5em; border: none !important;
  border-bottom: 1px solid var(--border-color-primary) !important; overflow-wrap: anywhere; vertical-align: top; }
.kb-docs tr { border: none !important; }
.kb-doc-title { margin-right: 0.3em; }
.kb-docs .kb-num { text-align: right; white-space: nowrap; }
.kb-docs code { font-size: 0.9em; white-space: normal; overflow-wrap: anywhere; }
.kb-tag { font-size: 0.8em; padding: 0 0.35em; border-radius: 4px; background: var(--color-accent-soft); }
.kb-status p { margin: 0.2em 0; }
.kb-status .kb-good { color: #15803d; }
.kb-status .kb-bad, .kb-error { color: #b91c1c; }
.kb-skipped { color: #b91c1c; font-size: 0.9em; margin: 0.3em 0; }
.kb-filter { width: 100%; box-sizing: border-box; margin: 0.2em 0 0.4em; padding: 0.3em 0.55em; font: inherit;
  font-size: 0.9em; color: var(--body-text-color); background: var(--input-background-fill);
  border: 1px solid var(--border-color-primary); border-radius: 6px; }
.kb-docs-box { max-height: min(300px, 36vh); overflow-y: auto; border: 1px solid var(--border-color-primary);
  border-radius: 6px; margin-bottom: 0.4em; }
.kb-docs-box .kb-docs thead th { position: sticky; top: 0; z-index: 1; background: var(--background-fill-secondary); }
.kb-docs-box .kb-docs tr:last-child td { border-bottom: none; }
/* Gradio opens a dropdown's list upwards in the lower half of the window, over the list's own label:
   open it right under the box instead (Gradio positions it with inline styles, hence !important). */
#kb, #remove-row, #remove-row .form, #remove-pick { overflow: visible !important; }
#remove-pick .wrap { position: relative; }
#remove-pick .options { position: absolute !important; top: calc(100% + 2px) !important; bottom: auto !important;
  left: 0 !important; width: 100% !important; z-index: 50; }
/* Gradio's scroll-to-bottom arrow sits over the last card's text; the chat scrolls by itself instead. */
#chat .scroll-down-button-container { display: none !important; }
#ask-row { align-items: stretch; }
#send { min-width: 72px; }
@media (max-width: 640px) {
  #masthead h2 { font-size: 1.2em; margin: 0; }
  #masthead p { font-size: 0.85em; }
  #chat { height: 62vh !important; min-height: 320px; }
  .kb-head { font-size: 0.8em; }
}
"""

# After an answer arrives, bring the question and the start of its answer into view (not the last card).
SCROLL_TO_QUESTION = """() => { setTimeout(() => {
  const asked = document.querySelectorAll("#chat [data-testid='user']");
  if (asked.length) asked[asked.length - 1].scrollIntoView({ block: "start", behavior: "smooth" });
}, 80); }"""

# One font stack for the whole page: a Latin face where the system has one, then a CJK face that also
# covers Latin (so a Linux machine with only WenQuanYi or Noto CJK shows one face, not three).
FONTS = (
    '"Segoe UI", "Helvetica Neue", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", '
    '"Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", sans-serif'
)
MONO = '"SFMono-Regular", Consolas, "DejaVu Sans Mono", "Noto Sans Mono CJK SC", "WenQuanYi Micro Hei Mono", monospace'
UPLOAD_TYPES = ".txt,.md,.markdown,.html,.htm,.pdf,.docx,.pptx,.xlsx,.csv,.tsv,.epub,.png,.jpg,.jpeg"  # the file picker's filter; the server checks every file anyway

# Page-level styles, and the page's script:
# - clicking a marker scrolls to its card and flashes it (a plain anchor without the script);
# - typing in the knowledge base's filter box hides the documents that do not match (the rows' own text);
# - a file over the size limit is taken out of the selection before Gradio sees it, with a sentence in the
#   page's language (Gradio's own toast is English only), and the file picker offers the document types.
_HEAD = """
<style>
/* Outside the app's own container, where Gradio does not scope custom CSS. */
:root, .gradio-container { --font: @FONTS@; --font-mono: @MONO@; }
body, .gradio-container, .gradio-container button, .gradio-container input, .gradio-container textarea,
.gradio-container h1, .gradio-container h2, .gradio-container h3, .gradio-container .prose {
  font-family: @FONTS@ !important; }
.gradio-container code, .gradio-container pre { font-family: @MONO@ !important; }
.gradio-container { max-width: 1280px !important; margin: 0 auto !important; }
@media (max-width: 640px) { .gradio-container .main.app { padding: 8px 6px !important; } }
</style>
<script>
(function () {
  var TOO_BIG = @TOO_BIG@, LIMIT = @LIMIT@, TYPES = @TYPES@;
  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest ? event.target.closest("a.kb-cite") : null;
    if (!link) return;
    var card = document.getElementById((link.getAttribute("href") || "").slice(1));
    if (!card) return;
    event.preventDefault();
    card.scrollIntoView({ behavior: "smooth", block: "nearest" });
    card.classList.remove("kb-flash");
    void card.offsetWidth;
    card.classList.add("kb-flash");
  }, true);

  // "Show page" on a card: its citation goes to the hidden box whose change opens the page view
  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest ? event.target.closest("a.kb-page") : null;
    var cited = link && (link.getAttribute("href") || "").match(/^#show-page\\/(\\d+)\\/(\\d+)\\/([^\\/]+)(?:\\/([^\\/]+))?$/);
    var box = document.querySelector("#page-request textarea, #page-request input");
    if (!cited || !box) return;
    event.preventDefault();
    box.value = JSON.stringify({ source: decodeURIComponent(cited[3]), paragraph: Number(cited[1]),
      part: Number(cited[2]), kb: cited[4] ? decodeURIComponent(cited[4]) : "", at: Date.now() });
    box.dispatchEvent(new Event("input", { bubbles: true }));
    var view = document.getElementById("page-view");
    if (view) setTimeout(function () { view.scrollIntoView({ behavior: "smooth", block: "start" }); }, 300);
  }, true);

  document.addEventListener("input", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input.kb-filter")) return;
    var words = box.value.toLowerCase().trim(), shown = 0;
    var table = document.getElementById(box.getAttribute("aria-controls"));
    if (!table) return;
    table.querySelectorAll("tr.kb-row").forEach(function (row) {
      var hit = !words || row.textContent.toLowerCase().indexOf(words) >= 0;
      row.hidden = !hit;
      if (hit) shown++;
    });
    var none = table.querySelector("tr.kb-nomatch");
    if (none) none.hidden = shown > 0;
  });

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("#upload") : null;
    var input = button && (button.querySelector("input[type=file]") ||
      (button.parentNode && button.parentNode.querySelector("input[type=file]")));
    if (input) input.setAttribute("accept", TYPES);
  }, true);

  var refused = [];
  function pageLanguage() {
    var tagged = document.querySelector("#documents [data-lang]");
    return tagged ? tagged.getAttribute("data-lang") : "both";
  }
  function showRefused() {
    var status = document.getElementById("upload-status");
    if (!status) return;
    var note = document.getElementById("upload-note");
    if (!note) {
      note = document.createElement("div");
      note.id = "upload-note";
      note.className = "kb-status";
      // after Gradio's own content, which it re-renders without touching this
      (status.querySelector(".prose") || status).insertAdjacentElement("afterend", note);
      new MutationObserver(showRefused).observe(document.getElementById("documents"), { childList: true, subtree: true });
    }
    var lang = pageLanguage(), langs = lang === "zh" || lang === "en" ? [lang] : ["en", "zh"];
    note.textContent = "";
    refused.forEach(function (name) {
      langs.forEach(function (l) {
        var line = document.createElement("p");
        line.className = "kb-bad";
        line.textContent = TOO_BIG[l].replace("{name}", name);
        note.appendChild(line);
      });
    });
  }
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.closest("#kb")) return;
    var keep = new DataTransfer();
    refused = [];
    Array.prototype.forEach.call(input.files || [], function (file) {
      if (file.size > LIMIT) refused.push(file.name); else keep.items.add(file);
    });
    showRefused();
    if (!refused.length) return;
    if (keep.files.length) {
      input.files = keep.files;
    } else {
      event.stopImmediatePropagation();
      input.value = "";
    }
  }, true);
})();
</script>
"""
HEAD = (
    _HEAD.replace("@FONTS@", FONTS)
    .replace("@MONO@", MONO)
    .replace("@TOO_BIG@", json.dumps({lang: PAGE[lang]["too_big"] for lang in ("en", "zh")}, ensure_ascii=False))
    .replace("@LIMIT@", str(MAX_UPLOAD_BYTES))
    .replace("@TYPES@", json.dumps(UPLOAD_TYPES))
)
