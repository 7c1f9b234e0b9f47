#!/usr/bin/env bash
# Run HERE (not on the device machine) before the one device call of scripts/gpu_check.sh: it collects what
# that check needs but what does not travel with the checkout into build-gpu-carry/ (git-ignored, ~24 MB):
#   shared/golden/dust3r/{tiny,pair}.safetensors  the DUSt3R goldens (the ../shared beside the checkout stays)
#   shared/golden/dynamicrafter/clip_tiny.* ...    the CLIP / Resampler goldens test_clip reads
#   deps/{include,lib}  libpng / libjpeg / zlib / cJSON headers and shared libraries of this machine, used by
#                       gpu_check.sh only when the device image lacks them (its CMake configure fails otherwise)
# Then, with the device tool:
#   run(command="bash scripts/gpu_check.sh", carry=["build-gpu-carry"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/.."
C=build-gpu-carry
S=${PC_SHARED_DIR:-$PWD/../shared}
rm -rf "$C"
mkdir -p "$C/shared/golden/dust3r" "$C/deps/include/cjson" "$C/deps/lib"
cp "$S/golden/dust3r/tiny.safetensors" "$S/golden/dust3r/pair.safetensors" "$C/shared/golden/dust3r/"
mkdir -p "$C/shared/golden/dynamicrafter"  # test_clip on the GPU: CLIP / Resampler goldens, ~28 MB
for f in clip_tiny.ckpt clip_tiny.safetensors bpe_simple_vocab_16e6.txt.gz ddim.safetensors viewcrafter_ddim.safetensors; do
    cp "$S/golden/dynamicrafter/$f" "$C/shared/golden/dynamicrafter/"
done
A=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
for h in png.h pngconf.h pnglibconf.h jpeglib.h jerror.h jmorecfg.h jconfig.h zlib.h zconf.h; do
    f=$(ls /usr/include/$h /usr/include/$A/$h /usr/include/libpng16/$h 2>/dev/null | head -1 || true)
    [ -n "$f" ] && cp -L "$f" "$C/deps/include/" || echo "gpu_prepare: header $h not found (fallback deps incomplete)"
done
cp -L /usr/include/cjson/cJSON.h "$C/deps/include/cjson/" || echo "gpu_prepare: cJSON.h not found"
for l in libpng16.so.16 libjpeg.so.62 libz.so.1 libcjson.so.1; do
    f=$(ls /usr/lib/$A/$l /lib/$A/$l 2>/dev/null | head -1 || true)
    [ -n "$f" ] && cp -L "$f" "$C/deps/lib/" || echo "gpu_prepare: $l not found (fallback deps incomplete)"
done
du -sh "$C"
echo 'next: run(command="bash scripts/gpu_check.sh", carry=["build-gpu-carry"], timeout_s=540)'
