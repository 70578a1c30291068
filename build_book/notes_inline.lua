-- build_book (pandoc.py's write_html_blocks with inline_notes, for the PDF): each footnote becomes a Span of
-- class "footnote" where it is called, which the print stylesheet floats to the foot of the page. A note's
-- blocks become one run of inlines: paragraphs, quotations (a Span of class "note-quote"), lists (each
-- item after its marker, "•" or its number as written: "2.", "b)", "(iv)") and code kept, each on a line
-- of its own (a LineBreak between them). What has no inline form (a table, a heading) is left out.
local note_inlines

local function roman(n)
  local out = ''
  for _, pair in ipairs({{1000, 'm'}, {900, 'cm'}, {500, 'd'}, {400, 'cd'}, {100, 'c'}, {90, 'xc'}, {50, 'l'},
                         {40, 'xl'}, {10, 'x'}, {9, 'ix'}, {5, 'v'}, {4, 'iv'}, {1, 'i'}}) do
    while n >= pair[1] do
      out = out .. pair[2]
      n = n - pair[1]
    end
  end
  return out
end

local function alpha(n)
  local out = ''
  while n > 0 do
    n = n - 1
    out = string.char(97 + n % 26) .. out
    n = n // 26
  end
  return out
end

-- a list's number as written: 'iv' in a list begun 'i.', 'C' in one begun 'A)' (the delimiter, 'paren' or
-- 'parens', is the one compat.py took from the list into its div's class)
local function numeral(n, style)
  if n < 1 or n > 3999 then
    return tostring(n)
  elseif style == 'LowerAlpha' then
    return alpha(n)
  elseif style == 'UpperAlpha' then
    return alpha(n):upper()
  elseif style == 'LowerRoman' then
    return roman(n)
  elseif style == 'UpperRoman' then
    return roman(n):upper()
  end
  return tostring(n)
end

-- the classes compat.paren_lists gives the div around a list numbered with parentheses (an author's own
-- div, '.paren-note', is none of them)
local PAREN_STYLES = {}
for _, delimiter in ipairs({'paren', 'parens'}) do
  for _, style in ipairs({'decimal', 'lower-alpha', 'upper-alpha', 'lower-roman', 'upper-roman'}) do
    PAREN_STYLES[delimiter .. '-' .. style] = true
  end
end

local function list_items(items, first, bullet, style, delimiter)
  local out = pandoc.List()
  for n, item in ipairs(items) do
    if n > 1 then
      out:insert(pandoc.LineBreak())
    end
    local marker = '•'
    if not bullet then
      local number = numeral(first + n - 1, style)
      if delimiter == 'paren' then
        marker = number .. ')'
      elseif delimiter == 'parens' then
        marker = '(' .. number .. ')'
      else
        marker = number .. '.'
      end
    end
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
    elseif kind == 'Div' and #block.content == 1 and block.content[1].t == 'OrderedList'
        and #block.classes == 1 and PAREN_STYLES[block.classes[1]] then   -- (compat.paren_lists)
      local list = block.content[1]
      piece = list_items(list.content, list.start, false, list.style, block.classes[1]:match('^parens?'))
    elseif kind == 'Div' then
      piece = note_inlines(block.content)
    elseif kind == 'BulletList' then
      piece = list_items(block.content, 1, true)
    elseif kind == 'OrderedList' then
      piece = list_items(block.content, block.start, false, block.style)
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
