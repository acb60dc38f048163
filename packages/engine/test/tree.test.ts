import { describe, expect, it } from "vitest";
import { decodeTree, encodeTree, type TreeNode } from "../src/tree";

const id = (c: string) => c.repeat(64);
const file: TreeNode = { name: "a.txt", type: "file", mode: 0o100644, uid: 1000, gid: 1000, mtimeNs: "1700000000123456789", size: 5, dev: "2049", inode: "77", content: [id("a")] };
const dir: TreeNode = { name: "d", type: "dir", mode: 0o40755, uid: 0, gid: 0, mtimeNs: "-5", size: 0, attrs: 16, subtree: id("b") };
const link: TreeNode = { name: "l", type: "symlink", mode: 0o120777, uid: 0, gid: 0, mtimeNs: "0", size: 0, target: "../x" };

const bytes = (x: unknown) => Buffer.from(JSON.stringify(x));
const withNode = (patch: Record<string, unknown>) => bytes({ v: 1, nodes: [{ ...file, ...patch }] });

describe("encodeTree", () => {
  // The canonical form as first defined: JSON.stringify of objects with keys in this order.
  const KEYS = ["name", "type", "mode", "uid", "gid", "mtimeNs", "size", "dev", "inode", "attrs", "target", "content", "subtree"] as const;
  const reference = (nodes: TreeNode[]) =>
    JSON.stringify({
      v: 1,
      nodes: [...nodes]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((n) => Object.fromEntries(KEYS.filter((k) => n[k] !== undefined).map((k) => [k, n[k]]))),
    });

  it("writes exactly the bytes of the original definition (tree ids must never change)", () => {
    const odd = ['quote"d', "back\\slash", "tab\tnew\nline", "\u0001ctl", "é", "日本", "🦀", "\ud800lone", "</script>", "a b"];
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 50; round++) {
      const nodes: TreeNode[] = [];
      const count = rnd(12);
      for (let i = 0; i < count; i++) {
        const name = `${odd[rnd(odd.length)]}${i}`;
        const n: TreeNode = { name, type: (["file", "dir", "symlink", "other"] as const)[rnd(4)]!, mode: rnd(0o200000), uid: rnd(70000), gid: rnd(70000), mtimeNs: String(BigInt(rnd(2 ** 30)) * 1_000_000_007n - 5n), size: rnd(2 ** 31) * 1024 };
        if (rnd(2)) n.dev = String(rnd(1e9));
        if (rnd(2)) n.inode = String(rnd(1e9));
        if (rnd(3) === 0) n.attrs = rnd(1 << 20);
        if (rnd(3) === 0) n.target = odd[rnd(odd.length)]!;
        if (rnd(2)) n.content = Array.from({ length: rnd(4) }, (_, j) => id("0123456789abcdef"[(i + j) % 16]!));
        if (rnd(3) === 0) n.subtree = id("f");
        nodes.push(n);
      }
      expect(encodeTree(nodes).toString()).toBe(reference(nodes));
    }
    expect(encodeTree([]).toString()).toBe('{"v":1,"nodes":[]}');
  });

  it("refuses a name twice", () => {
    expect(() => encodeTree([file, { ...file, size: 1 }])).toThrow(/duplicate name in tree: a\.txt/);
  });
});

describe("decodeTree", () => {
  it("decodes what encodeTree writes, field for field", () => {
    const tree = decodeTree(encodeTree([link, file, dir]));
    expect(tree).toEqual({ v: 1, nodes: [file, dir, link] });
    expect(encodeTree(tree.nodes).equals(encodeTree([file, dir, link]))).toBe(true);
  });

  it("drops fields it does not know, so a re-encoded tree is canonical", () => {
    const tree = decodeTree(bytes({ v: 1, nodes: [{ ...file, future: { x: 1 } }], extra: true }));
    expect(tree.nodes[0]).toEqual(file);
    expect(Object.keys(tree.nodes[0]!)).not.toContain("future");
    expect(Object.keys(tree)).toEqual(["v", "nodes"]);
  });

  it.each([
    ["not JSON", Buffer.from("{nodes"), /not JSON/],
    ["not an object", bytes([1, 2]), /expected an object, got \[1,2\]/],
    ["another version", bytes({ v: 2, nodes: [] }), /^v: expected 1, got 2$/],
    ["nodes missing", bytes({ v: 1 }), /^nodes: expected an array, got nothing$/],
    ["a node that is not an object", bytes({ v: 1, nodes: [null] }), /^nodes\[0\]: expected an object, got null$/],
    ["an empty name", withNode({ name: "" }), /^nodes\[0\]\.name: expected a non-empty string, got ""$/],
    ["an unknown type", withNode({ type: "pipe" }), /^nodes\[0\]\.type: expected "file", "dir", "symlink" or "other", got "pipe"$/],
    ["a negative mode", withNode({ mode: -1 }), /^nodes\[0\]\.mode: expected a non-negative integer, got -1$/],
    ["a fractional size", withNode({ size: 1.5 }), /^nodes\[0\]\.size: expected a non-negative integer, got 1\.5$/],
    ["uid as a string", withNode({ uid: "0" }), /^nodes\[0\]\.uid: expected a non-negative integer, got "0"$/],
    ["gid missing", withNode({ gid: undefined }), /^nodes\[0\]\.gid: expected a non-negative integer, got nothing$/],
    ["mtimeNs as a number", withNode({ mtimeNs: 5 }), /^nodes\[0\]\.mtimeNs: expected a decimal string, got 5$/],
    ["mtimeNs not decimal", withNode({ mtimeNs: "1e9" }), /^nodes\[0\]\.mtimeNs: expected a decimal string/],
    ["dev as a number", withNode({ dev: 2049 }), /^nodes\[0\]\.dev: expected a string, got 2049$/],
    ["target null", withNode({ target: null }), /^nodes\[0\]\.target: expected a string, got null$/],
    ["fractional attrs", withNode({ attrs: 0.5 }), /^nodes\[0\]\.attrs: expected an integer, got 0\.5$/],
    ["content not an array", withNode({ content: id("a") }), /^nodes\[0\]\.content: expected an array of chunk ids/],
    ["an upper-case chunk id", withNode({ content: [id("a"), id("A")] }), /^nodes\[0\]\.content\[1\]: expected a 64-digit lowercase hex id, got "AAAA/],
    ["a short subtree id", withNode({ subtree: "abc" }), /^nodes\[0\]\.subtree: expected a 64-digit lowercase hex id, got "abc"$/],
  ])("refuses %s with an error naming the field", (_what, data, message) => {
    expect(() => decodeTree(data)).toThrow(message);
  });

  it("refuses a name twice or out of order (a symlink and a directory at one path)", () => {
    const twice = bytes({ v: 1, nodes: [{ ...link, name: "x", target: "/etc" }, { ...dir, name: "x" }] });
    expect(() => decodeTree(twice)).toThrow(/^nodes\[1\]\.name: "x" appears twice/);
    expect(() => decodeTree(bytes({ v: 1, nodes: [dir, file] }))).toThrow(/^nodes\[1\]\.name: "a\.txt" is out of order after "d"/);
    // Code-unit order, as encodeTree sorts: "B" < "a" < "é".
    const names = ["é", "a", "B"].map((name) => ({ ...file, name }));
    expect(decodeTree(encodeTree(names)).nodes.map((n) => n.name)).toEqual(["B", "a", "é"]);
  });

  it("names the node by its index", () => {
    expect(() => decodeTree(bytes({ v: 1, nodes: [file, dir, { ...link, mode: "x" }] }))).toThrow(/^nodes\[2\]\.mode: /);
  });
});
