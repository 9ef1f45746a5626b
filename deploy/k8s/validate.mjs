#!/usr/bin/env node
// Offline validation of rendered Kubernetes manifests (multi-document YAML on stdin), with no cluster and no
// network: every object is checked against the Kubernetes OpenAPI schemas compiled into the npm package
// kubernetes-models, plus what `kubectl apply` (strict field validation) and the API server would reject but
// those schemas do not: unknown fields, missing or malformed names, invalid labels and port names, duplicates.
//
//   kubectl kustomize deploy/k8s/overlays/dev | node deploy/k8s/validate.mjs [--json]
//
// The packages are installed by `deploy/k8s/validate.sh --install` into <repo>/.cache/k8s-validate (override with
// CODEXLB_K8S_VALIDATE_DIR). Exit code: 0 all valid, 1 invalid (or unparsable) input, 3 packages missing.
// --json prints {"valid","errors":[{"index","kind","name","message"}],"objects":[...]} on stdout (the objects
// as parsed, for callers that check more), otherwise one line per object and per error.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const cacheDir = process.env.CODEXLB_K8S_VALIDATE_DIR || resolve(here, "..", "..", ".cache", "k8s-validate");
const modules = join(cacheDir, "node_modules");
const json = process.argv.includes("--json");

for (const pkg of ["kubernetes-models", "yaml", "@kubernetes-models/apimachinery"]) {
  if (!existsSync(join(modules, pkg, "package.json"))) {
    process.stderr.write(`validate.mjs: the npm package "${pkg}" is not installed in ${modules}.\n` +
      `Run: deploy/k8s/validate.sh --install\n`);
    process.exit(3);
  }
}

const yamlModule = await import(pathToFileURL(join(modules, "yaml", "dist", "index.js")).href);
const YAML = yamlModule.default ?? yamlModule;
const models = await import(pathToFileURL(join(modules, "kubernetes-models", "index.js")).href);

// apiVersion/kind -> model class (each has static apiVersion and kind, and validate() against its schema).
const classes = new Map();
(function collect(ns, depth) {
  for (const value of Object.values(ns)) {
    if (typeof value === "function" && typeof value.apiVersion === "string" && typeof value.kind === "string")
      classes.set(`${value.apiVersion}/${value.kind}`, value);
    else if (value && typeof value === "object" && depth < 3) collect(value, depth + 1);
  }
})(models, 0);

// ---- Known fields, read from the package's TypeScript declarations (the same OpenAPI definitions). ----------
// The compiled JSON-schema validators accept unknown properties; kubectl's strict validation does not.

const declarations = new Map(); // .d.ts path -> { open, props: Map<name, type> } | null (no interface: a leaf)

function resolveImport(fromFile, spec) {
  const base = spec.startsWith(".") ? resolve(dirname(fromFile), spec) : join(modules, spec);
  const file = base.replace(/\.js$/, "") + ".d.ts";
  return existsSync(file) ? file : null;
}

function splitTopLevel(body) {
  // Yields [name, optional, typeText] for each property at brace depth 0; reports index signatures.
  const props = [];
  let open = false;
  let i = 0;
  while (i < body.length) {
    const rest = body.slice(i);
    const prop = /^\s*"([^"]+)"\??:\s*/.exec(rest);
    const index = /^\s*\[key: string\]:\s*/.exec(rest);
    const match = prop ?? index;
    if (!match) { i++; continue; }
    i += match[0].length;
    let depth = 0;
    let start = i;
    for (; i < body.length; i++) {
      const c = body[i];
      if (c === "{" || c === "<" || c === "(") depth++;
      else if (c === "}" || c === ">" || c === ")") depth--;
      else if (c === ";" && depth === 0) break;
    }
    if (prop) props.push([prop[1], body.slice(start, i).trim()]);
    else open = true;
    i++;
  }
  return { open, props };
}

function parseType(text, file, imports) {
  text = text.trim();
  let m;
  if ((m = /^Array<([\s\S]+)>$/.exec(text))) return { array: parseType(m[1], file, imports) };
  if ((m = /^\{\s*\[key: string\]:\s*([\s\S]+?);?\s*\}$/.exec(text))) return { map: parseType(m[1], file, imports) };
  if (/^\w+$/.test(text) && imports.has(text)) return { ref: imports.get(text) };
  return {}; // scalar, literal union, IntOrString, Quantity, ...: the schema validator checks those
}

function declaration(file) {
  if (!file) return null;
  if (declarations.has(file)) return declarations.get(file);
  declarations.set(file, null);
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const imports = new Map();
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
    const target = resolveImport(file, m[2]);
    for (const part of m[1].split(",")) {
      const name = part.trim().split(/\s+as\s+/).pop();
      if (name && target) imports.set(name, target);
    }
  }
  const head = /export interface \w+(?:\s+extends\s+[^{]+)?\s*\{/.exec(text);
  if (!head) return null;
  let depth = 1;
  let end = head.index + head[0].length;
  for (; end < text.length && depth > 0; end++) {
    if (text[end] === "{") depth++;
    else if (text[end] === "}") depth--;
  }
  const { open, props } = splitTopLevel(text.slice(head.index + head[0].length, end - 1));
  const result = { open, props: new Map(props.map(([name, type]) => [name, parseType(type, file, imports)])) };
  declarations.set(file, result);
  return result;
}

function unknownFields(value, type, path, errors) {
  if (value === null || value === undefined) return;
  if (type.array) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, type.array, `${path}[${i}]`, errors));
  } else if (type.map) {
    if (typeof value === "object" && !Array.isArray(value))
      for (const [k, v] of Object.entries(value)) unknownFields(v, type.map, `${path}[${JSON.stringify(k)}]`, errors);
  } else if (type.ref) {
    const decl = declaration(type.ref);
    if (!decl || decl.open || typeof value !== "object" || Array.isArray(value)) return;
    for (const [k, v] of Object.entries(value)) {
      const child = decl.props.get(k);
      if (!child) errors.push(`${path ? path + "." : ""}${k}: unknown field "${k}"`);
      else unknownFields(v, child, path ? `${path}.${k}` : k, errors);
    }
  }
}

// ---- What the API server rejects beyond the schemas. --------------------------------------------------------

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const labelNameKinds = new Set(["Namespace", "Service"]); // names that must be DNS-1123 labels, not subdomains

function checkLabels(labels, path, errors) {
  if (!labels || typeof labels !== "object") return;
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf("/");
    const prefix = slash >= 0 ? key.slice(0, slash) : "";
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if ((prefix && (prefix.length > 253 || !dns1123Subdomain.test(prefix))) || name.length > 63 || !labelName.test(name))
      errors.push(`${path}: invalid label key "${key}"`);
    if (typeof value !== "string" || value.length > 63 || !labelValue.test(value))
      errors.push(`${path}["${key}"]: invalid label value ${JSON.stringify(value)}`);
  }
}

function walkPodSpecs(obj, visit) {
  (function walk(node, path) {
    if (!node || typeof node !== "object") return;
    if (Array.isArray(node)) return node.forEach((v, i) => walk(v, `${path}[${i}]`));
    if (Array.isArray(node.containers) && path.endsWith("spec")) visit(node, path);
    for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
  })(obj, "");
}

function semanticErrors(obj) {
  const errors = [];
  const meta = obj.metadata ?? {};
  if (typeof meta.name !== "string" || meta.name.length === 0) errors.push("metadata.name: required");
  else if (labelNameKinds.has(obj.kind) ? meta.name.length > 63 || !dns1123Label.test(meta.name)
                                        : meta.name.length > 253 || !dns1123Subdomain.test(meta.name))
    errors.push(`metadata.name: "${meta.name}" is not a valid ${labelNameKinds.has(obj.kind) ? "DNS-1123 label" : "DNS-1123 subdomain"}`);
  checkLabels(meta.labels, "metadata.labels", errors);
  checkLabels(obj.spec?.template?.metadata?.labels, "spec.template.metadata.labels", errors);
  checkLabels(obj.spec?.selector?.matchLabels, "spec.selector.matchLabels", errors);
  walkPodSpecs(obj, (pod, path) => {
    const names = new Set();
    for (const [list, items] of [["initContainers", pod.initContainers ?? []], ["containers", pod.containers]]) {
      items.forEach((c, i) => {
        const at = `${path}.${list}[${i}]`;
        if (!c?.name || !dns1123Label.test(c.name)) errors.push(`${at}.name: invalid container name ${JSON.stringify(c?.name)}`);
        else if (names.has(c.name)) errors.push(`${at}.name: duplicate container name "${c.name}"`);
        names.add(c?.name);
        for (const [j, p] of (c?.ports ?? []).entries())
          if (p?.name !== undefined && (p.name.length > 15 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p.name) || !/[a-z]/.test(p.name) || p.name.includes("--")))
            errors.push(`${at}.ports[${j}].name: "${p.name}" is not a valid port name (IANA_SVC_NAME, at most 15 characters)`);
      });
    }
  });
  if (obj.spec?.selector?.matchLabels && obj.spec?.template?.metadata?.labels)
    for (const [k, v] of Object.entries(obj.spec.selector.matchLabels))
      if (obj.spec.template.metadata.labels[k] !== v)
        errors.push(`spec.selector.matchLabels: "${k}=${v}" does not match the pod template's labels`);
  return errors;
}

// ---- Main. -------------------------------------------------------------------------------------------------

const input = readFileSync(0, "utf8");
const report = { valid: true, errors: [], objects: [] };
const fail = (index, obj, message) => {
  report.valid = false;
  report.errors.push({ index, kind: obj?.kind ?? null, name: obj?.metadata?.name ?? null, namespace: obj?.metadata?.namespace ?? null, message });
};

const documents = YAML.parseAllDocuments(input, { uniqueKeys: true });
const seen = new Set();
let index = 0;
for (const doc of Array.isArray(documents) ? documents : [documents]) {
  if (doc.errors?.length) {
    for (const e of doc.errors) fail(index, null, `YAML: ${e.message}`);
    index++;
    continue;
  }
  const obj = doc.toJS({ maxAliasCount: 100 });
  if (obj === null || obj === undefined) continue; // empty document
  report.objects.push(obj);
  if (typeof obj !== "object" || Array.isArray(obj)) { fail(index++, null, "not a Kubernetes object (a YAML mapping)"); continue; }
  const Model = classes.get(`${obj.apiVersion}/${obj.kind}`);
  if (!Model) { fail(index++, obj, `unknown apiVersion/kind "${obj.apiVersion}/${obj.kind}" (not in the Kubernetes schemas)`); continue; }
  try {
    new Model(obj).validate();
  } catch (e) {
    const details = Array.isArray(e.errors) && e.errors.length
      ? e.errors.map(x => `${(x.instancePath || "/").slice(1).replaceAll("/", ".").replace(/\.(\d+)(?=\.|$)/g, "[$1]") || "(object)"}: ${x.message}`)
      : [e.message];
    for (const d of details) fail(index, obj, `schema: ${d}`);
  }
  const unknown = [];
  const declFile = join(modules, "kubernetes-models", obj.apiVersion, `${obj.kind}.d.ts`);
  if (existsSync(declFile)) unknownFields(obj, { ref: declFile }, "", unknown);
  for (const u of unknown) fail(index, obj, `strict: ${u}`);
  for (const s of semanticErrors(obj)) fail(index, obj, s);
  const id = `${obj.apiVersion?.split("/").length > 1 ? obj.apiVersion.split("/")[0] : ""}/${obj.kind}/${obj.metadata?.namespace ?? ""}/${obj.metadata?.name}`;
  if (seen.has(id)) fail(index, obj, "duplicate object (same group, kind, namespace and name)");
  seen.add(id);
  index++;
}
if (report.objects.length === 0 && report.errors.length === 0) fail(0, null, "no objects in the input");

if (json) {
  process.stdout.write(JSON.stringify(report));
} else {
  for (const o of report.objects)
    if (o && typeof o === "object") process.stdout.write(`object ${o.apiVersion}/${o.kind} ${o.metadata?.namespace ? o.metadata.namespace + "/" : ""}${o.metadata?.name}\n`);
  for (const e of report.errors)
    process.stderr.write(`INVALID #${e.index} ${e.kind ?? "?"} ${e.name ?? "?"}: ${e.message}\n`);
  process.stdout.write(`${report.objects.length} objects, ${report.errors.length} errors\n`);
}
process.exit(report.valid ? 0 : 1);
