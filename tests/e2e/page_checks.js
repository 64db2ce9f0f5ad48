// What a screen reader, a keyboard or a phone user would trip over on a page: one line per problem.
() => {
  const problems = [];
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (['hidden', 'submit', 'button'].includes(el.type)) continue;
    const named = (el.labels && [...el.labels].some(l => l.textContent.trim())) || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby');
    if (!named) problems.push(`${el.tagName.toLowerCase()} "${el.name || el.id}" has no label`);
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (visible(el) && !el.textContent.trim() && !el.getAttribute('aria-label'))
      problems.push(`${el.tagName.toLowerCase()} without an accessible name`);
  }
  for (const el of document.querySelectorAll('img')) if (!el.hasAttribute('alt')) problems.push('img without alt');
  for (const el of document.querySelectorAll('iframe')) if (!el.title) problems.push('iframe without title');
  for (const el of document.querySelectorAll('fieldset')) if (!el.querySelector('legend')) problems.push('fieldset without legend');
  for (const el of document.querySelectorAll('[aria-describedby]'))
    for (const id of el.getAttribute('aria-describedby').split(' '))
      if (!document.getElementById(id)) problems.push(`aria-describedby points to missing #${id}`);
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  for (const id of new Set(ids)) if (ids.filter(i => i === id).length > 1) problems.push(`duplicate id ${id}`);
  if (!['fr', 'en'].includes(document.documentElement.lang)) problems.push('html without lang');
  if (!document.title.trim()) problems.push('page without title');
  if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
  const rgb = (c) => c.match(/[0-9.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor; const parts = rgb(c);
      if (parts.length < 4 || parts[3] > 0) return parts.slice(0, 3);
    }
    return [255, 255, 255];
  };
  for (const el of document.querySelectorAll('p, li, a, button, label, legend, h1, h2, h3, dt, dd, td, th, span')) {
    if (!visible(el) || !el.textContent.trim()) continue;
    const fg = lum(rgb(getComputedStyle(el).color).slice(0, 3)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} < 4.5 on ${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 30)}"`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    problems.push(`wider than the screen: ${document.documentElement.scrollWidth}px > ${window.innerWidth}px`);
  return problems;
}
