"""Every relative link in the README and in docs/ leads somewhere: the file
or directory exists, and a #fragment names a heading of that Markdown file
(as GitHub makes anchors of headings). The README stays a front page of at
most 300 lines. Needs no build: it reads the repository only."""
import os
import re
import tempfile
import unittest

ROOT = os.environ.get("DEVOPS_INFO_SOURCE_DIR") or os.path.normpath(os.path.join(os.path.dirname(__file__), "../.."))
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")


def pages():
    yield os.path.join(ROOT, "README.md")
    docs = os.path.join(ROOT, "docs")
    for name in sorted(os.listdir(docs)):
        if name.endswith(".md"):
            yield os.path.join(docs, name)


def without_code(text):
    """The text outside fenced blocks and inline code, where links live."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(path):
    """GitHub's anchors of a Markdown file's headings (with -1, -2 for repeats)."""
    seen, out = {}, set()
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"^```.*?^```", "", f.read(), flags=re.S | re.M)
    for m in re.finditer(r"^#{1,6} (.*)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def relative_links(path):
    with open(path, encoding="utf-8") as f:
        text = without_code(f.read())
    for m in LINK.finditer(text):
        target = m.group(1) or m.group(2)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: are not ours to check
            yield target


def broken(page):
    """The relative links of `page` that lead nowhere, each with why."""
    out = []
    for target in relative_links(page):
        file, _, fragment = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(page), file)) if file else page
        if not os.path.exists(dest):
            out.append(f"{target}: no such file")
        elif fragment and not dest.endswith(".md"):
            out.append(f"{target}: a fragment of a file that is not Markdown")
        elif fragment and fragment not in anchors(dest):
            out.append(f"{target}: no such heading")
    return out


class LinkTest(unittest.TestCase):
    def test_every_relative_link_resolves(self):
        checked = 0
        for page in pages():
            checked += len(list(relative_links(page)))
            with self.subTest(page=os.path.relpath(page, ROOT)):
                self.assertEqual(broken(page), [])
        self.assertGreater(checked, 30)  # the pattern finds the links there are

    def test_the_readme_is_a_front_page_with_pages_behind_it(self):
        with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        self.assertLessEqual(readme.count("\n"), 300)
        linked = {t.partition("#")[0] for t in relative_links(os.path.join(ROOT, "README.md"))}
        docs = {f"docs/{n}" for n in os.listdir(os.path.join(ROOT, "docs")) if n.endswith(".md")}
        self.assertGreaterEqual(len(docs), 4)
        self.assertEqual(docs - linked, set(), "pages of docs/ the README does not link to")

    def test_the_checker_sees_what_is_broken(self):
        with tempfile.TemporaryDirectory() as d:
            page = os.path.join(d, "page.md")
            with open(page, "w", encoding="utf-8") as f:
                f.write("# Title\n\n## Two words\n\n## Two words\n\n"
                        "[ok](#two-words) [ok](#two-words-1) [ok](page.md#title) [web](https://x.invalid/y)\n"
                        "`[in code](nowhere.md)`\n```\n[in a block](nowhere.md)\n```\n"
                        "[gone](missing.md) [bad](#three-words) [bad](page.md#nope) [`code`](missing/)\n")
            self.assertEqual(broken(page), ["missing.md: no such file", "#three-words: no such heading",
                                            "page.md#nope: no such heading", "missing/: no such file"])


if __name__ == "__main__":
    unittest.main()
