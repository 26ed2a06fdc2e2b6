// Validates Kubernetes objects (YAML documents on stdin, as `kubectl
// kustomize` or `helm template` print them) against the Kubernetes,
// prometheus-operator, Argo Rollouts, Argo CD, Gateway API and cert-manager OpenAPI schemas of the pinned kubernetes-models packages, strictly:
// a field the schema does not know (a misspelt `livenesProbe`) is an error.
//
//   kubectl kustomize deploy/kubernetes/overlays/prod | node validate.mjs
//
// Prints one line per object and exits 1 if any is invalid.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// The compiled validators of kubernetes-models ignore properties they do not
// know (the OpenAPI schemas do not close objects). So each field is probed:
// a known field rejects at least one of these values of the wrong type at its
// own path; a field nothing checks accepts them all, and is unknown.
const PROBES = [12345, "x", true, [], {}, null];

async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const packages = {
    "monitoring.coreos.com": ["@kubernetes-models/prometheus-operator"],
    "argoproj.io": ["@kubernetes-models/argo-rollouts", "@kubernetes-models/argo-cd"],
    "gateway.networking.k8s.io": ["@kubernetes-models/gateway-api"],
    "cert-manager.io": ["@kubernetes-models/cert-manager"],
  };
  const candidates = packages[group]
    ? packages[group].map((p) => `${p}/${group}/${version}/${kind}`)
    : [group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`];
  for (const spec of candidates) {
    try {
      const mod = await import(spec);
      if (mod[kind]) return mod[kind];
    } catch {
      // not a kind this package has
    }
  }
  return null;
}

function errorsOf(Model, data) {
  try {
    new Model(data).validate();
    return [];
  } catch (e) {
    if (!Array.isArray(e.errors)) throw e;
    return e.errors;
  }
}

const escape = (key) => String(key).replace(/~/g, "~0").replace(/\//g, "~1");

// Values the schemas leave free on purpose (x-kubernetes-preserve-unknown-fields):
// an ApplicationSet's list elements are the template's parameters.
const FREE_FORM = {
  ApplicationSet: [/^\/spec\/generators\/\d+\/list\/elements\/\d+$/],
};

// Paths (JSON pointers) of fields that no schema checks.
function unknownFields(Model, root) {
  const free = FREE_FORM[root.kind] ?? [];
  const unknown = [];
  const walk = (node, path) => {
    if (Array.isArray(node)) {
      node.forEach((child, i) => walk(child, [...path, i]));
      return;
    }
    if (node === null || typeof node !== "object") return;
    if (free.some((re) => re.test("/" + path.map(escape).join("/")))) return;
    for (const key of Object.keys(node)) {
      if (path.length === 0 && (key === "apiVersion" || key === "kind")) continue;
      const here = "/" + [...path, key].map(escape).join("/");
      const original = node[key];
      let checked = false;
      for (const probe of PROBES) {
        node[key] = probe;
        const errs = errorsOf(Model, root);
        if (errs.some((e) => e.instancePath === here || e.instancePath.startsWith(here + "/"))) {
          checked = true;
          break;
        }
      }
      node[key] = original;
      if (!checked) {
        unknown.push(here);
      } else {
        walk(original, [...path, key]);
      }
    }
  };
  walk(root, []);
  return unknown;
}

// A map's keys (labels, annotations, selectors) are data, not fields: the
// probe still finds them checked (their values must be strings), so they pass.

const input = readFileSync(0, "utf8");
let failed = 0;
let count = 0;
for (const doc of parseAllDocuments(input)) {
  if (doc.errors.length) {
    console.log(`FAIL: YAML: ${doc.errors[0].message}`);
    failed++;
    continue;
  }
  const obj = doc.toJS();
  if (obj === null) continue;
  count++;
  const name = `${obj.kind}/${obj.metadata?.name ?? "?"}`;
  const Model = await modelFor(obj.apiVersion ?? "", obj.kind ?? "");
  if (!Model) {
    console.log(`FAIL: ${name}: no schema for apiVersion ${obj.apiVersion} kind ${obj.kind}`);
    failed++;
    continue;
  }
  const errs = errorsOf(Model, obj);
  const unknown = errs.length ? [] : unknownFields(Model, obj);
  if (errs.length) {
    console.log(`FAIL: ${name}: ` + errs.map((e) => `${e.instancePath || "/"} ${e.message}`).join("; "));
    failed++;
  } else if (unknown.length) {
    console.log(`FAIL: ${name}: unknown field(s) ${unknown.join(", ")}`);
    failed++;
  } else {
    console.log(`ok: ${name} (${obj.apiVersion})`);
  }
}
if (count === 0) {
  console.log("FAIL: no objects on stdin");
  failed++;
}
process.exit(failed ? 1 : 0);
