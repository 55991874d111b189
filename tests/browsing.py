"""What the browser tests measure in a page: overflow, visible text, first screen, charts, labels, contrast.

Each check is a small script run in the page (Playwright's ``page.evaluate``)
returning plain data the test asserts on.
"""

from __future__ import annotations

import re
from typing import Any

#: Text a page must never show: Python's None, a NaN, a number in exponent notation.
BAD_TEXT = re.compile(r"\bNone\b|\bnan\b|\bNaN\b|(?<![\w.])\d+(?:\.\d+)?[eE][+-]?\d+(?![\w.])")

OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"

#: The bottom of an element, and the right edges of the events table's headers named, on the first screen.
FIRST_SCREEN = """(names) => {
  const box = (el) => el && el.getBoundingClientRect();
  const table = document.querySelector('table.events');
  const heads = [...table.tHead.rows[0].cells];
  const row = table.querySelector('tr.event');
  const found = names.map((name) => heads.findIndex((th) => th.textContent.replace(/\\s+/g, ' ').trim().startsWith(name)));
  return {
    height: window.innerHeight, width: window.innerWidth,
    totals: box(document.querySelector('section.totals')).bottom,
    row: box(row).bottom,
    columns: found.map((i) => (i < 0 ? null : Math.max(box(heads[i]).right, box(row.cells[i]).right))),
    scrolled: table.parentElement.scrollLeft,
  };
}"""

#: Pixels of a chart's canvas that are drawn (not transparent, not white).
CANVAS_INK = """(id) => {
  const canvas = document.querySelector(`#${id} canvas`);
  if (!canvas) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0 && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) ink += 1;
  }
  return ink;
}"""

#: Form fields without a label (a <label>, aria-label or aria-labelledby).
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter((el) => el.type !== 'hidden')
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map((el) => el.outerHTML.slice(0, 120))"""

#: Visible text whose contrast with its background is below WCAG AA (4.5:1, or 3:1 for large text).
LOW_CONTRAST = """() => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const colour = rgb(getComputedStyle(node).backgroundColor);
      if (colour.length === 3 || (colour.length === 4 && colour[3] > 0.5)) return colour.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('svg, canvas, noscript, .chart')) continue;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!box.width || !box.height || style.visibility === 'hidden' || !el.checkVisibility()) continue;
    const [a, b] = [luminance(rgb(style.color).slice(0, 3)), luminance(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) found.push(`${node.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)}`);
  }
  return [...new Set(found)];
}"""


def visible_text(page: Any) -> str:
    """Return the text the page shows (closed <details> and <noscript> left out, as a reader sees it)."""
    return str(page.evaluate("document.body.innerText"))
