#!/usr/bin/env python3
"""Draw the two figures of *The Place of Alliances in US Foreign Policy*.

The script uses only the Python standard library and writes two SVG files:

``treaty-timeline.svg``
    A horizontal timeline (1947-1960) of the signing of the principal US
    alliance treaties, from the Rio Treaty of 1947 to the Treaty of Mutual
    Cooperation and Security with Japan of January 1960 (Figure
    ``fig-treaty-timeline``, Chapter 1).

``hub-and-spokes.svg``
    The US "hub-and-spokes" system of bilateral alliances in the
    Asia-Pacific contrasted with the multilateral membership of NATO
    (Figure ``fig-hub-and-spokes``, Chapter 2).

Usage::

    python3 scripts/draw_figures.py [OUTPUT_DIR]

``OUTPUT_DIR`` defaults to ``chapters/figures`` relative to the repository
root (the parent of this script's directory).  The drawings are deterministic:
running the script twice produces byte-identical files.

Style: black and grey with one accent colour (used for the Japan-US
treaties), sans-serif text ("DejaVu Sans, sans-serif"), a ``viewBox`` so
the figures scale to the page, and a ``<title>``/``<desc>`` for
accessibility.  The drawings are sized for a book column of about 600 px.
"""

import math
import os
import sys
from datetime import date
from xml.sax.saxutils import escape

FONT = "DejaVu Sans, sans-serif"
BLACK = "#1a1a1a"
GREY = "#6b6b6b"
LIGHT = "#c8c8c8"
FAINT = "#ececec"
ACCENT = "#b8322a"  # the one accent colour: the Japan-US treaties

# Principal US alliance treaties, by date of signature.
# (date signed, label, multilateral?, Japan-US?)
TREATIES = [
    (date(1947, 9, 2), "Rio Treaty (Inter-American)", True, False),
    (date(1949, 4, 4), "North Atlantic Treaty", True, False),
    (date(1951, 8, 30), "US-Philippines Mutual Defense Treaty", False, False),
    (date(1951, 9, 1), "ANZUS Treaty", True, False),
    (date(1951, 9, 8), "Japan-US Security Treaty", False, True),
    (date(1953, 10, 1), "US-ROK Mutual Defense Treaty", False, False),
    (date(1954, 9, 8), "SEATO (Manila Pact)", True, False),
    (date(1954, 12, 2), "US-ROC Mutual Defense Treaty", False, False),
    (date(1960, 1, 19), "Treaty of Mutual Cooperation and Security", False, True),
]

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def fmt_date(d):
    """Return a date as e.g. '4 Apr 1949'."""
    return "%d %s %d" % (d.day, MONTHS[d.month - 1], d.year)


def year_fraction(d):
    """Return the date as a fractional year (e.g. 1949.26)."""
    start = date(d.year, 1, 1)
    length = (date(d.year + 1, 1, 1) - start).days
    return d.year + (d - start).days / length


def text(x, y, s, size=12, anchor="start", fill=BLACK, weight=None, style=None):
    """Return an SVG <text> element (content is XML-escaped)."""
    attrs = 'x="%.1f" y="%.1f" font-size="%s" text-anchor="%s" fill="%s"' % (
        x, y, size, anchor, fill)
    if weight:
        attrs += ' font-weight="%s"' % weight
    if style:
        attrs += ' font-style="%s"' % style
    return "<text %s>%s</text>" % (attrs, escape(s))


def line(x1, y1, x2, y2, stroke=BLACK, width=1.0, dash=None):
    """Return an SVG <line> element."""
    extra = ' stroke-dasharray="%s"' % dash if dash else ""
    return ('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" '
            'stroke-width="%s"%s/>' % (x1, y1, x2, y2, stroke, width, extra))


def svg_document(width, height, title, desc, body):
    """Wrap body elements in a complete SVG document."""
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" '
        'width="%d" height="%d" role="img" aria-labelledby="title desc" '
        'font-family="%s">' % (width, height, width, height, FONT),
        '<title id="title">%s</title>' % escape(title),
        '<desc id="desc">%s</desc>' % escape(desc),
        '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>' % (width, height),
    ]
    return "\n".join(head + body + ["</svg>"]) + "\n"


def marker(x, y, multilateral, colour):
    """A square for a multilateral treaty, a circle for a bilateral one."""
    if multilateral:
        return ('<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s" '
                'stroke="%s" stroke-width="1"/>' % (x - 5, y - 5, colour, colour))
    return '<circle cx="%.1f" cy="%.1f" r="5.5" fill="%s"/>' % (x, y, colour)


def draw_timeline():
    """Return the SVG source of the treaty timeline, 1947-1960."""
    width, height = 640, 370
    left, right = 30.0, 610.0
    first, last = 1947, 1961  # axis runs from 1 Jan 1947 to 1 Jan 1961
    top, row = 58.0, 27.0
    axis_y = top + row * (len(TREATIES) - 1) + 30.0

    def xpos(d):
        return left + (year_fraction(d) - first) / (last - first) * (right - left)

    body = [
        text(left, 24, "Signing of the principal US alliance treaties, 1947–1960",
             size=15, weight="bold"),
        text(left, 43, "Each row marks the date of signature; entry into force "
             "followed later (see the appendix table).", size=11, fill=GREY),
    ]
    # Year grid and axis.
    for year in range(first, last + 1):
        x = left + (year - first) / (last - first) * (right - left)
        body.append(line(x, top - 12, x, axis_y, stroke=FAINT, width=1))
        body.append(line(x, axis_y, x, axis_y + 5, stroke=BLACK, width=1))
        if year < last:
            mid = x + (right - left) / (last - first) / 2
            body.append(text(mid, axis_y + 19, str(year), size=11,
                             anchor="middle", fill=BLACK))
    body.append(line(left, axis_y, right, axis_y, stroke=BLACK, width=1.2))

    # A thin drop line from each marker to the axis anchors the row in time;
    # all are drawn first so that the labels sit on top of them.
    for i, (d, _, _, _) in enumerate(TREATIES):
        body.append(line(xpos(d), top + i * row + 6, xpos(d), axis_y,
                         stroke=LIGHT, width=0.8, dash="2 3"))
    # One row per treaty.
    for i, (d, label, multi, japan) in enumerate(TREATIES):
        y = top + i * row
        x = xpos(d)
        colour = ACCENT if japan else BLACK
        body.append(marker(x, y, multi, colour))
        # Put the label right of the marker if it fits (about 6.8 px per
        # character at 12 px), otherwise to its left.
        est_width = 6.8 * (len(label) + len(fmt_date(d))) + 20
        anchor_right = x + est_width < right
        tx = x + 11 if anchor_right else x - 11
        anchor = "start" if anchor_right else "end"
        body.append(
            '<text x="%.1f" y="%.1f" font-size="12" text-anchor="%s" fill="%s"'
            ' stroke="#ffffff" stroke-width="3" paint-order="stroke"'
            '%s>%s<tspan dx="7" fill="%s" font-weight="normal">%s</tspan></text>' % (
                tx, y + 4, anchor, colour,
                ' font-weight="bold"' if japan else "",
                escape(label), GREY, escape(fmt_date(d))))

    # Legend.
    ly = axis_y + 42
    body += [
        marker(left + 5, ly - 4, False, BLACK),
        text(left + 16, ly, "bilateral treaty", size=11),
        marker(left + 125, ly - 4, True, BLACK),
        text(left + 136, ly, "multilateral treaty", size=11),
        marker(left + 265, ly - 4, False, ACCENT),
        text(left + 276, ly, "Japan-US treaties (1951, 1960)", size=11, fill=ACCENT),
    ]
    title = "Signing of the principal US alliance treaties, 1947–1960"
    desc = ("Timeline of signature dates: " + "; ".join(
        "%s, %s" % (label, fmt_date(d)) for d, label, _, _ in TREATIES) + ".")
    return svg_document(width, height, title, desc, body)


def node(x, y, r, label, sub=None, fill="#ffffff", stroke=BLACK, colour=BLACK,
         bold=False, size=12, label_dy=None):
    """A labelled circular node; the label sits below the circle by default."""
    parts = ['<circle cx="%.1f" cy="%.1f" r="%.1f" fill="%s" stroke="%s" '
             'stroke-width="1.5"/>' % (x, y, r, fill, stroke)]
    dy = r + 14 if label_dy is None else label_dy
    parts.append(text(x, y + dy, label, size=size, anchor="middle", fill=colour,
                      weight="bold" if bold else None))
    if sub:
        parts.append(text(x, y + dy + 13, sub, size=10, anchor="middle", fill=GREY))
    return parts


def draw_hub_and_spokes():
    """Return the SVG source of the hub-and-spokes versus NATO diagram."""
    width, height = 640, 420
    body = [
        text(20, 24, "Bilateral spokes in the Asia-Pacific, multilateral NATO in Europe",
             size=15, weight="bold"),
        line(352, 44, 352, 392, stroke=LIGHT, width=1),
        text(20, 52, "Asia-Pacific: hub and spokes", size=13, weight="bold"),
        text(20, 67, "separate bilateral (or trilateral) treaties with the US",
             size=10.5, fill=GREY),
        text(368, 52, "Europe and North America: NATO", size=13, weight="bold"),
        text(368, 67, "one treaty, one collective commitment",
             size=10.5, fill=GREY),
    ]

    # Left panel: the US hub and its spokes (roughly geographic layout).
    hub = (250.0, 205.0)
    spokes = [
        # (x, y, name, subtitle, style)
        (92.0, 110.0, "Japan", "1951 / 1960", "accent"),
        (52.0, 178.0, "South Korea", "1953", "solid"),
        (82.0, 262.0, "Philippines", "1951", "solid"),
        (150.0, 322.0, "Australia", "ANZUS 1951", "solid"),
        (288.0, 322.0, "New Zealand", "ANZUS 1951", "dashed"),
    ]
    for x, y, name, sub, style in spokes:
        colour = ACCENT if style == "accent" else BLACK
        width_ = 2.6 if style == "accent" else 1.6
        dash = "6 4" if style == "dashed" else None
        stroke = GREY if style == "dashed" else colour
        body.append(line(hub[0], hub[1], x, y, stroke=stroke, width=width_, dash=dash))
    # The Australia-New Zealand leg of ANZUS remains in force.
    body.append(line(150, 322, 288, 322, stroke=LIGHT, width=1.2))
    for x, y, name, sub, style in spokes:
        colour = ACCENT if style == "accent" else BLACK
        stroke = GREY if style == "dashed" else colour
        body += node(x, y, 9, name, sub, fill="#ffffff", stroke=stroke,
                     colour=colour, bold=(style == "accent"))
    body.append(text(288, 371, "US obligations", size=10, anchor="middle", fill=GREY))
    body.append(text(288, 383, "suspended 1986", size=10, anchor="middle", fill=GREY))
    body += node(hub[0], hub[1], 22, "US", fill=BLACK, stroke=BLACK,
                 colour="#ffffff", bold=True, size=13, label_dy=5)

    # Right panel: NATO as a cluster of members bound by one treaty.
    cx, cy, ring = 496.0, 210.0, 82.0
    body.append('<ellipse cx="%.1f" cy="%.1f" rx="122" ry="118" fill="%s" '
                'stroke="%s" stroke-width="1.2"/>' % (cx, cy + 4, FAINT, GREY))
    members = ["US", "Canada", "UK", "France", "Germany", "Italy"]

    pts = []
    for i, name in enumerate(members):
        a = -math.pi / 2 + 2 * math.pi * i / len(members)
        pts.append((cx + ring * math.cos(a), cy + ring * 0.82 * math.sin(a), name))
    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            body.append(line(pts[i][0], pts[i][1], pts[j][0], pts[j][1],
                             stroke="#a9a9a9", width=0.9))
    for x, y, name in pts:
        if name == "US":
            body += node(x, y, 13, "US", fill=BLACK, stroke=BLACK,
                         colour="#ffffff", bold=True, size=11, label_dy=4)
        else:
            body += node(x, y, 8, name, fill="#ffffff", stroke=BLACK, size=11,
                         label_dy=(-13 if y < cy else 22))
    body.append(text(cx, cy - 2, "+ 22 other", size=11, anchor="middle", fill=BLACK))
    body.append(text(cx, cy + 12, "members", size=11, anchor="middle", fill=BLACK))
    body.append(text(cx, 362, "North Atlantic Treaty 1949: 12 founding members,",
                     size=10, anchor="middle", fill=GREY))
    body.append(text(cx, 375, "28 in 2011; Article 5 collective defense",
                     size=10, anchor="middle", fill=GREY))

    # Legend.
    body += [
        line(20, 412, 48, 412, stroke=ACCENT, width=2.6),
        text(54, 416, "Japan-US alliance", size=10.5, fill=ACCENT),
        line(160, 412, 188, 412, stroke=GREY, width=1.6, dash="6 4"),
        text(194, 416, "suspended obligation", size=10.5, fill=GREY),
        line(368, 412, 396, 412, stroke="#a9a9a9", width=0.9),
        text(402, 416, "mutual commitment among all members", size=10.5, fill=GREY),
    ]
    title = "The US hub-and-spokes alliances in the Asia-Pacific and multilateral NATO"
    desc = ("Left: the United States as a hub linked by separate treaties to Japan "
            "(1951, 1960), South Korea (1953), the Philippines (1951), Australia "
            "(ANZUS, 1951) and New Zealand (ANZUS, 1951; US obligations to New "
            "Zealand suspended in 1986, shown dashed). Right: NATO as a single "
            "multilateral cluster of the US, Canada, the UK, France, Germany, Italy "
            "and 22 other members, all linked to one another.")
    return svg_document(width, height, title, desc, body)


def main(argv):
    """Write both SVG files to the output directory given in argv[1]."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outdir = argv[1] if len(argv) > 1 else os.path.join(root, "chapters", "figures")
    os.makedirs(outdir, exist_ok=True)
    for name, source in (("treaty-timeline.svg", draw_timeline()),
                         ("hub-and-spokes.svg", draw_hub_and_spokes())):
        path = os.path.join(outdir, name)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(source)
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
