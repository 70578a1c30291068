-- build_book (pandoc.py's write_html_blocks with inline_notes, for the PDF): each footnote becomes a Span of
-- class "footnote" where it is called, which the print stylesheet floats to the foot of the page. A note's
-- blocks become one run of inlines: paragraphs, quotations (a Span of class "note-quote"), lists (each
-- item after its marker, "•" or its number and a full stop) and code kept, each on a line of its own (a
-- LineBreak between them). What has no inline form (a table, a heading) is left out.
local note_inlines

local function list_items(items, first, bullet)
  local out = pandoc.List()
  for n, item in ipairs(items) do
    if n > 1 then
      out:insert(pandoc.LineBreak())
    end
    local marker = bullet and '•' or (tostring(first + n - 1) .. '.')
    out:insert(pandoc.Str(marker))
    out:insert(pandoc.Space())
    out:extend(note_inlines(item))
  end
  return out
end

note_inlines = function(blocks)
  local out = pandoc.List()
  for _, block in ipairs(blocks) do
    local piece
    local kind = block.t
    if kind == 'Para' or kind == 'Plain' then
      piece = pandoc.List(block.content)
    elseif kind == 'LineBlock' then
      piece = pandoc.List()
      for i, line in ipairs(block.content) do
        if i > 1 then
          piece:insert(pandoc.LineBreak())
        end
        piece:extend(line)
      end
    elseif kind == 'BlockQuote' then
      piece = pandoc.List({pandoc.Span(note_inlines(block.content), pandoc.Attr('', {'note-quote'}))})
    elseif kind == 'Div' then
      piece = note_inlines(block.content)
    elseif kind == 'BulletList' then
      piece = list_items(block.content, 1, true)
    elseif kind == 'OrderedList' then
      piece = list_items(block.content, block.start, false)
    elseif kind == 'CodeBlock' then
      piece = pandoc.List({pandoc.Code(block.text, block.attr)})
    else
      piece = pandoc.List()
    end
    if #piece > 0 then
      if #out > 0 then
        out:insert(pandoc.LineBreak())
      end
      out:extend(piece)
    end
  end
  return out
end

-- a word joiner before the note: its number is never carried to a line of its own ("2015. / ²")
function Note(note)
  return {pandoc.Str('\u{2060}'), pandoc.Span(note_inlines(note.content), pandoc.Attr('', {'footnote'}))}
end

-- a heading that calls a note: its text without the note as its bookmark (data-bookmark, which print.css
-- makes its outline entry; the note's number would be read into it otherwise). Notes are Spans by now:
-- a filter's functions for inlines run before those for blocks.
function Header(header)
  local calls = false
  local plain = header.content:walk({
    Span = function(span)
      if span.classes:includes('footnote') then
        calls = true
        return {}
      end
    end,
  })
  if calls and not header.attributes['bookmark'] then
    header.attributes['bookmark'] = pandoc.utils.stringify(plain):gsub('\u{2060}', ''):gsub('%s+$', '')
    return header
  end
end
