// Validates rendered Kubernetes manifests with kubernetes-models. Used by deploy.unit.spec.ts.
// It is a separate ES module because kubernetes-models ships ES modules only, which the jest
// setup (swc to CommonJS) cannot require.
//
//   kubectl kustomize k8s/overlays/local | node test/deploy/validate-k8s.mjs
//
// Prints JSON: [{ ref: "Kind/namespace/name", errors: ["..."] }], one entry per object, and exits
// 0; the caller decides. Two checks per object:
//   1. the model's own validate() (the OpenAPI schema: types, required fields, formats);
//   2. unknown fields, which validate() lets through (a misspelt `readinessprobe`, or `fsGroup`
//      on a container rather than the pod, would otherwise pass). The allowed fields come from
//      the interfaces in kubernetes-models' type declarations.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

async function validateObject(object) {
  const { apiVersion = '', kind = '', metadata = {} } = object;
  const ref = `${kind}/${metadata.namespace ?? ''}/${metadata.name ?? ''}`;
  // "v1" is the core group; "apps/v1", "policy/v1", "batch/v1", ... are named groups.
  const specifier = `kubernetes-models/${apiVersion}/${kind}`;
  let Model;
  try {
    Model = (await import(specifier))[kind];
  } catch {
    Model = undefined;
  }
  if (typeof Model !== 'function') return { ref, errors: [`no kubernetes-models model for ${apiVersion} ${kind}`] };
  const errors = [];
  try {
    new Model(withoutBase64LineBreaks(object)).validate();
  } catch (error) {
    errors.push(`schema: ${error instanceof Error ? error.message : String(error)}`);
  }
  const declaration = fileURLToPath(import.meta.resolve(specifier)).replace(/\.js$/, '.d.ts');
  unknownFields(object, typeIn(declaration, `I${kind}`), kind, errors);
  return { ref, errors };
}

/**
 * kustomize wraps long base64 values (Secret data) at 70 characters. The API server decodes them
 * as Go's encoding/base64 does, ignoring line breaks; the schema's "byte" format does not.
 */
function withoutBase64LineBreaks(object) {
  const strip = (map) => map && Object.fromEntries(Object.entries(map).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v]));
  if (object.kind === 'Secret' && object.data) return { ...object, data: strip(object.data) };
  if (object.kind === 'ConfigMap' && object.binaryData) return { ...object, binaryData: strip(object.binaryData) };
  return object;
}

// --- unknown fields, from the type declarations ---------------------------------------------

const files = new Map();

/** The interfaces, import bindings and re-export aliases of one .d.ts file. */
function declarations(file) {
  let parsed = files.get(file);
  if (parsed) return parsed;
  const text = readFileSync(file, 'utf8');
  const imports = new Map();
  for (const [, names, from] of text.matchAll(/^import \{([^}]+)\} from "([^"]+)";$/gm)) {
    const target = from.startsWith('.') ? resolve(dirname(file), from) : fileURLToPath(import.meta.resolve(from));
    for (const name of names
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean))
      imports.set(name, target.replace(/\.js$/, '.d.ts'));
  }
  const aliases = new Map();
  for (const [, list] of text.matchAll(/^export type \{([^}]+)\};$/gm)) {
    for (const part of list.split(',')) {
      const [local, alias] = part.split(' as ').map((s) => s.trim());
      if (alias) aliases.set(alias, local);
    }
  }
  const interfaces = new Map();
  for (const [, name, extendsList, body] of text.matchAll(/^export interface (\w+)(?: extends ([\w, ]+))? \{\n([\s\S]*?)^\}$/gm)) {
    const props = new Map();
    // Top-level members only: four spaces of indentation in the generated declarations.
    for (const [, prop, type] of body.matchAll(/^ {4}"([^"]+)"\??: (.*?);?$/gm)) {
      const array = /^Array<(\w+)>$/.exec(type);
      props.set(prop, array ? { array: true, type: array[1] } : { array: false, type: /^\w+$/.test(type) ? type : undefined });
    }
    if (extendsList?.includes('TypeMeta')) {
      props.set('apiVersion', { array: false });
      props.set('kind', { array: false });
    }
    interfaces.set(name, props);
  }
  parsed = { imports, aliases, interfaces };
  files.set(file, parsed);
  return parsed;
}

/** Where an interface named `name`, as seen from `file`, is declared; undefined = opaque type. */
function typeIn(file, name) {
  const d = declarations(file);
  const local = d.aliases.get(name) ?? name;
  if (d.interfaces.has(local)) return { file, name: local };
  if (d.imports.has(name)) return typeIn(d.imports.get(name), name);
  return undefined; // string, number, IntOrString, Quantity, maps: nothing to descend into
}

function unknownFields(value, type, path, errors) {
  if (!type || value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const props = declarations(type.file).interfaces.get(type.name);
  for (const [key, child] of Object.entries(value)) {
    const prop = props.get(key);
    if (!prop) {
      errors.push(`${path}.${key}: unknown field`);
      continue;
    }
    const childType = prop.type ? typeIn(type.file, prop.type) : undefined;
    if (prop.array && Array.isArray(child)) child.forEach((item, i) => unknownFields(item, childType, `${path}.${key}[${i}]`, errors));
    else if (!prop.array) unknownFields(child, childType, `${path}.${key}`, errors);
  }
}

// --- main (last: the helpers above use module-level state) ------------------------------------

const input = readFileSync(0, 'utf8');
const results = [];
for (const doc of parseAllDocuments(input)) {
  if (doc.errors.length) {
    results.push({ ref: '(yaml)', errors: doc.errors.map((e) => e.message) });
    continue;
  }
  const object = doc.toJS();
  if (object == null) continue;
  results.push(await validateObject(object));
}
process.stdout.write(JSON.stringify(results));
