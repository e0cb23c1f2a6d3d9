// Runs axe-core on the opened page; args: {tags?: [...], disable?: [rule ids]}.
// Used by browsertest.Browser.Axe.
export default async function ({ axe, args }) {
  return axe(args);
}
