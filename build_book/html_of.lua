-- build_book (pandoc.py's citeproc_html and citeproc_html_many): after --citeproc, the HTML of the blocks of
-- each Div (at the top level) whose id the metadata field build-book-html-of names (one id, or a list of
-- them), written as `pandoc --from=json --to=html5 --wrap=none --mathml` writes them, each appended to the
-- document as a Div of id "<that id>-html" holding one raw HTML block. It saves a second pandoc run (and
-- reading the document again) per chapter.
--
-- If the metadata field build-book-json-of names divs too, the document becomes just these: for each of
-- them a Div of id "<that id>-json" holding its blocks written as pandoc's JSON (a document of its own, in
-- a raw block), then the HTML divs; so the caller reads a few strings instead of the whole document. So
-- too if the metadata field build-book-written-only is set (then the HTML divs alone).
local function ids_of(value)
  local ids = pandoc.List()
  if value == nil then
    return ids
  end
  if pandoc.utils.type(value) == 'List' then
    for _, id in ipairs(value) do
      ids:insert(pandoc.utils.stringify(id))
    end
  else
    ids:insert(pandoc.utils.stringify(value))
  end
  return ids
end

function Pandoc(doc)
  local wanted = ids_of(doc.meta['build-book-html-of'])
  local as_json = ids_of(doc.meta['build-book-json-of'])
  if #wanted == 0 and #as_json == 0 then
    return nil
  end
  local divs = {}
  for _, block in ipairs(doc.blocks) do
    if block.t == 'Div' and divs[block.identifier] == nil then
      divs[block.identifier] = block
    end
  end
  local written = pandoc.List()
  for _, id in ipairs(as_json) do
    local block = divs[id]
    if block ~= nil then
      written:insert(pandoc.Div({pandoc.RawBlock('json', pandoc.write(pandoc.Pandoc(block.content), 'json'))},
                                pandoc.Attr(id .. '-json')))
    end
  end
  for _, id in ipairs(wanted) do
    local block = divs[id]
    if block ~= nil then
      local html = pandoc.write(pandoc.Pandoc(block.content), 'html5',
                                {wrap_text = 'wrap-none', html_math_method = 'mathml'})
      written:insert(pandoc.Div({pandoc.RawBlock('html', html)}, pandoc.Attr(id .. '-html')))
    end
  end
  if #as_json > 0 or doc.meta['build-book-written-only'] then
    return pandoc.Pandoc(written, {})
  end
  if #written == 0 then
    return nil
  end
  doc.blocks:extend(written)
  return doc
end
