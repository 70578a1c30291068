-- build_book (pandoc.py's citeproc_each): the document formatted by citeproc once for each bibliography
-- file the metadata field build-book-each lists, with that file alone as its bibliography (and the rest of
-- its metadata as given), each written as `pandoc --from=json --to=html5 --wrap=none --mathml` writes it.
-- The result is a document of one raw HTML block per file, in order: one pandoc run instead of two per file.
function Pandoc(doc)
  local files = doc.meta['build-book-each']
  if files == nil then
    return nil
  end
  local out = pandoc.List()
  for _, file in ipairs(files) do
    local meta = {}
    for key, value in pairs(doc.meta) do
      if key ~= 'build-book-each' then
        meta[key] = value
      end
    end
    meta.bibliography = pandoc.utils.stringify(file)
    local formatted = pandoc.utils.citeproc(pandoc.Pandoc(doc.blocks, meta))
    out:insert(pandoc.RawBlock('html', pandoc.write(formatted, 'html5',
                                                    {wrap_text = 'wrap-none', html_math_method = 'mathml'})))
  end
  return pandoc.Pandoc(out, {})
end
