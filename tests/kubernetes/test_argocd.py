"""deploy/argocd: the Applications and the ApplicationSet validate strictly against the pinned Argo CD schemas,
point at the chart and at values files that exist and render, sync dev automatically (prune, self-heal) and
prod by hand, and the ApplicationSet, expanded as Argo CD expands it, gives exactly the two Applications."""
from __future__ import annotations

import copy
import re
import unittest

import yaml

import manifests as m
from test_chart import CHART, template
from test_manifests import validate

ARGOCD = m.ROOT / "deploy" / "argocd"


def load(name: str) -> dict:
    return yaml.safe_load((ARGOCD / name).read_text())


def merge(base: dict, patch: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in patch.items():
        out[k] = merge(out.get(k, {}), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def expand(appset: dict) -> list[dict]:
    """Each list element through the goTemplate: {{.key}} substituted, and the templatePatch's
    `{{- if .key }} ... {{- end }}` blocks kept where the element's key is true."""
    out = []
    for element in appset["spec"]["generators"][0]["list"]["elements"]:
        def fill(text: str) -> str:
            def value(match):
                key = match.group(1)
                if key not in element:  # missingkey=error
                    raise AssertionError(f"the template uses {key}, which the element lacks")
                return str(element[key])
            return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", value, text)
        app = yaml.safe_load(fill(yaml.safe_dump(appset["spec"]["template"])))
        patch = appset["spec"].get("templatePatch", "")
        patch = re.sub(r"\{\{-?\s*if\s+\.(\w+)\s*\}\}(.*?)\{\{-?\s*end\s*\}\}",
                       lambda mm: mm.group(2) if element[mm.group(1)] else "", patch, flags=re.S)
        if patch.strip():
            app = merge(app, yaml.safe_load(fill(patch)))
        out.append(app)
    return out


class ArgoCDTest(unittest.TestCase):
    def test_every_file_validates_strictly(self):
        for f in sorted(ARGOCD.glob("*.yaml")):
            with self.subTest(file=f.name):
                r = validate(f.read_text())
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_they_point_at_the_chart_and_values_that_render(self):
        for name, values in (("application-dev.yaml", "values-dev.yaml"), ("application-prod.yaml", "values-prod.yaml")):
            with self.subTest(app=name):
                source = load(name)["spec"]["source"]
                self.assertEqual(m.ROOT / source["path"], CHART)
                self.assertEqual(source["helm"]["valueFiles"], [values])
                objs = m.objects(template("-f", str(CHART / values)).stdout)
                self.assertTrue(any(o["kind"] == "Deployment" for o in objs))

    def test_dev_syncs_itself_and_prod_waits_for_a_person(self):
        dev = load("application-dev.yaml")["spec"]["syncPolicy"]
        self.assertEqual(dev["automated"], {"prune": True, "selfHeal": True})
        prod = load("application-prod.yaml")["spec"]["syncPolicy"]
        self.assertNotIn("automated", prod)
        self.assertEqual(load("application-dev.yaml")["spec"]["destination"]["namespace"], "devops-info-dev")
        self.assertEqual(load("application-prod.yaml")["spec"]["destination"]["namespace"], "devops-info")

    def test_the_applicationset_gives_the_two_applications(self):
        apps = expand(load("applicationset.yaml"))
        want = [load("application-dev.yaml"), load("application-prod.yaml")]
        self.assertEqual([a["metadata"]["name"] for a in apps], [w["metadata"]["name"] for w in want])
        for got, w in zip(apps, want):
            with self.subTest(app=w["metadata"]["name"]):
                # The two files add a retry policy for dev; everything else is the same.
                expected = copy.deepcopy(w["spec"])
                expected["syncPolicy"].pop("retry", None)
                self.assertEqual(got["spec"], expected)


if __name__ == "__main__":
    unittest.main()
