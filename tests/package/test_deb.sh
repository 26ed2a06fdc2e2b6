#!/usr/bin/env bash
# The .deb, for real: builds it with CPack from a release build, installs it
# with dpkg -i, checks its control fields, its files, that /usr/bin/devops-info
# runs and that bash, zsh and fish find its completions where they look;
# removes it with dpkg -r and checks that everything it brought is gone.
#
#   tests/package/test_deb.sh [BUILD_DIR]       (default: build/package)
#
# It needs root and changes the system while it runs (the package is removed
# again on any exit), so CI runs it as a step of its own, not from ctest.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/package}
pkg=devops-info
passed=0
failed=0

ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
check() {  # DESCRIPTION COMMAND...: passes when COMMAND succeeds
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}
installed() { dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q ' installed$'; }
finish() {
  echo "package: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

[ "$(id -u)" -eq 0 ] || { echo "FAIL: dpkg -i needs root" >&2; exit 1; }
for tool in cmake cpack dpkg dpkg-deb dpkg-shlibdeps mandoc; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (./build.sh deps installs it)" >&2; exit 1; }
done
if installed; then
  echo "FAIL: $pkg is installed already; remove it first (dpkg -r $pkg)" >&2
  exit 1
fi
[ ! -e /usr/bin/devops-info ] || { echo "FAIL: /usr/bin/devops-info exists outside the package" >&2; exit 1; }

echo "== building the .deb in $build"
log=$(mktemp)
if ! { cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEVOPS_INFO_TESTS=OFF &&
  cmake --build "$build" -j2 && rm -f "$build"/"$pkg"_*.deb && (cd "$build" && cpack -G DEB); } >"$log" 2>&1; then
  cat "$log"
  rm -f "$log"
  echo "FAIL: building the .deb failed" >&2
  exit 1
fi
rm -f "$log"
debs=("$build"/"$pkg"_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || { echo "FAIL: cpack made no single ${pkg}_*.deb" >&2; exit 1; }
deb=${debs[0]}
echo "built $deb"

echo "== control fields"
field() { dpkg-deb -f "$deb" "$1"; }
built_version=$("$build/src/cli/devops-info" --version | head -n1 | awk '{print $2}')
check "Package is $pkg" test "$(field Package)" = "$pkg"
check "Version $(field Version) is the binary's version ($built_version)" test "$(field Version)" = "$built_version"
check "Architecture is dpkg's ($(dpkg --print-architecture))" test "$(field Architecture)" = "$(dpkg --print-architecture)"
check "Maintainer has a name and an address: $(field Maintainer)" grep -Eq '^[^<]+ <[^>]+@[^>]+>$' <<<"$(field Maintainer)"
check "Section is set: $(field Section)" test -n "$(field Section)"
check "Description has a summary and a long text" test "$(field Description | wc -l)" -ge 3
check "Depends names libc6 and libstdc++6: $(field Depends)" grep -Eq 'libc6.*libstdc\+\+6|libstdc\+\+6.*libc6' <<<"$(field Depends)"
# Each library the binary links directly (DT_NEEDED) comes from a package
# that Depends names; libraries those pull in are their business.
for name in $(readelf -d "$build/src/cli/devops-info" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  lib=$(ldd "$build/src/cli/devops-info" | awk -v n="$name" '$1 == n {print $3}')
  [ -n "$lib" ] || { bad "ldd cannot find $name"; continue; }
  owner=$(dpkg -S "$(realpath "$lib")" 2>/dev/null | head -n1 | cut -d: -f1) || true
  [ -n "$owner" ] || owner=$(dpkg -S "$lib" 2>/dev/null | head -n1 | cut -d: -f1) || true
  [ -n "$owner" ] || { bad "no package owns $lib"; continue; }
  check "Depends covers $(basename "$lib") ($owner)" grep -q "\b$owner\b" <<<"$(field Depends)"
done

echo "== contents"
mapfile -t paths < <(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$')
want=(/usr/bin/devops-info
  /usr/share/man/man1/devops-info.1.gz
  /usr/share/bash-completion/completions/devops-info
  /usr/share/zsh/vendor-completions/_devops-info
  /usr/share/fish/vendor_completions.d/devops-info.fish)
for f in "${want[@]}"; do
  check "the package holds $f" grep -qxF "$f" < <(printf '%s\n' "${paths[@]}")
done
check "every path is under /usr" test -z "$(printf '%s\n' "${paths[@]}" | grep -v '^/usr\(/\|$\)')"
# What did not exist before must not exist after dpkg -r.
new_paths=()
for p in "${paths[@]}"; do [ -e "$p" ] || new_paths+=("$p"); done

echo "== dpkg -i"
scratch=$(mktemp -d)
trap 'installed && dpkg -r "$pkg" >/dev/null 2>&1; rm -rf "$scratch"; true' EXIT
if dpkg -i "$deb"; then ok "dpkg -i $(basename "$deb")"; else bad "dpkg -i $(basename "$deb")"; finish; fi
check "dpkg says $pkg is installed" installed
missing=$(dpkg -L "$pkg" | while read -r f; do [ -e "$f" ] || echo "$f"; done)
check "every file dpkg lists exists" test -z "$missing"
check "/usr/bin/devops-info is executable" test -x /usr/bin/devops-info
check "devops-info --version runs from /usr/bin (PATH=/usr/bin:/bin)" \
  bash -c "env PATH=/usr/bin:/bin devops-info --version | head -n1 | grep -qx 'devops-info $built_version'"
check "devops-info info runs: service.name" \
  test "$(env PATH=/usr/bin:/bin devops-info info --field service.name)" = "devops-info-service"
check "the man page is gzip, lint-free" bash -c "gzip -t /usr/share/man/man1/devops-info.1.gz && test -z \"\$(mandoc -Tlint /usr/share/man/man1/devops-info.1.gz 2>&1)\""
if command -v man >/dev/null; then
  check "man -w finds devops-info(1)" bash -c "man -w devops-info | grep -q /usr/share/man/man1/devops-info.1.gz"
fi
if [ -r /usr/share/bash-completion/bash_completion ]; then
  check "bash-completion loads the completion on demand" bash --norc --noprofile -c \
    'source /usr/share/bash-completion/bash_completion
     if declare -F _comp_load >/dev/null; then _comp_load devops-info; else _completion_loader devops-info; fi
     complete -p devops-info | grep -q _devops_info'
fi
if command -v zsh >/dev/null; then
  check "zsh's compinit finds _devops-info" zsh -f -c \
    'autoload -U compinit; compinit -u -D; [[ $_comps[devops-info] == _devops-info ]]'
fi
if command -v fish >/dev/null; then
  check "fish finds the completion" bash -c \
    "HOME=$scratch XDG_CONFIG_HOME=$scratch XDG_DATA_HOME=$scratch fish -c 'complete -C \"devops-info info --format \"' | cut -f1 | grep -qx env"
fi

echo "== dpkg -r"
if dpkg -r "$pkg"; then ok "dpkg -r $pkg"; else bad "dpkg -r $pkg"; fi
check "dpkg says $pkg is gone" bash -c "! dpkg-query -W -f='\${Status}' $pkg 2>/dev/null | grep -q ' installed\$'"
left=$(for p in "${new_paths[@]}"; do [ -e "$p" ] && echo "$p"; done || true)
check "everything the package brought is gone${left:+ (left: $left)}" test -z "$left"
check "/usr/bin/devops-info is gone" test ! -e /usr/bin/devops-info
finish
