#!/usr/bin/env bash
# Prints the CMake flags that hide every optional package from the build, as on a
# fresh Debian machine that has only the required ones (scripts/setup.sh):
#   scripts/test.sh build-fresh $(scripts/fresh_flags.sh)     # what .ci/run does
# The list is read from CMakeLists.txt itself: every find_package() without
# REQUIRED is optional and gets -DCMAKE_DISABLE_FIND_PACKAGE_<Pkg>=ON. A probe
# that such a flag cannot hide (find_library / find_path / find_program /
# pkg_check_modules outside a cmake/Find*.cmake module, not REQUIRED) is an
# error here, so a new optional dependency cannot slip past CI's fresh build.
set -euo pipefail
cd "$(dirname "$0")/.."
code() { sed 's/#.*//' "$1"; }  # CMake without comments
bad=$(code CMakeLists.txt | grep -nE '\b(find_library|find_path|find_program|find_file|pkg_check_modules|pkg_search_module)\(' |
      grep -v REQUIRED || true)
if [ -n "$bad" ]; then
    echo "fresh_flags.sh: optional probes in CMakeLists.txt that CMAKE_DISABLE_FIND_PACKAGE cannot hide" >&2
    echo "(move each into a cmake/Find<Pkg>.cmake module and call find_package(<Pkg>)):" >&2
    echo "$bad" >&2
    exit 1
fi
pkgs=$(code CMakeLists.txt | grep -oE '\bfind_package\([A-Za-z0-9_]+[^)]*\)' | grep -v REQUIRED |
       sed -E 's/find_package\(([A-Za-z0-9_]+).*/\1/' | sort -u)
flags="-DPC_FUZZ=OFF"
for p in $pkgs; do flags="$flags -DCMAKE_DISABLE_FIND_PACKAGE_$p=ON"; done
echo "$flags"
