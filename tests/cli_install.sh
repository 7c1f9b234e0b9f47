#!/usr/bin/env bash
# Install test: `cmake --install` of this build into a temporary prefix, then
# programs outside the tree use it the two ways the README documents:
# pkg-config (shared and --static) and CMake's find_package(posecrafter).
# The consumer opens a checkpoint and prints its parameter count.
# $1 = posecrafter binary, $2 = shared dir.
set -u
BIN=$1
SHARED=$2
. "$(dirname "$0")/lib_cli.sh"
BUILD=${PC_BUILD_DIR:-$(dirname "$BIN")}
CK="$SHARED/golden/dust3r/tiny.pth"
if [ ! -f "$CK" ]; then
    if [ "${CI:-}" = true ]; then echo "FAIL: $CK missing under CI"; exit 1; fi
    echo "skip: $CK not found"; exit 77
fi
command -v pkg-config >/dev/null || { echo "FAIL: pkg-config not installed (scripts/setup.sh installs it)"; exit 1; }
CC=${CC:-cc}
SAN=()
[ "${PC_SANITIZE:-OFF}" = ON ] && SAN=(-fsanitize=address,undefined)

P=$tmp/prefix
cmake --install "$BUILD" --prefix "$P" >"$tmp/install.log" 2>&1; rc=$?
check "cmake --install into a temporary prefix" test $rc = 0
check "installs the posecrafter binary" test -x "$P/bin/posecrafter"
check "installs the headers" test -f "$P/include/posecrafter.h" -a -f "$P/include/posecrafter/io.h"
pc=$(find "$P" -name posecrafter.pc | head -1)
check "installs posecrafter.pc" test -n "$pc"
check "installs the static library" bash -c "find '$P' -name libposecrafter.a | grep -q ."
if [ "${PC_SHARED_BUILT:-OFF}" = ON ]; then
    check "installs the shared library" bash -c "find '$P' -name 'libposecrafter.so*' | grep -q ."
fi
check "installs the CMake package" bash -c "find '$P' -name posecrafterConfig.cmake | grep -q ."
libdir=$(dirname "$(find "$P" -name libposecrafter.a | head -1)")

cat >"$tmp/count.c" <<'EOF'
#include <posecrafter.h>
#include <stdio.h>
int main(int argc, char **argv) {
    pc_error err;
    pc_checkpoint *ck;
    if (argc < 2 || pc_checkpoint_open(&ck, argv[1], &err) != PC_OK) return fprintf(stderr, "%s\n", argc < 2 ? "usage" : err.msg), 1;
    long long n = 0;
    for (size_t i = 0; i < pc_checkpoint_count(ck); i++) n += pc_tensor_numel(pc_checkpoint_tensor(ck, i));
    printf("parameters: %lld\n", n);
    pc_checkpoint_close(ck);
    return 0;
}
EOF
want=$("$P/bin/posecrafter" info "$CK" | awk '/^parameters:/ { print $2 }')
check "the installed binary runs (info: $want parameters)" test -n "$want"
export PKG_CONFIG_PATH="$(dirname "$pc")"

if [ "${PC_SHARED_BUILT:-OFF}" = ON ]; then
    flags=$(pkg-config --cflags --libs posecrafter)
    echo "pkg-config --cflags --libs posecrafter: $flags"
    $CC -std=c11 -Wall -Wextra -Werror "$tmp/count.c" -o "$tmp/count" $flags 2>"$tmp/cc.log"; rc=$?
    cat "$tmp/cc.log"
    check "a consumer builds with pkg-config --cflags --libs" test $rc = 0
    got=$(LD_LIBRARY_PATH="$libdir" "$tmp/count" "$CK"); echo "$got"
    check "it links the shared library" bash -c "LD_LIBRARY_PATH='$libdir' ldd '$tmp/count' | grep -q '$libdir/libposecrafter.so'"
    check "it prints the checkpoint's parameter count" test "$got" = "parameters: $want"
fi
flags=$(pkg-config --static --cflags --libs posecrafter)
echo "pkg-config --static --cflags --libs posecrafter: $flags"
# The static archive has to come first on the command line; -l:libposecrafter.a picks it over the .so.
sflags=${flags/-lposecrafter/-l:libposecrafter.a}
$CC -std=c11 -Wall -Wextra -Werror "${SAN[@]}" "$tmp/count.c" -o "$tmp/count_static" $sflags 2>"$tmp/cc2.log"; rc=$?
cat "$tmp/cc2.log"
check "a consumer links the static library with pkg-config --static" test $rc = 0
got=$("$tmp/count_static" "$CK"); echo "$got"
check "the static consumer prints the parameter count" test "$got" = "parameters: $want"

# CMake: find_package(posecrafter) from the prefix
mkdir -p "$tmp/cm"
cp "$tmp/count.c" "$tmp/cm/count.c"
cat >"$tmp/cm/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(count C)
find_package(posecrafter 0.1 REQUIRED)
add_executable(count count.c)
target_compile_options(count PRIVATE ${SAN[@]})
target_link_options(count PRIVATE ${SAN[@]})
target_link_libraries(count PRIVATE posecrafter::posecrafter)
EOF
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$P" >"$tmp/cm.log" 2>&1 &&
    cmake --build "$tmp/cm/build" >>"$tmp/cm.log" 2>&1; rc=$?
[ $rc = 0 ] || cat "$tmp/cm.log"
check "a CMake consumer builds with find_package(posecrafter)" test $rc = 0
got=$(LD_LIBRARY_PATH="$libdir" "$tmp/cm/build/count" "$CK"); echo "$got"
check "the CMake consumer prints the parameter count" test "$got" = "parameters: $want"

echo "$fail failed"
[ "$fail" = 0 ]
