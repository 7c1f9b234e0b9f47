// What every part of the CLIP model shares (the towers in clip.c, the resampler in resampler.c): weight
// lookup under the current part's prefix, shape queries, the trace hook. Both parts call in here, and
// this file calls neither.
#include <stdio.h>

#include "models/clip_internal.h"

void pc_clip_set_trace(pc_clip *clip, pc_clip_trace_fn fn, void *ctx) {
    clip->trace = fn;
    clip->trace_ctx = ctx;
}

// ---- binding -----------------------------------------------------------------------------------

// The binder sees names relative to the current part's prefix; the source gets full keys.
pc_status pc_clip_src_get(void *ctx, const char *name, int ndim, const int64_t *shape, const pc_tensor **out,
                          pc_error *err) {
    pc_clip *c = (pc_clip *)ctx;
    char key[512];
    snprintf(key, sizeof(key), "%s%s", c->prefix, name);
    return c->src_get(c->src_ctx, key, ndim, shape, out, err);
}

const pc_tensor *pc_clip_src_find(void *ctx, const char *name) {
    pc_clip *c = (pc_clip *)ctx;
    char key[512];
    snprintf(key, sizeof(key), "%s%s", c->prefix, name);
    return c->src_find(c->src_ctx, key);
}

pc_status pc_clip_shape(pc_clip *c, const char *name, int *ndim, int64_t *shape, pc_error *err) {
    const pc_tensor *t = pc_clip_src_find(c, name);
    if (!t) return pc_err(err, PC_ERR_NOT_FOUND, "tensor '%s%s' is missing", c->prefix, name);
    *ndim = t->ndim;
    for (int i = 0; i < t->ndim && i < PC_MAX_DIMS; i++) shape[i] = t->shape[i];
    return PC_OK;
}
