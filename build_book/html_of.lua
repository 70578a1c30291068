-- build_book (pandoc.py's citeproc with html_of): after --citeproc, the HTML of the blocks of the Div
-- whose id the metadata field build-book-html-of names, written as `pandoc --from=json --to=html5
-- --wrap=none --mathml` writes them, appended to the document as a Div of id "<that id>-html" holding
-- one raw HTML block. It saves a second pandoc run (and reading the document again) per chapter.
function Pandoc(doc)
  local wanted = doc.meta['build-book-html-of']
  if wanted == nil then
    return nil
  end
  wanted = pandoc.utils.stringify(wanted)
  for _, block in ipairs(doc.blocks) do
    if block.t == 'Div' and block.identifier == wanted then
      local html = pandoc.write(pandoc.Pandoc(block.content), 'html5',
                                {wrap_text = 'wrap-none', html_math_method = 'mathml'})
      doc.blocks:insert(pandoc.Div({pandoc.RawBlock('html', html)}, pandoc.Attr(wanted .. '-html')))
      return doc
    end
  end
  return nil
end
