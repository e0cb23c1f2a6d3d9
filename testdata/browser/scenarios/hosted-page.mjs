// One hosted page, as a reviewer and axe-core see it, then one step on:
// runs axe-core (args.tags), screenshots the page at desktop (1280x800)
// and phone (390x844) widths into args.shots as <args.name>-desktop.png
// and -phone.png (full page), fills args.fill ([[selector, value], ...]),
// checks the radios and checkboxes args.check ([selector, ...]), picks
// args.select ([[selector, value], ...]) in dropdowns,
// and clicks args.click, waiting for the next page to load. Returns the
// page's title, lang and URL before the step, and axe's violations.
export default async function ({ page, args, axe }) {
  const out = { title: await page.title(), lang: (await page.getAttribute("html", "lang")) ?? "", url: page.url() };
  out.violations = await axe({ tags: args.tags });
  if (args.shots) {
    for (const [width, height, n] of [[1280, 800, "desktop"], [390, 844, "phone"]]) {
      await page.setViewportSize({ width, height });
      await page.screenshot({ path: `${args.shots}/${args.name}-${n}.png`, fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  }
  for (const [sel, val] of args.fill ?? []) await page.fill(sel, val);
  for (const sel of args.check ?? []) await page.check(sel);
  for (const [sel, val] of args.select ?? []) await page.selectOption(sel, val);
  if (args.click) {
    await page.click(args.click);
    await page.waitForLoadState("load");
  }
  return out;
}
