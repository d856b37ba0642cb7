// Copies the vendored browser bundles out of node_modules into static/vendor/.
// The panels load /static/vendor/echarts.min.js from our own origin: no CDN, no external request.
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, "static", "vendor");
const echartsDir = join(here, "node_modules", "echarts");

const copies = [
  [join(echartsDir, "dist", "echarts.min.js"), join(vendor, "echarts.min.js")],
  [join(echartsDir, "LICENSE"), join(vendor, "echarts.LICENSE.txt")],
];

mkdirSync(vendor, { recursive: true });
for (const [from, to] of copies) {
  copyFileSync(from, to);
}
const { version } = JSON.parse(readFileSync(join(echartsDir, "package.json"), "utf8"));
console.log(`vendored echarts ${version} into ${vendor}`);
